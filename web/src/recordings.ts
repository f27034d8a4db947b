/**
 * The recordings list: every organisation's recordings (each labelled with its organisation) or one
 * organisation's, as the person last chose (remembered per user in this browser); search by name and
 * transcript; rename in place; delete (to the trash, with "Undo"); play with an <audio> element (the
 * server answers HTTP Range requests, so seeking works) beside the transcript, and download.
 *
 * A recording never looks lost: when the list shows one organisation and is empty, it says which other
 * organisations have recordings; a new recording saved in an organisation the list does not show says so.
 */
import { type ApiClient, ApiError, type Org, type Recording } from './api.ts';
import { fieldError, fill, formatBytes, formatDate, formatDuration, h, notice, type Toast } from './dom.ts';
import { transcriptPanel } from './transcript.ts';

export interface RecordingsPanel {
  element: HTMLElement;
  /** Reloads the first page (after the organisations changed, say). */
  reload(): Promise<void>;
  /** Adds or updates one recording (from an upload or a live session) without a reload. */
  upsert(recording: Recording): void;
  /** A recording back from the trash: in its place in the list, if the list shows its organisation. */
  restored(recording: Recording): void;
  /** The organisations changed (one was created, joined or left): the filter's choices follow. */
  orgsChanged(): void;
}

export interface RecordingsPanelOptions {
  /** Whose choice of organisation the list remembers. */
  userId: string;
  orgs: () => Org[];
  toast: Toast;
}

const POLL_MS = 2000;
const PAGE = 20;
const ALL = 'all';

const STATUS_TEXT: Record<Recording['status'], string> = {
  receiving: 'Recording',
  processing: 'Processing',
  ready: 'Ready',
  failed: 'Failed',
};

const SOURCE_TEXT: Record<Recording['source'], string> = { upload: 'Upload', stream: 'Stream', live: 'Live' };

export const orgLabel = (org: Org): string => (org.personal ? `${org.name} (personal)` : org.name);

/** "A", "A and B", "A, B and C". */
const listOf = (names: string[]): string =>
  names.length < 2 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;

/** The "Show" menu: all organisations, or one. */
export function orgFilter(id: string, orgs: Org[], value: string): HTMLSelectElement {
  const select = h('select', { id, name: id });
  fillOrgFilter(select, orgs, value);
  return select;
}

export function fillOrgFilter(select: HTMLSelectElement, orgs: Org[], value: string): void {
  fill(
    select,
    h('option', { value: ALL, selected: value === ALL }, 'All organisations'),
    orgs.map((org) => h('option', { value: org.id, selected: org.id === value }, orgLabel(org))),
  );
}

export function recordingsPanel(api: ApiClient, options: RecordingsPanelOptions): RecordingsPanel {
  const { orgs, toast } = options;
  const filterKey = `earshot.list.${options.userId}`;
  const remembered = localStorage.getItem(filterKey) ?? ALL;
  /** The organisation the list shows, or ALL. */
  let filter = orgs().some((org) => org.id === remembered) ? remembered : ALL;
  const shownOrg = () => (filter === ALL ? null : filter);
  const orgName = (id: string) => {
    const org = orgs().find((o) => o.id === id);
    return org ? orgLabel(org) : 'another organisation';
  };

  const title = h('h2', { id: 'recordings-title' });
  const filterSelect = orgFilter('list-org', orgs(), filter);
  const list = h('ul', { class: 'recordings', 'aria-live': 'polite', 'aria-busy': 'false' });
  const emptyText = h('span');
  const showAll = h('button', { type: 'button', class: 'linkish' }, 'Show all organisations');
  const empty = h('p', { class: 'empty', hidden: true }, emptyText, ' ', showAll);
  /** Says where a recording went when the list does not show its organisation. */
  const elsewhereText = h('span');
  const elsewhereShowAll = h('button', { type: 'button', class: 'linkish' }, 'Show all organisations');
  const elsewhere = h(
    'p',
    { class: 'notice notice-info', role: 'status', hidden: true },
    elsewhereText,
    ' ',
    elsewhereShowAll,
  );
  const toldElsewhere = new Set<string>();
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
    h('div', { class: 'card-head' }, title, refresh),
    h(
      'div',
      { class: 'list-tools' },
      h('div', { class: 'filter' }, h('label', { htmlFor: filterSelect.id }, 'Show'), filterSelect),
      searchForm,
    ),
    message.element,
    elsewhere,
    list,
    empty,
    more,
  );

  const showTitle = () => {
    title.textContent = filter === ALL ? 'Recordings in all organisations' : `Recordings in ${orgName(filter)}`;
  };
  showTitle();

  /**
   * The empty list explained. Showing one organisation, it asks the others for one recording each, so it
   * can say where the person's recordings are rather than "none".
   */
  async function updateEmpty(): Promise<void> {
    empty.hidden = items.size > 0;
    showAll.hidden = true;
    if (items.size > 0) return;
    const org = shownOrg();
    if (!org) {
      emptyText.textContent = query ? `No recordings match "${query}".` : 'No recordings yet. Record or upload one.';
      return;
    }
    const here = orgName(org);
    emptyText.textContent = query ? `No recordings in ${here} match "${query}".` : `No recordings in ${here} yet.`;
    showAll.textContent = query ? 'Search all organisations' : 'Show all organisations';
    const asked = generation;
    const others = orgs().filter((o) => o.id !== org);
    const found = await Promise.all(
      others.map((o) =>
        api.recordings(o.id, undefined, 1, query).then(
          (page) => page.items.length > 0,
          () => false,
        ),
      ),
    );
    if (asked !== generation || items.size > 0) return;
    const where = others.filter((_, i) => found[i]).map(orgLabel);
    if (where.length === 0) return;
    emptyText.textContent += ` ${query ? 'Some in' : 'You have recordings in'} ${listOf(where)}${query ? ' match.' : '.'}`;
    showAll.hidden = false;
  }

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
      filter === ALL ? h('span', { class: 'org-label' }, orgName(recording.org_id)) : null,
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
    remove.addEventListener('click', () => void moveToTrash(recording.id));

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
        fieldError(input, error, 'The name cannot be empty.');
        return;
      }
      save.disabled = true;
      try {
        const updated = await api.renameRecording(id, name);
        items.get(id)!.recording = { ...item.recording, ...updated };
        restore();
      } catch (failure) {
        save.disabled = false;
        fieldError(input, error, failure instanceof ApiError ? failure.message : String(failure));
      }
    });
    title.replaceWith(form);
    input.focus();
    input.select();
  }

  /** Puts a restored (or new) recording where its creation time places it among the loaded ones. */
  function insertInOrder(recording: Recording): void {
    const li = render(recording);
    const older = [...list.children].find((other) => {
      const shown = items.get((other as HTMLElement).dataset.id ?? '');
      return other !== li && shown !== undefined && shown.recording.created_at < recording.created_at;
    });
    if (older) list.insertBefore(li, older);
    else if (!cursor) list.append(li);
    else {
      // Older than every loaded recording while more are to come: it will arrive with its page.
      li.remove();
      items.delete(recording.id);
    }
  }

  /** Deletes to the trash at once (no question: "Undo" takes it back), and offers the undo. */
  async function moveToTrash(id: string): Promise<void> {
    const item = items.get(id);
    if (!item) return;
    const next = item.element.nextElementSibling ?? item.element.previousElementSibling;
    try {
      await api.deleteRecording(id);
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
      return;
    }
    item.player?.destroy();
    item.element.remove();
    items.delete(id);
    void updateEmpty();
    const name = item.recording.name;
    toast.show(`Deleted "${name}". It is in the trash.`, {
      label: 'Undo',
      run: async () => {
        try {
          const recording = await api.restoreRecording(id);
          toast.show(`Restored "${name}".`);
          panel.restored(recording);
          const back = items.get(id)?.element ?? next;
          (back?.querySelector<HTMLButtonElement>('button') ?? refresh).focus();
        } catch (error) {
          toast.show(`Could not restore "${name}": ${error instanceof ApiError ? error.message : String(error)}`);
        }
      },
    });
  }

  async function loadPage(reset: boolean): Promise<void> {
    const mine = reset ? ++generation : generation;
    list.setAttribute('aria-busy', 'true');
    more.disabled = true;
    try {
      const page = await api.recordings(shownOrg(), reset ? undefined : (cursor ?? undefined), PAGE, query);
      if (mine !== generation) return; // the filter or the search changed meanwhile
      if (reset) {
        for (const item of items.values()) item.player?.destroy();
        items.clear();
        list.replaceChildren();
      }
      for (const recording of page.items) list.append(render(recording));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      message.clear();
      void updateEmpty();
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
              void updateEmpty();
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

  const choose = (value: string) => {
    filter = value;
    filterSelect.value = value;
    localStorage.setItem(filterKey, value);
    elsewhere.hidden = true;
    showTitle();
    return loadPage(true);
  };
  filterSelect.addEventListener('change', () => void choose(filterSelect.value));
  for (const button of [showAll, elsewhereShowAll]) button.addEventListener('click', () => void choose(ALL));

  const panel: RecordingsPanel = {
    element,
    reload: () => loadPage(true),
    upsert(recording) {
      const org = shownOrg();
      if (org && recording.org_id !== org) {
        if (!toldElsewhere.has(recording.id)) {
          toldElsewhere.add(recording.id);
          elsewhereText.textContent = `"${recording.name}" is in ${orgName(recording.org_id)}, which this list does not show.`;
          elsewhere.hidden = false;
        }
        return;
      }
      const known = items.has(recording.id);
      const li = render(recording);
      if (!known) list.prepend(li);
      void updateEmpty();
      schedulePoll();
    },
    restored(recording) {
      const org = shownOrg();
      if (org && recording.org_id !== org) return;
      insertInOrder(recording);
      void updateEmpty();
      schedulePoll();
    },
    orgsChanged() {
      if (!orgs().some((org) => org.id === filter)) filter = ALL;
      fillOrgFilter(filterSelect, orgs(), filter);
      showTitle();
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
