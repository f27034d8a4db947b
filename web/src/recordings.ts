/**
 * The recordings of the current organisation: name, date, duration, size and status; search by name
 * and transcript; rename in place, delete after a confirmation, play with an <audio> element (the server
 * answers HTTP Range requests, so seeking works) beside the transcript, and download.
 */
import { type ApiClient, ApiError, type Recording } from './api.ts';
import { confirmDialog, fill, formatBytes, formatDate, formatDuration, h, notice } from './dom.ts';
import { transcriptPanel } from './transcript.ts';

export interface RecordingsPanel {
  element: HTMLElement;
  /** Reloads the first page (after switching organisation, say). */
  reload(): Promise<void>;
  /** Adds or updates one recording (from an upload or a live session) without a reload. */
  upsert(recording: Recording): void;
}

const POLL_MS = 2000;
const PAGE = 20;

const STATUS_TEXT: Record<Recording['status'], string> = {
  receiving: 'Recording',
  processing: 'Processing',
  ready: 'Ready',
  failed: 'Failed',
};

const SOURCE_TEXT: Record<Recording['source'], string> = { upload: 'Upload', stream: 'Stream', live: 'Live' };

export function recordingsPanel(api: ApiClient, currentOrg: () => string | null): RecordingsPanel {
  const list = h('ul', { class: 'recordings', 'aria-live': 'polite', 'aria-busy': 'false' });
  const empty = h('p', { class: 'empty', hidden: true }, 'No recordings yet. Record or upload one above.');
  const more = h('button', { type: 'button', class: 'button secondary', hidden: true }, 'Load more');
  const refresh = h('button', { type: 'button', class: 'button secondary small' }, 'Refresh');
  const message = notice();
  const search = h('input', {
    type: 'search',
    name: 'q',
    maxLength: 200,
    placeholder: 'Search names and transcripts',
    'aria-label': 'Search recordings',
  });
  const searchForm = h('form', { class: 'search', role: 'search' }, search);
  let query = '';
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  const items = new Map<string, { recording: Recording; element: HTMLLIElement; player: Player | null }>();
  let cursor: string | null = null;
  let generation = 0;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;

  const element = h(
    'section',
    { class: 'card recordings-card', 'aria-labelledby': 'recordings-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'recordings-title' }, 'Recordings'), refresh),
    searchForm,
    message.element,
    list,
    empty,
    more,
  );

  const updateEmpty = () => {
    empty.hidden = items.size > 0;
    empty.textContent = query ? `No recordings match "${query}".` : 'No recordings yet. Record or upload one above.';
  };

  function render(recording: Recording): HTMLLIElement {
    const existing = items.get(recording.id);
    const li = existing?.element ?? h('li', { class: 'recording', dataset: { id: recording.id } });
    const player = existing?.player ?? null;
    items.set(recording.id, { recording, element: li, player });

    const title = h('h3', { class: 'recording-name' }, recording.name || 'Untitled recording');
    const status = h('span', { class: `badge status-${recording.status}` }, STATUS_TEXT[recording.status]);
    const meta = h(
      'p',
      { class: 'meta' },
      h('time', { dateTime: recording.created_at }, formatDate(recording.created_at)),
      h('span', { 'aria-label': 'duration' }, formatDuration(recording.duration_sec)),
      h('span', { 'aria-label': 'size' }, formatBytes(recording.size_bytes)),
      h('span', null, SOURCE_TEXT[recording.source] ?? recording.source),
    );
    const extra: HTMLElement[] = [];
    if (recording.status === 'processing') {
      const percent = Math.round(Math.min(1, recording.progress) * 100);
      extra.push(h('progress', { max: 100, value: percent, 'aria-label': `Processing ${recording.name}` }));
    }
    if (recording.status === 'failed' && recording.error) {
      extra.push(h('p', { class: 'error-text' }, recording.error));
    }
    if (recording.meeting_link) {
      extra.push(
        h(
          'p',
          { class: 'meta' },
          'Meeting: ',
          h(
            'a',
            { href: recording.meeting_link, rel: 'noopener noreferrer', target: '_blank' },
            recording.meeting_link,
          ),
        ),
      );
    }

    const ready = recording.status === 'ready';
    const playButton = h(
      'button',
      { type: 'button', class: 'button small', disabled: !ready, 'aria-expanded': String(player !== null) },
      player ? 'Hide player' : 'Play',
    );
    playButton.setAttribute('aria-label', `${player ? 'Hide player for' : 'Play'} ${recording.name}`);
    const download = h(
      'a',
      {
        class: `button small secondary${ready ? '' : ' disabled'}`,
        href: ready ? api.audioUrl(recording.id, true) : undefined,
        download: recording.filename ?? '',
      },
      'Download',
    );
    download.setAttribute('aria-label', `Download ${recording.name}`);
    if (!ready) download.setAttribute('aria-disabled', 'true');
    // The token in the link may have been refreshed since the list was drawn: use the current one.
    download.addEventListener('click', () => {
      if (ready) download.href = api.audioUrl(recording.id, true);
    });
    const rename = h(
      'button',
      { type: 'button', class: 'button small secondary', 'aria-label': `Rename ${recording.name}` },
      'Rename',
    );
    const remove = h(
      'button',
      { type: 'button', class: 'button small danger', 'aria-label': `Delete ${recording.name}` },
      'Delete',
    );

    playButton.addEventListener('click', () => togglePlayer(recording.id));
    rename.addEventListener('click', () => startRename(recording.id, title));
    remove.addEventListener('click', () => void confirmDelete(recording.id));

    const playerSlot = h('div', { class: 'player-slot' });
    if (player) playerSlot.append(player.element);
    fill(
      li,
      h('div', { class: 'recording-head' }, title, status),
      meta,
      extra,
      h('div', { class: 'actions' }, playButton, rename, download, remove),
      playerSlot,
    );
    return li;
  }

  function togglePlayer(id: string): void {
    const item = items.get(id);
    if (!item) return;
    if (item.player) {
      item.player.destroy();
      item.player = null;
    } else {
      // One player at a time.
      for (const other of items.values()) {
        if (other.player) {
          other.player.destroy();
          other.player = null;
          render(other.recording);
        }
      }
      item.player = createPlayer(api, item.recording);
    }
    render(item.recording);
    if (item.player) void item.player.audio.play().catch(() => {});
  }

  function startRename(id: string, title: HTMLElement): void {
    const item = items.get(id);
    if (!item) return;
    const input = h('input', {
      type: 'text',
      value: item.recording.name,
      maxLength: 200,
      required: true,
      'aria-label': 'New name',
    });
    const save = h('button', { type: 'submit', class: 'button small primary' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'button small secondary' }, 'Cancel');
    const error = notice();
    const form = h('form', { class: 'rename' }, input, save, cancel, error.element);
    const restore = () => {
      render(items.get(id)?.recording ?? item.recording);
      item.element.querySelector<HTMLButtonElement>('button[aria-label^="Rename"]')?.focus();
    };
    cancel.addEventListener('click', restore);
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') restore();
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        error.show('The name cannot be empty.');
        return;
      }
      save.disabled = true;
      try {
        const updated = await api.renameRecording(id, name);
        items.get(id)!.recording = { ...item.recording, ...updated };
        restore();
      } catch (failure) {
        error.show(failure instanceof ApiError ? failure.message : String(failure));
        save.disabled = false;
      }
    });
    title.replaceWith(form);
    input.focus();
    input.select();
  }

  async function confirmDelete(id: string): Promise<void> {
    const item = items.get(id);
    if (!item) return;
    const yes = await confirmDialog({
      title: 'Delete recording?',
      message: `"${item.recording.name}" and its audio will be deleted. This cannot be undone.`,
      confirmLabel: 'Delete',
      danger: true,
    });
    if (!yes) return;
    try {
      await api.deleteRecording(id);
      item.player?.destroy();
      item.element.remove();
      items.delete(id);
      updateEmpty();
      message.show(`Deleted "${item.recording.name}".`, 'success');
      refresh.focus();
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
    }
  }

  async function loadPage(reset: boolean): Promise<void> {
    const org = currentOrg();
    if (!org) return;
    const mine = reset ? ++generation : generation;
    list.setAttribute('aria-busy', 'true');
    more.disabled = true;
    try {
      const page = await api.recordings(org, reset ? undefined : (cursor ?? undefined), PAGE, query);
      if (mine !== generation) return; // the organisation changed meanwhile
      if (reset) {
        for (const item of items.values()) item.player?.destroy();
        items.clear();
        list.replaceChildren();
      }
      for (const recording of page.items) list.append(render(recording));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      message.clear();
      updateEmpty();
      schedulePoll();
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
    } finally {
      list.setAttribute('aria-busy', 'false');
      more.disabled = false;
    }
  }

  /** Recordings still being received or processed are re-read until they settle. */
  function schedulePoll(): void {
    clearTimeout(pollTimer);
    const pending = [...items.values()].filter(
      (i) => i.recording.status === 'receiving' || i.recording.status === 'processing',
    );
    if (pending.length === 0) return;
    pollTimer = setTimeout(async () => {
      await Promise.all(
        pending.map(async ({ recording }) => {
          try {
            panel.upsert(await api.recording(recording.id));
          } catch (error) {
            if (error instanceof ApiError && error.status === 404 && items.has(recording.id)) {
              items.get(recording.id)!.element.remove();
              items.delete(recording.id);
              updateEmpty();
            }
          }
        }),
      );
      schedulePoll();
    }, POLL_MS);
  }

  refresh.addEventListener('click', () => void loadPage(true));
  // Searching as one types, once typing pauses; Enter searches at once.
  const runSearch = () => {
    clearTimeout(searchTimer);
    if (search.value.trim() === query) return;
    query = search.value.trim();
    void loadPage(true);
  };
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 300);
  });
  searchForm.addEventListener('submit', (event) => {
    event.preventDefault();
    runSearch();
  });
  more.addEventListener('click', () => void loadPage(false));

  const panel: RecordingsPanel = {
    element,
    reload: () => loadPage(true),
    upsert(recording) {
      if (recording.org_id && recording.org_id !== currentOrg()) return;
      const known = items.has(recording.id);
      const li = render(recording);
      if (!known) list.prepend(li);
      updateEmpty();
      schedulePoll();
    },
  };
  return panel;
}

interface Player {
  element: HTMLElement;
  audio: HTMLAudioElement;
  destroy(): void;
}

/**
 * An <audio> element on the recording's audio URL. The URL carries the access token; if it expires
 * while the element still has Range requests to make, the element errors and is pointed at a URL with
 * a fresh token at the same position.
 */
function createPlayer(api: ApiClient, recording: Recording): Player {
  const audio = h('audio', { controls: true, preload: 'metadata', src: api.audioUrl(recording.id) });
  audio.setAttribute('aria-label', `Audio of ${recording.name}`);
  const error = notice();
  let retried = 0;
  audio.addEventListener('error', async () => {
    if (retried >= 2) {
      error.show("This recording can't be played right now. Check your connection and try again.");
      return;
    }
    retried += 1;
    const position = audio.currentTime;
    const wasPlaying = !audio.paused;
    try {
      await api.refresh(true);
    } catch {
      // offline: the reload below fails too and shows the message
    }
    audio.src = api.audioUrl(recording.id);
    audio.currentTime = position;
    if (wasPlaying) void audio.play().catch(() => {});
  });
  audio.addEventListener('playing', () => {
    retried = 0;
    error.clear();
  });
  const transcript = transcriptPanel(api, recording.id, audio);
  return {
    element: h(
      'div',
      { class: 'player' },
      h('div', { class: 'player-audio' }, audio, error.element),
      transcript.element,
    ),
    audio,
    destroy() {
      transcript.destroy();
      audio.pause();
      audio.removeAttribute('src');
      audio.load();
    },
  };
}
