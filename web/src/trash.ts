/**
 * The Trash: recordings deleted from the list wait here for their organisation's retention (set on the
 * Organisations page), then the server deletes them for good. Each can be restored or deleted for good
 * at once; "Empty trash" deletes for good everything here the person may delete (members their own,
 * admins and owners all: docs/roles.md).
 */
import { type ApiClient, ApiError, type Org, type Recording, type TrashedRecording } from './api.ts';
import { confirmDialog, formatDate, formatDuration, h, notice, type Toast } from './dom.ts';
import { fillOrgFilter, orgFilter, orgLabel } from './recordings.ts';

export interface TrashView {
  element: HTMLElement;
  /** Reads the trash again (each time the view is opened: other tabs and people change it). */
  show(): Promise<void>;
  /** The organisations changed: the filter's choices follow. */
  orgsChanged(): void;
}

export function trashView(
  api: ApiClient,
  options: { me: { id: string }; orgs: () => Org[]; toast: Toast; onRestored: (recording: Recording) => void },
): TrashView {
  const { orgs, toast, me } = options;
  let filter = 'all';
  const select = orgFilter('trash-org', orgs(), filter);
  const emptyTrash = h('button', { type: 'button', class: 'button small danger' }, 'Empty trash');
  const list = h('ul', { class: 'recordings', 'aria-busy': 'false' });
  const empty = h('p', { class: 'empty', hidden: true }, 'The trash is empty.');
  const more = h('button', { type: 'button', class: 'button secondary', hidden: true }, 'Load more');
  const message = notice();
  const element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'trash-title' },
    h('div', { class: 'card-head' }, h('h2', { id: 'trash-title' }, 'Deleted recordings'), emptyTrash),
    h(
      'p',
      { class: 'hint' },
      'Deleted recordings stay here for the number of days their organisation keeps them (30 unless its owners ' +
        'or admins changed it on the Organisations page), then they are deleted for good.',
    ),
    h(
      'div',
      { class: 'list-tools' },
      h('div', { class: 'filter' }, h('label', { htmlFor: select.id }, 'Show'), select),
    ),
    message.element,
    list,
    empty,
    more,
  );
  let cursor: string | null = null;
  let generation = 0;
  const orgName = (id: string) => {
    const org = orgs().find((o) => o.id === id);
    return org ? orgLabel(org) : '';
  };

  function row(recording: TrashedRecording): HTMLLIElement {
    const who = recording.deleted_by;
    const by = !who ? '' : who.id === me.id ? ' by you' : ` by ${who.name || who.email}`;
    const restore = h(
      'button',
      { type: 'button', class: 'button small primary', 'aria-label': `Restore ${recording.name}` },
      'Restore',
    );
    const forever = h(
      'button',
      { type: 'button', class: 'button small danger', 'aria-label': `Delete ${recording.name} forever` },
      'Delete forever',
    );
    const li = h(
      'li',
      { class: 'recording', dataset: { id: recording.id } },
      h(
        'div',
        { class: 'recording-head' },
        h('h3', { class: 'recording-name' }, recording.name || 'Untitled recording'),
      ),
      h(
        'p',
        { class: 'meta' },
        h('span', null, `Deleted ${formatDate(recording.deleted_at)}${by}`),
        h('span', null, formatDuration(recording.duration_sec)),
        h('span', { class: 'org-label' }, orgName(recording.org_id)),
      ),
      h('p', { class: 'meta' }, `Deleted for good on ${formatDate(recording.purge_at)}`),
      h('div', { class: 'actions' }, restore, forever),
    );
    const gone = () => {
      const next = li.nextElementSibling ?? li.previousElementSibling;
      li.remove();
      empty.hidden = list.children.length > 0;
      (next?.querySelector<HTMLButtonElement>('button') ?? emptyTrash).focus();
    };
    restore.addEventListener('click', async () => {
      message.clear();
      try {
        const restored = await api.restoreRecording(recording.id);
        gone();
        options.onRestored(restored);
        toast.show(`Restored "${recording.name}". It is back in the recordings.`);
      } catch (error) {
        message.show(error instanceof ApiError ? error.message : String(error));
      }
    });
    forever.addEventListener('click', async () => {
      const yes = await confirmDialog({
        title: 'Delete forever?',
        message: `"${recording.name}", its audio and its transcript will be deleted for good. This cannot be undone.`,
        confirmLabel: 'Delete forever',
        danger: true,
      });
      if (!yes) return;
      message.clear();
      try {
        await api.deleteForever(recording.id);
        gone();
        toast.show(`Deleted "${recording.name}" for good.`);
      } catch (error) {
        message.show(error instanceof ApiError ? error.message : String(error));
      }
    });
    return li;
  }

  async function load(reset: boolean): Promise<void> {
    const mine = reset ? ++generation : generation;
    list.setAttribute('aria-busy', 'true');
    try {
      const page = await api.trash(filter === 'all' ? null : filter, reset ? undefined : (cursor ?? undefined));
      if (mine !== generation) return;
      if (reset) list.replaceChildren();
      list.append(...page.items.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      empty.hidden = list.children.length > 0;
      emptyTrash.disabled = list.children.length === 0;
      message.clear();
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  emptyTrash.addEventListener('click', async () => {
    const scope = filter === 'all' ? 'of all your organisations' : `of ${orgName(filter)}`;
    const yes = await confirmDialog({
      title: 'Empty the trash?',
      message: `Every recording in the trash ${scope} that you may delete will be deleted for good. This cannot be undone.`,
      confirmLabel: 'Empty trash',
      danger: true,
    });
    if (!yes) return;
    message.clear();
    try {
      const { deleted, kept } = await api.emptyTrash(filter === 'all' ? null : filter);
      const recordings = (n: number) => `${n} recording${n === 1 ? '' : 's'}`;
      toast.show(
        `Deleted ${recordings(deleted)} for good.` +
          (kept ? ` ${recordings(kept)} made by others stay: only an admin or owner may delete them.` : ''),
      );
      await load(true);
      select.focus();
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
    }
  });
  select.addEventListener('change', () => {
    filter = select.value;
    void load(true);
  });
  more.addEventListener('click', () => void load(false));

  return {
    element,
    show: () => load(true),
    orgsChanged() {
      if (!orgs().some((org) => org.id === filter)) filter = 'all';
      fillOrgFilter(select, orgs(), filter);
    },
  };
}
