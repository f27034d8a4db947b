/**
 * Earshot's page: sign in or register, then record, list and play recordings (of every organisation,
 * or the one chosen), upload, the trash, and manage organisations. Three hash routes, `#/`, `#/trash`
 * and `#/org`, and the invite link `#/invite/<id>/<token>`, which is kept for this tab and becomes
 * `#/org`. Each view has one visible h1, which takes the focus when the view opens (after signing in
 * too), so a screen reader says where one is and Tab starts from the top of the view.
 */
import { ApiClient, ApiError, type Me, type Org } from './api.ts';
import { confirmDialog, field, fieldError, fill, h, notice, toast } from './dom.ts';
import { captureInviteLink } from './invitations.ts';
import { orgsView } from './orgs.ts';
import { recorderPanel } from './recorder.ts';
import { announceRecording, recordingInAnotherTab } from './recording-tabs.ts';
import { orgLabel, recordingsPanel } from './recordings.ts';
import './style.css';
import { trashView } from './trash.ts';
import { uploadPanel } from './upload.ts';

/** Where new recordings go, remembered per user in this browser. */
const orgKey = (userId: string) => `earshot.org.${userId}`;
const api = new ApiClient();
const root = document.getElementById('app')!;

/** Leaves the signed-in page; true when that stopped a recording in this tab. */
let teardown: (() => Promise<boolean>) | null = null;

api.onSessionLost = (reason) => {
  void showAuth(reason);
};

async function showAuth(message?: string, mode: 'login' | 'register' = 'login'): Promise<void> {
  if (teardown) {
    const done = teardown;
    teardown = null;
    // Signed out from another tab while recording here: the recorder stops and saves what it has.
    if ((await done()) && message)
      message += ' The recording in this tab was stopped; what reached the server is saved.';
  }
  document.title = mode === 'login' ? 'Sign in · Earshot' : 'Create account · Earshot';
  const status = notice();
  const email = h('input', { type: 'email', name: 'email', required: true, autocomplete: 'username', maxLength: 320 });
  const password = h('input', {
    type: 'password',
    name: 'password',
    required: true,
    autocomplete: mode === 'login' ? 'current-password' : 'new-password',
    minLength: mode === 'login' ? 1 : 8,
    maxLength: 256,
  });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name', maxLength: 200 });
  const submit = h(
    'button',
    { type: 'submit', class: 'button primary wide' },
    mode === 'login' ? 'Sign in' : 'Create account',
  );
  const other = h(
    'button',
    { type: 'button', class: 'linkish' },
    mode === 'login' ? 'New here? Create an account' : 'Have an account? Sign in',
  );
  other.addEventListener('click', () => void showAuth(undefined, mode === 'login' ? 'register' : 'login'));

  const form = h(
    'form',
    { class: 'stack', 'aria-labelledby': 'auth-title' },
    mode === 'register' ? field('Name (optional)', name) : null,
    field('E-mail', email),
    field('Password', password, mode === 'register' ? 'At least 8 characters; not a common password.' : undefined),
    status.element,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.clear();
    info.clear();
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    try {
      if (mode === 'register') await api.register(email.value.trim(), password.value, name.value.trim() || undefined);
      await api.login(email.value.trim(), password.value);
      await showApp();
    } catch (error) {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
      const text = error instanceof ApiError ? error.message : `Something went wrong: ${String(error)}`;
      const wrong = fieldInError(error);
      if (wrong) fieldError(wrong, status, text);
      else {
        // Nothing the person typed is wrong (the network, the server): the message, and a retry at hand.
        status.show(text);
        submit.focus();
      }
    }
  });

  /** The field the server's refusal is about, if it is about one. */
  function fieldInError(error: unknown): HTMLInputElement | null {
    if (!(error instanceof ApiError)) return null;
    if (error.status === 401 || error.code === 'weak_password') return password;
    if (error.code === 'email_taken') return email;
    const named = (error.details as { field?: unknown } | undefined)?.field;
    if (typeof named === 'string') {
      const key = named.replace(/^\//, '');
      return ({ email, password, name } as Record<string, HTMLInputElement>)[key] ?? null;
    }
    return null;
  }

  const info = notice();
  if (message) info.show(message, 'info');
  fill(
    root,
    h(
      'main',
      { id: 'main', class: 'auth' },
      h(
        'div',
        { class: 'card auth-card' },
        h('div', { class: 'brand' }, logo(), h('span', null, 'Earshot')),
        h('p', { class: 'tagline' }, 'Record meetings, upload audio and play it back.'),
        h('h1', { id: 'auth-title' }, mode === 'login' ? 'Sign in' : 'Create an account'),
        info.element,
        form,
        other,
      ),
    ),
  );
  email.focus();
}

async function showApp(): Promise<void> {
  let me: Me;
  try {
    me = await api.me();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return showAuth('Your session has expired. Sign in again.');
    // The server is down or unreachable: say so and offer a retry rather than a blank page.
    const retry = h('button', { type: 'button', class: 'button primary' }, 'Try again');
    retry.addEventListener('click', () => void showApp());
    const problem = notice();
    problem.show(error instanceof ApiError ? error.message : String(error));
    fill(
      root,
      h(
        'main',
        { id: 'main', class: 'auth' },
        h('div', { class: 'card auth-card' }, h('h1', null, 'Earshot'), problem.element, retry),
      ),
    );
    return;
  }

  let orgs: Org[] = me.orgs;
  let orgId = pickOrg(orgs, me);
  const currentOrg = () => orgId;
  const org = () => orgs.find((o) => o.id === orgId) ?? null;

  const orgSelect = h('select', { id: 'org-select', name: 'org' });
  const renderOrgOptions = () => {
    fill(
      orgSelect,
      orgs.map((o) => h('option', { value: o.id, selected: o.id === orgId }, orgLabel(o))),
    );
  };
  renderOrgOptions();

  const notify = toast();
  const recordings = recordingsPanel(api, { userId: me.id, orgs: () => orgs, toast: notify });
  const recorder = recorderPanel(api, currentOrg, (recording) => recordings.upsert(recording), me.id);
  const upload = uploadPanel(api, currentOrg, (recording) => recordings.upsert(recording));
  const trash = trashView(api, { me, orgs: () => orgs, toast: notify, onRestored: (r) => recordings.restored(r) });
  // A created or joined organisation becomes the one worked in.
  const orgPage = orgsView(api, me, async (added) => {
    orgs = await api.orgs().catch(() => [...orgs, added]);
    await switchOrg(added.id);
    renderOrgOptions();
    recordings.orgsChanged();
    trash.orgsChanged();
  });

  recorder.onBusyChange = (busy) => {
    // A recording belongs to the organisation chosen when it started.
    orgSelect.disabled = busy;
    orgSelect.title = busy ? 'Stop the recording to switch organisation' : '';
    // Other tabs warn before a sign-out that would end it (recording-tabs.ts).
    announceRecording(busy);
  };

  async function switchOrg(id: string): Promise<void> {
    orgId = id;
    localStorage.setItem(orgKey(me.id), id);
    orgSelect.value = id;
    await orgPage.show(org());
  }
  orgSelect.addEventListener('change', () => void switchOrg(orgSelect.value));

  const signOut = h('button', { type: 'button', class: 'button secondary small' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    // Signing out here signs out every tab of this browser, and a signed-out tab stops its recording.
    const here = recorder.busy;
    const elsewhere = await recordingInAnotherTab();
    if (here || elsewhere) {
      const what =
        here && elsewhere
          ? 'Recordings are in progress in this tab and in another tab; signing out ends them.'
          : here
            ? 'A recording is in progress in this tab; signing out ends it.'
            : 'A recording is in progress in another tab; signing out ends it.';
      const yes = await confirmDialog({
        title: 'Sign out and end the recording?',
        message: `${what} What was recorded so far is saved.`,
        confirmLabel: 'Sign out',
        danger: true,
      });
      if (!yes) return;
    }
    await recorder.stop();
    await api.logout();
    await showAuth('You have signed out.');
  });

  const ROUTES = {
    '#/': { title: 'Recordings', nav: h('a', { href: '#/' }, 'Recordings') },
    '#/trash': { title: 'Trash', nav: h('a', { href: '#/trash' }, 'Trash') },
    '#/org': { title: 'Organisations', nav: h('a', { href: '#/org' }, 'Organisations') },
  } as const;
  type Route = keyof typeof ROUTES;

  // Recording first: the record panel, then the list (beside it on wide screens), then the upload.
  const homeView = h(
    'div',
    { class: 'home' },
    h('div', { class: 'home-record' }, recorder.element),
    h('div', { class: 'home-list' }, recordings.element),
    h('div', { class: 'home-upload' }, upload.element),
  );
  const trashViewEl = h('div', { hidden: true }, trash.element);
  const orgViewEl = h('div', { hidden: true }, orgPage.element);
  const heading = h('h1', { id: 'page-title', class: 'page-title', tabIndex: -1 });

  const route = () => {
    if (captureInviteLink()) void orgPage.reloadIncoming();
    const current: Route = location.hash in ROUTES ? (location.hash as Route) : '#/';
    homeView.hidden = current !== '#/';
    trashViewEl.hidden = current !== '#/trash';
    orgViewEl.hidden = current !== '#/org';
    heading.textContent = ROUTES[current].title;
    document.title = `${ROUTES[current].title} · Earshot`;
    for (const [path, { nav }] of Object.entries(ROUTES)) {
      if (path === current) nav.setAttribute('aria-current', 'page');
      else nav.removeAttribute('aria-current');
    }
    if (current === '#/trash') void trash.show();
    notify.hide();
    heading.focus();
  };
  window.addEventListener('hashchange', route);

  const beforeUnload = (event: BeforeUnloadEvent) => {
    if (recorder.busy) event.preventDefault();
  };
  window.addEventListener('beforeunload', beforeUnload);

  teardown = async () => {
    window.removeEventListener('hashchange', route);
    window.removeEventListener('beforeunload', beforeUnload);
    const wasRecording = recorder.busy;
    await recorder.stop();
    return wasRecording;
  };

  fill(
    root,
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '#/', 'aria-label': 'Earshot home' }, logo(), h('span', null, 'Earshot')),
      h(
        'nav',
        { 'aria-label': 'Main' },
        Object.values(ROUTES).map((r) => r.nav),
      ),
      h(
        'div',
        { class: 'org-picker', title: 'Where new recordings go, and the organisation the Organisations page shows' },
        h('label', { htmlFor: 'org-select' }, 'Organisation'),
        orgSelect,
      ),
      h('div', { class: 'account' }, h('span', { class: 'who', title: me.email }, me.name || me.email), signOut),
    ),
    h('main', { id: 'main', tabIndex: -1 }, heading, homeView, trashViewEl, orgViewEl, notify.element),
  );
  route();
  await Promise.all([recordings.reload(), orgPage.show(org()), orgPage.reloadIncoming()]);
}

function pickOrg(orgs: Org[], me: Me): string {
  const saved = localStorage.getItem(orgKey(me.id));
  if (saved && orgs.some((o) => o.id === saved)) return saved;
  return orgs.find((o) => o.id === me.personal_org_id)?.id ?? orgs[0]?.id ?? me.personal_org_id;
}

function logo(): SVGSVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'logo');
  svg.innerHTML = '<circle cx="16" cy="16" r="14" fill="currentColor"/><circle cx="16" cy="16" r="6" fill="#fff"/>';
  return svg;
}

const openedInviteLink = captureInviteLink();
if (api.signedIn) void showApp();
else
  void showAuth(
    openedInviteLink
      ? 'Sign in, or create an account, with the e-mail address the invitation was sent to; then accept it.'
      : undefined,
  );
