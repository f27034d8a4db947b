/**
 * Record panel: choose the sources (microphone, a tab's/screen's audio, or both mixed), then the page
 * encodes the mix (encoding.ts: the stored format itself with WebCodecs where the browser can, else
 * MediaRecorder's WebM/Opus) and the live client streams it over /api/ws/record. The panel shows a level
 * meter, the elapsed time and how much the server has confirmed ("saved up to"); after a network drop
 * the live client reconnects and resends what was not acknowledged. When acknowledgements stop coming
 * (a browser gone offline can keep its socket open), connection-watch.ts says so: the audio is kept in
 * this browser. It is kept in IndexedDB, so a recording interrupted by a reload is finished by the next
 * page load (live-link.ts finishInterrupted), with nothing lost. Stop saves the recording.
 */
import { type ApiClient, ApiError, type Recording } from './api.ts';
import {
  type Capture,
  CaptureError,
  displayCaptureSupported,
  openCapture,
  pickMimeType,
  recordingUnsupportedReason,
} from './capture.ts';
import { type ConnectionWatcher, connectionWatcher } from './connection-watch.ts';
import { field, formatBytes, formatDuration, h, notice } from './dom.ts';
import { EDGE_SAMPLE_RATE, edgeEncoding, edgeEncodingSupported } from './edge-encoder.ts';
import { type Encoding, mediaRecorderEncoding } from './encoding.ts';
import { finishInterrupted, keptAudioStore, type LiveLink, openLiveLink } from './live-link.ts';

export interface RecorderPanel {
  element: HTMLElement;
  /** True from "Start" until the recording is saved or has failed. */
  readonly busy: boolean;
  /** Stops and saves a recording in progress (no-op when idle). */
  stop(): Promise<void>;
  onBusyChange: (busy: boolean) => void;
}

type State = 'idle' | 'starting' | 'recording' | 'reconnecting' | 'stopping';

export function recorderPanel(
  api: ApiClient,
  currentOrg: () => string,
  onChanged: (recording: Recording) => void,
  userId: string,
): RecorderPanel {
  const unsupported = recordingUnsupportedReason();
  const store = keptAudioStore(userId);
  // Known before the first click: the click handler must not wait for it (getDisplayMedia needs the gesture).
  let encodeAtEdge = false;
  void edgeEncodingSupported().then((supported) => {
    encodeAtEdge = supported;
  });
  const name = h('input', {
    type: 'text',
    name: 'recording-name',
    maxLength: 200,
    autocomplete: 'off',
    placeholder: 'Weekly sync',
  });
  const link = h('input', {
    type: 'url',
    name: 'meeting-link',
    maxLength: 2048,
    autocomplete: 'off',
    placeholder: 'https://meet.example.com/abc',
  });
  const useMic = h('input', { type: 'checkbox', name: 'source-mic', checked: true });
  const useDisplay = h('input', { type: 'checkbox', name: 'source-display', disabled: !displayCaptureSupported() });
  const start = h('button', { type: 'submit', class: 'button record' }, 'Start recording');
  const message = notice();

  const sources = h(
    'fieldset',
    null,
    h('legend', null, 'Record from'),
    h('label', { class: 'check' }, useMic, 'Microphone'),
    h(
      'label',
      { class: 'check' },
      useDisplay,
      displayCaptureSupported()
        ? 'A meeting tab or screen (its audio)'
        : 'A tab or screen (not supported in this browser)',
    ),
  );
  const setup = h(
    'form',
    { class: 'stack', 'aria-label': 'New recording' },
    field('Name (optional)', name),
    field('Meeting link (optional)', link),
    sources,
    h('div', { class: 'actions' }, start),
  );

  // --- the live view ---
  const statusText = h('span', null, 'Recording');
  const title = h('div', { class: 'live-title' });
  const clock = h('div', { class: 'clock', role: 'timer', 'aria-label': 'Elapsed time' }, '0:00');
  const saved = h('div', { class: 'saved', 'aria-live': 'off' }, 'Saved up to 0:00');
  // Said only when acknowledgements are late (slow) or have stopped (offline), and cleared when they resume.
  const connection = h('p', { class: 'connection', role: 'status', hidden: true });
  const meterFill = h('div', { class: 'meter-fill' });
  const meter = h(
    'div',
    {
      class: 'meter',
      role: 'meter',
      'aria-label': 'Input level',
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      'aria-valuenow': '0',
    },
    meterFill,
  );
  const stopButton = h('button', { type: 'button', class: 'button primary' }, 'Stop and save');
  const live = h(
    'div',
    { class: 'live', hidden: true, dataset: { state: 'recording' } },
    h('div', { class: 'live-status', role: 'status' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), statusText),
    title,
    clock,
    meter,
    saved,
    connection,
    h('div', { class: 'actions' }, stopButton),
  );

  const rescue = h('p', { class: 'rescue', hidden: true });
  const element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'record-title' },
    h('h2', { id: 'record-title' }, 'Record'),
    unsupported ? null : setup,
    live,
    message.element,
    rescue,
  );

  /** After a failure: offer the audio recorded in this page as a file, to upload later. */
  const offerLocalCopy = () => {
    const copy = encoding?.localCopy();
    if (!copy) return;
    const { blob, extension } = copy;
    if (rescueUrl) URL.revokeObjectURL(rescueUrl);
    rescueUrl = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().slice(0, 16).replace(':', '-');
    rescue.replaceChildren(
      'Nothing is lost: ',
      h(
        'a',
        { href: rescueUrl, download: `earshot-recording-${stamp}.${extension}` },
        `download the full recording (${formatBytes(blob.size)})`,
      ),
      ' and upload it when the server is reachable again.',
    );
    rescue.hidden = false;
  };
  if (unsupported) message.show(unsupported);

  // --- session state ---
  let state: State = 'idle';
  let capture: Capture | null = null;
  let encoding: Encoding | null = null;
  let link_: LiveLink | null = null;
  let startedAt = 0;
  let tick: ReturnType<typeof setInterval> | undefined;
  let frame = 0;
  let sentBytes = 0;
  let ackedBytes = 0;
  let committedBytes = 0;
  let watcher: ConnectionWatcher = connectionWatcher();
  /** End byte offset and recording time of each chunk handed to the live client, oldest first. */
  let timeline: { end: number; seconds: number }[] = [];
  let rescueUrl = '';
  let stopping: Promise<void> | null = null;

  /** Read through a function: TypeScript would otherwise keep its narrowing across awaits. */
  const currentState = (): State => state;
  const setState = (next: State) => {
    const wasBusy = state !== 'idle';
    state = next;
    live.dataset.state = next;
    live.hidden = next === 'idle';
    setup.hidden = next !== 'idle';
    stopButton.disabled = next === 'stopping' || next === 'starting';
    statusText.textContent = {
      idle: '',
      starting: 'Starting…',
      recording: 'Recording',
      reconnecting: 'Connection lost — reconnecting; audio is kept and will be sent',
      stopping: 'Saving…',
    }[next];
    if (wasBusy !== (next !== 'idle')) panel.onBusyChange(next !== 'idle');
  };

  /** The recorded time the first `bytes` of the stream hold. */
  const secondsIn = (bytes: number) => {
    let seconds = 0;
    for (const entry of timeline) {
      if (entry.end <= bytes) seconds = entry.seconds;
      else break;
    }
    return seconds;
  };

  const render = () => {
    const elapsed = startedAt ? (performance.now() - startedAt) / 1000 : 0;
    clock.textContent = formatDuration(elapsed);
    // Acknowledged audio is on the disk of the node holding the session; committed audio is in the object
    // store, where it survives that node's loss (docs/live-protocol.md §4): people may care which.
    const inStorage = committedBytes > 0 ? `; in storage up to ${formatDuration(secondsIn(committedBytes))}` : '';
    saved.textContent = `Saved on the server up to ${formatDuration(secondsIn(ackedBytes))} (${formatBytes(ackedBytes)})${inStorage}`;
    const report = watcher.report(performance.now(), navigator.onLine);
    live.dataset.connection = report.state;
    const warning = report.state === 'connected' ? '' : report.text;
    connection.hidden = warning === '';
    if (connection.textContent !== warning) connection.textContent = warning;
  };

  const drawMeter = () => {
    if (!capture) return;
    const level = capture.level();
    meterFill.style.transform = `scaleX(${level.toFixed(3)})`;
    meter.setAttribute('aria-valuenow', String(Math.round(level * 100)));
    frame = requestAnimationFrame(drawMeter);
  };

  const cleanup = () => {
    clearInterval(tick);
    cancelAnimationFrame(frame);
    void encoding?.stop(); // kept (for its local copy) until the next recording
    capture?.close();
    capture = null;
    link_ = null;
    startedAt = 0;
    meterFill.style.transform = 'scaleX(0)';
    connection.hidden = true;
    delete live.dataset.connection;
  };

  /**
   * The session ended without a stop: stop capturing, say what happened. When the server saved it (it is
   * restarting, or a limit was reached) that is news, not an error; otherwise offer the local copy.
   */
  const fail = (text: string, savedByServer = false) => {
    // The encoder's last chunk is part of the local copy: offer it once the encoder has stopped.
    const stopped = encoding?.stop() ?? Promise.resolve();
    const recordingId = link_?.recordingId;
    link_?.abort();
    cleanup();
    setState('idle');
    message.show(text, savedByServer ? 'info' : 'error');
    if (!savedByServer) void stopped.then(offerLocalCopy);
    // Whatever reached the server is kept: let the list show its state.
    if (recordingId) setTimeout(() => api.recording(recordingId).then(onChanged, () => {}), 1000);
  };

  setup.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (state !== 'idle') return;
    message.clear();
    const mimeType = pickMimeType();
    const atEdge = encodeAtEdge;
    if (!mimeType && !atEdge) {
      message.show(recordingUnsupportedReason() ?? "This browser can't record audio.");
      return;
    }
    if (link.value && !link.validity.valid) {
      message.show('The meeting link must be a web address starting with https:// (or leave it empty).');
      link.focus();
      return;
    }
    setState('starting');
    title.textContent = name.value.trim() || 'Untitled recording';
    try {
      capture = await openCapture({
        microphone: useMic.checked,
        display: useDisplay.checked,
        ...(atEdge ? { sampleRate: EDGE_SAMPLE_RATE } : {}),
      });
    } catch (error) {
      cleanup();
      setState('idle');
      message.show(error instanceof CaptureError ? error.message : `Could not start recording: ${String(error)}`);
      return;
    }
    if (currentState() !== 'starting') {
      // Stopped (or signed out) while the browser was asking for permission.
      cleanup();
      return;
    }
    capture.onSourceEnded = (kind, remaining) => {
      if (remaining === 0) {
        message.show(
          kind === 'display'
            ? 'Sharing stopped, so the recording was stopped and saved.'
            : 'The microphone stopped, so the recording was stopped and saved.',
          'info',
        );
        void panel.stop();
      } else {
        message.show(
          kind === 'display'
            ? 'Sharing stopped; still recording the microphone.'
            : 'The microphone stopped; still recording the shared audio.',
          'info',
        );
      }
    };

    sentBytes = 0;
    ackedBytes = 0;
    committedBytes = 0;
    timeline = [];
    watcher = connectionWatcher();
    try {
      encoding = atEdge ? edgeEncoding(capture.stream) : mediaRecorderEncoding(capture.stream, mimeType as string);
    } catch (error) {
      cleanup();
      setState('idle');
      message.show(`This browser refused to record (${error instanceof Error ? error.message : String(error)}).`);
      return;
    }
    const current = encoding;
    try {
      link_ = await openLiveLink(api, {
        format: current.format,
        name: name.value.trim(),
        meetingLink: link.value.trim() || null,
        orgId: currentOrg(),
        store,
        onAck(bytes) {
          ackedBytes = Math.max(ackedBytes, bytes);
          watcher.acked(bytes, performance.now());
          render();
        },
        onCommitted(bytes) {
          committedBytes = Math.max(committedBytes, bytes);
          render();
        },
        onReconnecting() {
          if (state === 'recording') setState('reconnecting');
        },
        onReconnected() {
          if (state === 'reconnecting') setState('recording');
        },
        onFatal(text, saved) {
          fail(text, saved);
        },
      });
    } catch (error) {
      cleanup();
      setState('idle');
      message.show(error instanceof ApiError || error instanceof Error ? error.message : String(error));
      return;
    }

    if (currentState() !== 'starting') {
      link_.abort();
      cleanup();
      return;
    }
    current.onerror = (text) => fail(`${text} What was sent so far is saved.`);
    current.start((chunk) => {
      if (!link_ || encoding !== current) return;
      sentBytes += chunk instanceof Blob ? chunk.size : chunk.byteLength;
      timeline.push({ end: sentBytes, seconds: (performance.now() - startedAt) / 1000 });
      watcher.sent(sentBytes, performance.now());
      link_.send(chunk);
    });
    // Show it in the list straight away, as "Recording".
    api.recording(link_.recordingId).then(onChanged, () => {});
    startedAt = performance.now();
    setState('recording');
    stopButton.focus();
    tick = setInterval(render, 250);
    render();
    drawMeter();
  });

  stopButton.addEventListener('click', () => void panel.stop());

  /** A recording an earlier page left unfinished (reloaded or closed while recording): finish it now. */
  const finishEarlierRecordings = async (kept: NonNullable<typeof store>) => {
    const finishing = () =>
      message.show(
        'A recording was interrupted (the page was reloaded or closed). Sending the audio this browser kept and saving it…',
        'info',
      );
    const outcomes = await finishInterrupted(api, kept, finishing).catch((error: unknown) => [
      { recordingId: '', error: error instanceof Error ? error.message : String(error) },
    ]);
    for (const outcome of outcomes) {
      if ('saved' in outcome) {
        const { duration } = outcome.saved;
        message.show(
          `Recovered the interrupted recording: nothing was lost, it is saved${duration ? ` (${formatDuration(duration)})` : ''}.`,
          'success',
        );
      } else if ('finishedEarlier' in outcome) {
        message.show('The server had already finished the interrupted recording with the audio it had.', 'info');
      } else {
        message.show(
          `The interrupted recording could not be finished yet (${outcome.error}); its audio stays in this browser for next time.`,
        );
      }
      if (outcome.recordingId) api.recording(outcome.recordingId).then(onChanged, () => {});
    }
  };
  if (store) void finishEarlierRecordings(store);

  const panel: RecorderPanel = {
    element,
    get busy() {
      return state !== 'idle';
    },
    onBusyChange: () => {},
    stop() {
      if (state === 'idle') return Promise.resolve();
      stopping ??= (async () => {
        const currentLink = link_;
        setState('stopping');
        // The encoder's last chunk is handed to the live client before its stop() resolves.
        await encoding?.stop();
        clearInterval(tick);
        render();
        if (!currentLink) {
          cleanup();
          setState('idle');
          return;
        }
        try {
          const result = await currentLink.stop();
          ackedBytes = Math.max(ackedBytes, result.bytes);
          cleanup();
          setState('idle');
          message.show(
            `Saved "${name.value.trim() || 'the recording'}"${result.duration ? ` (${formatDuration(result.duration)})` : ''}.`,
            'success',
          );
          setup.reset();
          useMic.checked = true;
          start.focus();
          try {
            onChanged(await api.recording(result.recordingId));
          } catch {
            // the list catches up on its next refresh
          }
        } catch (error) {
          cleanup();
          setState('idle');
          message.show(error instanceof Error ? error.message : String(error));
          offerLocalCopy();
        }
      })().finally(() => {
        stopping = null;
      });
      return stopping;
    },
  };
  return panel;
}
