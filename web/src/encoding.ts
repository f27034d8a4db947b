/**
 * How the page turns the captured audio into the bytes it streams: with WebCodecs at the edge
 * (edge-encoder.ts: raw Opus already in the stored format, which the server only copies into its file)
 * where the browser can, else with MediaRecorder (a WebM, Ogg or MP4 container the server transcodes).
 */

export interface Encoding {
  /** The live metadata's format fields for these bytes ({} for a container, the seed protocol's default). */
  readonly format: { format?: 'opus' };
  /** Starts encoding; `onChunk` gets the bytes in order, a chunk every half second or so. */
  start(onChunk: (chunk: Blob | Uint8Array) => void): void;
  /** Stops; the last chunk has been handed to `onChunk` when this resolves. */
  stop(): Promise<void>;
  /** Everything encoded so far as a file a person can keep (and upload later), or null if nothing yet. */
  localCopy(): { blob: Blob; extension: string } | null;
  /** The encoder failed by itself (not after stop()). */
  onerror: (message: string) => void;
}

/** MediaRecorder hands over a chunk this often: the most audio a crash of the page can lose. */
const TIMESLICE_MS = 500;
const AUDIO_BITS_PER_SECOND = 32_000;

/** A MediaRecorder of `mimeType` (capture.ts picks one the server accepts). Throws if the browser refuses. */
export function mediaRecorderEncoding(stream: MediaStream, mimeType: string): Encoding {
  const recorder = new MediaRecorder(stream, { mimeType, audioBitsPerSecond: AUDIO_BITS_PER_SECOND });
  const recorded: Blob[] = [];
  let stopped = false;
  const encoding: Encoding = {
    format: {},
    start(onChunk) {
      recorder.ondataavailable = (event) => {
        if (!event.data.size) return;
        recorded.push(event.data);
        onChunk(event.data);
      };
      recorder.onerror = () => {
        if (!stopped) encoding.onerror('The browser stopped recording unexpectedly.');
      };
      recorder.start(TIMESLICE_MS);
    },
    stop() {
      stopped = true;
      if (recorder.state === 'inactive') return Promise.resolve();
      // The recorder's last chunk arrives in a dataavailable event right before `stop`.
      return new Promise((resolve) => {
        recorder.addEventListener('stop', () => resolve(), { once: true });
        recorder.stop();
      });
    },
    localCopy() {
      if (recorded.length === 0) return null;
      const type = mimeType.split(';')[0] ?? 'audio/webm';
      const extension = type.includes('ogg') ? 'ogg' : type.includes('mp4') ? 'm4a' : 'webm';
      return { blob: new Blob(recorded, { type }), extension };
    },
    onerror: () => {},
  };
  return encoding;
}
