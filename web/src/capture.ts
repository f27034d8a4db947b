/**
 * Audio capture for a recording: the microphone, a tab's/screen's audio (getDisplayMedia), or both
 * mixed in Web Audio (MediaStreamAudioSourceNode(s) → MediaStreamAudioDestinationNode), with an
 * AnalyserNode on the mix for the level meter. The mixed stream is what the page encodes (encoding.ts).
 */

export interface CaptureOptions {
  microphone: boolean;
  display: boolean;
  /**
   * The mix's sample rate (the browser resamples the sources to it); the browser's default when absent.
   * The edge encoder wants the stored format's 16 kHz.
   */
  sampleRate?: number;
}

export interface Capture {
  /** The mixed audio to record. */
  stream: MediaStream;
  /** Current level, 0 (silence, ≤ −60 dBFS) to 1 (full scale). */
  level(): number;
  /** Which sources are still live. */
  sources(): { microphone: boolean; display: boolean };
  /** Fires when a source ends by itself (sharing stopped, microphone unplugged). */
  onSourceEnded: (kind: 'microphone' | 'display', remaining: number) => void;
  close(): void;
}

/** A capture failure with a message for people. */
export class CaptureError extends Error {
  override name = 'CaptureError';
}

/** The formats the server accepts, best first (Opus in WebM is what Chromium and Firefox record). */
const MIME_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4;codecs=opus', 'audio/mp4'];

export function pickMimeType(): string | undefined {
  if (typeof MediaRecorder === 'undefined') return undefined;
  return MIME_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
}

/** Why recording can't work in this browser at all, or null. */
export function recordingUnsupportedReason(): string | null {
  if (!window.isSecureContext) {
    return 'Recording needs a secure page: open Earshot over HTTPS (or on localhost).';
  }
  if (!navigator.mediaDevices?.getUserMedia) return "This browser can't capture audio.";
  if (typeof MediaRecorder === 'undefined' || !pickMimeType()) {
    return "This browser can't record audio in a format Earshot accepts (Opus or MP4). Try a current Chrome, Edge, Firefox or Safari.";
  }
  return null;
}

export const displayCaptureSupported = (): boolean => typeof navigator.mediaDevices?.getDisplayMedia === 'function';

function describeMediaError(error: unknown, kind: 'microphone' | 'display'): CaptureError {
  const name = error instanceof DOMException ? error.name : '';
  if (kind === 'microphone') {
    switch (name) {
      case 'NotAllowedError':
      case 'SecurityError':
        return new CaptureError(
          'Microphone access was blocked. Allow the microphone for this site (the icon in the address bar) and try again.',
        );
      case 'NotFoundError':
      case 'OverconstrainedError':
        return new CaptureError('No microphone was found. Connect one, or record a tab’s audio instead.');
      case 'NotReadableError':
      case 'AbortError':
        return new CaptureError('The microphone could not be started; another app may be using it.');
    }
    return new CaptureError(`The microphone could not be opened (${errorText(error)}).`);
  }
  switch (name) {
    case 'NotAllowedError':
      return new CaptureError(
        'Screen or tab sharing was cancelled or blocked, so there is no meeting audio to record.',
      );
    case 'NotFoundError':
      return new CaptureError('There is nothing to share on this device.');
    case 'NotReadableError':
    case 'AbortError':
      return new CaptureError('Sharing could not be started; try again or choose another tab.');
    case 'InvalidStateError':
      return new CaptureError('Sharing must start from a click: press "Start recording" again.');
  }
  return new CaptureError(`Sharing could not be started (${errorText(error)}).`);
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message || error.name : String(error));

/**
 * Opens the chosen sources. Call it straight from a click handler: getDisplayMedia needs the user's
 * gesture, so it is asked for first, and the AudioContext is created before any await.
 */
export async function openCapture(options: CaptureOptions): Promise<Capture> {
  if (!options.microphone && !options.display) throw new CaptureError('Choose at least one source to record.');
  const context = new AudioContext(options.sampleRate ? { sampleRate: options.sampleRate } : {});
  const opened: MediaStream[] = [];
  const stopAll = () => {
    for (const stream of opened) for (const track of stream.getTracks()) track.stop();
    void context.close().catch(() => {});
  };

  let display: MediaStream | null = null;
  let microphone: MediaStream | null = null;
  try {
    if (options.display) {
      try {
        display = await navigator.mediaDevices.getDisplayMedia({
          // Chrome only shares audio along with a video surface; ask for as little video as possible.
          video: { frameRate: { ideal: 1 }, width: { ideal: 320 }, height: { ideal: 240 } },
          audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
          // Chromium hints: offer tabs first and include system audio when a screen is shared.
          ...({ preferCurrentTab: false, selfBrowserSurface: 'exclude', systemAudio: 'include' } as object),
        } as DisplayMediaStreamOptions);
      } catch (error) {
        throw describeMediaError(error, 'display');
      }
      opened.push(display);
      if (display.getAudioTracks().length === 0) {
        throw new CaptureError(
          'The shared tab or screen has no audio. Share again and tick "Share tab audio" (or "Share system audio").',
        );
      }
    }
    if (options.microphone) {
      try {
        microphone = await navigator.mediaDevices.getUserMedia({
          audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        });
      } catch (error) {
        throw describeMediaError(error, 'microphone');
      }
      opened.push(microphone);
    }
    await context.resume();
  } catch (error) {
    stopAll();
    throw error;
  }

  // Mix to mono: the server keeps 16 kHz mono anyway, and mono halves what has to cross the network.
  const destination = context.createMediaStreamDestination();
  destination.channelCount = 1;
  destination.channelCountMode = 'explicit';
  destination.channelInterpretation = 'speakers';
  const analyser = context.createAnalyser();
  analyser.fftSize = 2048;
  const samples = new Float32Array(analyser.fftSize);

  const live = { microphone: microphone !== null, display: display !== null };
  const capture: Capture = {
    stream: destination.stream,
    level() {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      const rms = Math.sqrt(sum / samples.length);
      const db = 20 * Math.log10(rms || 1e-8);
      return Math.min(1, Math.max(0, (db + 60) / 60));
    },
    sources: () => ({ ...live }),
    onSourceEnded: () => {},
    close: stopAll,
  };

  for (const [kind, stream] of [
    ['display', display],
    ['microphone', microphone],
  ] as const) {
    if (!stream) continue;
    const node = context.createMediaStreamSource(new MediaStream(stream.getAudioTracks()));
    node.connect(destination);
    node.connect(analyser);
    const ended = () => {
      if (!live[kind]) return;
      live[kind] = false;
      capture.onSourceEnded(kind, Number(live.microphone) + Number(live.display));
    };
    for (const track of stream.getAudioTracks()) track.addEventListener('ended', ended);
    // "Stop sharing" in the browser bar ends the video track first.
    if (kind === 'display') for (const track of stream.getVideoTracks()) track.addEventListener('ended', ended);
  }
  return capture;
}
