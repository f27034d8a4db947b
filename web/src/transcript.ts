/**
 * The transcript beside the player: its status while it is being made, a Transcribe button when there is
 * none (or it failed), and the lines, each a button that seeks the player to its start. The line being
 * played is highlighted (aria-current) and kept in view.
 */
import { type ApiClient, ApiError, type Transcript } from './api.ts';
import { fill, formatDuration, h, notice } from './dom.ts';

const POLL_MS = 1500;

export interface TranscriptPanel {
  element: HTMLElement;
  destroy(): void;
}

const STATUS_TEXT: Record<Transcript['status'], string> = {
  none: 'No transcript yet.',
  pending: 'Waiting to be transcribed…',
  processing: 'Transcribing…',
  ready: '',
  failed: 'Transcription failed.',
};

export function transcriptPanel(api: ApiClient, recordingId: string, audio: HTMLAudioElement): TranscriptPanel {
  const status = h('p', { class: 'transcript-status', role: 'status' });
  const message = notice();
  const transcribe = h('button', { type: 'button', class: 'button small secondary', hidden: true }, 'Transcribe');
  const lines = h('ol', { class: 'transcript-lines' });
  const element = h(
    'section',
    { class: 'transcript', 'aria-label': 'Transcript' },
    h('div', { class: 'transcript-head' }, h('h4', null, 'Transcript'), transcribe),
    status,
    message.element,
    lines,
  );
  let segments: Transcript['segments'] = [];
  let buttons: HTMLButtonElement[] = [];
  let current = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let destroyed = false;

  function show(transcript: Transcript): void {
    const making = transcript.status === 'pending' || transcript.status === 'processing';
    status.textContent =
      transcript.status === 'failed' && transcript.error
        ? `Transcription failed: ${transcript.error}`
        : !transcript.available && transcript.status === 'none'
          ? 'Transcription is off on this server.'
          : transcript.status === 'ready' && transcript.segments.length === 0
            ? 'No speech was found.'
            : STATUS_TEXT[transcript.status];
    status.hidden = !status.textContent;
    transcribe.hidden = !transcript.available || making;
    transcribe.textContent = transcript.status === 'none' ? 'Transcribe' : 'Transcribe again';
    segments = transcript.segments;
    buttons = segments.map((segment) => {
      const line = h(
        'button',
        { type: 'button', class: 'transcript-line' },
        h('time', null, formatDuration(segment.start)),
        h('span', null, segment.text),
      );
      line.addEventListener('click', () => {
        audio.currentTime = segment.start;
        void audio.play().catch(() => {});
      });
      return line;
    });
    current = -1;
    fill(
      lines,
      buttons.map((button) => h('li', null, button)),
    );
    highlight();
    clearTimeout(timer);
    if (making && !destroyed) timer = setTimeout(() => void load(), POLL_MS);
  }

  async function load(): Promise<void> {
    try {
      const transcript = await api.transcript(recordingId);
      if (!destroyed) show(transcript);
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
    }
  }

  /** The line whose time span holds the playing position (the last one started, in a gap). */
  function highlight(): void {
    const t = audio.currentTime;
    let index = -1;
    for (let i = 0; i < segments.length && segments[i]!.start <= t; i++) index = i;
    if (index === current) return;
    buttons[current]?.removeAttribute('aria-current');
    current = index;
    const button = buttons[index];
    if (!button) return;
    button.setAttribute('aria-current', 'true');
    if (!audio.paused) button.scrollIntoView({ block: 'nearest' });
  }

  transcribe.addEventListener('click', async () => {
    message.clear();
    transcribe.disabled = true;
    try {
      show(await api.requestTranscript(recordingId));
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
    } finally {
      transcribe.disabled = false;
    }
  });
  audio.addEventListener('timeupdate', highlight);
  audio.addEventListener('seeked', highlight);
  void load();

  return {
    element,
    destroy() {
      destroyed = true;
      clearTimeout(timer);
      audio.removeEventListener('timeupdate', highlight);
      audio.removeEventListener('seeked', highlight);
    },
  };
}
