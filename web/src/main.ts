/**
 * Earshot's page: sign in or register, then record, upload, list and play the recordings of the
 * organisation you work in, and manage organisations. Two hash routes, `#/` and `#/org`, and the
 * invite link `#/invite/<id>/<token>`, which is kept for this tab and becomes `#/org`.
 */
import { ApiClient, ApiError, type Me, type Org } from './api.ts';
import { field, fill, h, notice } from './dom.ts';
import { captureInviteLink } from './invitations.ts';
import { orgsView } from './orgs.ts';
import { recorderPanel } from './recorder.ts';
import { recordingsPanel } from './recordings.ts';
import './style.css';
import { uploadPanel } from './upload.ts';

const ORG_KEY = 'earshot.org';
const api = new ApiClient();
const root = document.getElementById('app')!;

let teardown: (() => Promise<void>) | null = null;

api.onSessionLost = (reason) => {
  void showAuth(reason);
};

async function showAuth(message?: string, mode: 'login' | 'register' = 'login'): Promise<void> {
  if (teardown) {
    const done = teardown;
    teardown = null;
    await done();
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
      status.show(error instanceof ApiError ? error.message : `Something went wrong: ${String(error)}`);
      (error instanceof ApiError && error.status === 401 ? password : email).focus();
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
    }
  });

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
  let orgId = pickOrg(orgs, me.personal_org_id);
  const currentOrg = () => orgId;
  const org = () => orgs.find((o) => o.id === orgId) ?? null;

  const orgSelect = h('select', { id: 'org-select', name: 'org' });
  const renderOrgOptions = () => {
    fill(
      orgSelect,
      orgs.map((o) =>
        h('option', { value: o.id, selected: o.id === orgId }, o.personal ? `${o.name} (personal)` : o.name),
      ),
    );
  };
  renderOrgOptions();

  const recordings = recordingsPanel(api, currentOrg);
  const recorder = recorderPanel(api, currentOrg, (recording) => recordings.upsert(recording));
  const upload = uploadPanel(api, currentOrg, (recording) => recordings.upsert(recording));
  // A created or joined organisation becomes the one worked in.
  const orgPage = orgsView(api, me, async (added) => {
    orgs = await api.orgs().catch(() => [...orgs, added]);
    await switchOrg(added.id);
    renderOrgOptions();
  });

  recorder.onBusyChange = (busy) => {
    // A recording belongs to the organisation chosen when it started.
    orgSelect.disabled = busy;
    orgSelect.title = busy ? 'Stop the recording to switch organisation' : '';
  };

  async function switchOrg(id: string): Promise<void> {
    orgId = id;
    localStorage.setItem(ORG_KEY, id);
    orgSelect.value = id;
    await Promise.all([recordings.reload(), orgPage.show(org())]);
  }
  orgSelect.addEventListener('change', () => void switchOrg(orgSelect.value));

  const signOut = h('button', { type: 'button', class: 'button secondary small' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    if (recorder.busy && !window.confirm('A recording is in progress. Stop it and sign out?')) return;
    await recorder.stop();
    await api.logout();
    await showAuth('You have signed out.');
  });

  const navHome = h('a', { href: '#/' }, 'Recordings');
  const navOrg = h('a', { href: '#/org' }, 'Organisations');
  const homeView = h(
    'div',
    { class: 'stack' },
    h('div', { class: 'grid' }, recorder.element, upload.element),
    recordings.element,
  );
  const orgViewEl = h('div', { hidden: true }, orgPage.element);
  const heading = h('h1', { class: 'visually-hidden' }, 'Record and play');

  const route = () => {
    if (captureInviteLink()) void orgPage.reloadIncoming();
    const onOrg = location.hash === '#/org';
    homeView.hidden = onOrg;
    orgViewEl.hidden = !onOrg;
    heading.textContent = onOrg ? 'Organisation settings' : 'Record and play';
    document.title = `${onOrg ? 'Organisations' : 'Recordings'} · Earshot`;
    for (const [link, active] of [
      [navHome, !onOrg],
      [navOrg, onOrg],
    ] as const) {
      if (active) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  };
  window.addEventListener('hashchange', route);

  const beforeUnload = (event: BeforeUnloadEvent) => {
    if (recorder.busy) event.preventDefault();
  };
  window.addEventListener('beforeunload', beforeUnload);

  teardown = async () => {
    window.removeEventListener('hashchange', route);
    window.removeEventListener('beforeunload', beforeUnload);
    await recorder.stop();
  };

  fill(
    root,
    h(
      'header',
      { class: 'topbar' },
      h('a', { class: 'brand', href: '#/', 'aria-label': 'Earshot home' }, logo(), h('span', null, 'Earshot')),
      h('nav', { 'aria-label': 'Main' }, navHome, navOrg),
      h('div', { class: 'org-picker' }, h('label', { htmlFor: 'org-select' }, 'Organisation'), orgSelect),
      h('div', { class: 'account' }, h('span', { class: 'who', title: me.email }, me.name || me.email), signOut),
    ),
    h('main', { id: 'main', tabIndex: -1 }, heading, homeView, orgViewEl),
  );
  route();
  await Promise.all([recordings.reload(), orgPage.show(org()), orgPage.reloadIncoming()]);
}

function pickOrg(orgs: Org[], personal: string): string {
  const saved = localStorage.getItem(ORG_KEY);
  if (saved && orgs.some((o) => o.id === saved)) return saved;
  return orgs.find((o) => o.id === personal)?.id ?? orgs[0]?.id ?? personal;
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
