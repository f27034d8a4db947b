/**
 * API keys of an organisation, for its owners and admins: the list (name, scopes, prefix, created, last
 * used, expiry), a form that creates one and shows its token once with Copy, and Revoke after a
 * confirmation. What keys may do: docs/integrations.md and docs/roles.md.
 */
import { type ApiClient, ApiError, type ApiKey, type Org, type Scope } from './api.ts';
import { confirmDialog, field, fill, formatDate, h, notice } from './dom.ts';

export interface ApiKeysView {
  element: HTMLElement;
  /** Shows the org's keys, or hides the panel for an org where I may not manage them. */
  show(org: Org | null): Promise<void>;
}

const SCOPE_TEXT: Record<Scope, string> = {
  read: 'Read — list, play and download recordings',
  record: 'Record — upload, stream and record live',
  admin: 'Admin — manage keys, members and invitations',
};
const DAY_MS = 86_400_000;
const mayManage = (org: Org | null): org is Org => !!org && org.role !== 'member';

export function apiKeysView(api: ApiClient): ApiKeysView {
  const list = h('ul', { class: 'members' });
  const message = notice();
  const empty = h('p', { class: 'hint' }, 'No API keys yet.');

  const name = h('input', { type: 'text', name: 'key-name', required: true, maxLength: 200, autocomplete: 'off' });
  const boxes = Object.fromEntries(
    (Object.keys(SCOPE_TEXT) as Scope[]).map((scope) => [
      scope,
      h('input', { type: 'checkbox', name: `key-scope-${scope}`, defaultChecked: scope !== 'admin' }),
    ]),
  ) as Record<Scope, HTMLInputElement>;
  const expiry = h(
    'select',
    { name: 'key-expiry' },
    h('option', { value: '' }, 'Never (until revoked)'),
    h('option', { value: '30' }, 'In 30 days'),
    h('option', { value: '90' }, 'In 90 days'),
    h('option', { value: '365' }, 'In a year'),
  );
  const createMessage = notice();
  const tokenField = h('input', { type: 'text', readOnly: true, class: 'invite-link', 'aria-label': 'New API key' });
  const copy = h('button', { type: 'button', class: 'button small secondary' }, 'Copy key');
  const tokenBox = h(
    'div',
    { class: 'stack', hidden: true },
    h('div', { class: 'row' }, tokenField, copy),
    h(
      'p',
      { class: 'notice notice-info', role: 'status' },
      'Copy the key now: it is shown only once. Anyone who holds it can act in this organisation with its scopes, ' +
        'so keep it in a secret store, not in code. If it is lost or leaks, revoke it and create another.',
    ),
  );
  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'Create an API key' },
    h('h4', null, 'New key'),
    field('Key name', name, 'What it is for, e.g. "meeting bot"'),
    h(
      'fieldset',
      null,
      h('legend', null, 'Scopes'),
      ...(Object.keys(SCOPE_TEXT) as Scope[]).map((scope) =>
        h('label', { class: 'check' }, boxes[scope], SCOPE_TEXT[scope]),
      ),
    ),
    field('Expires', expiry),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Create key')),
    createMessage.element,
    tokenBox,
  );

  const element = h(
    'div',
    { class: 'stack', hidden: true },
    h('h3', null, 'API keys'),
    h(
      'p',
      { class: 'hint' },
      'Keys let bots and pipelines record into and read this organisation without a password. ' +
        'A key acts for the person who created it, with the scopes chosen here.',
    ),
    message.element,
    empty,
    list,
    form,
  );

  let current: Org | null = null;

  async function load(): Promise<void> {
    const org = current;
    if (!mayManage(org)) return;
    message.clear();
    try {
      const keys = await api.apiKeys(org.id);
      if (current !== org) return;
      fill(
        list,
        keys.map((key) => row(org, key)),
      );
      empty.hidden = keys.length > 0;
    } catch (error) {
      message.show(error instanceof ApiError ? error.message : String(error));
    }
  }

  function row(org: Org, key: ApiKey): HTMLLIElement {
    const revoke = h(
      'button',
      { type: 'button', class: 'button small danger', 'aria-label': `Revoke the API key ${key.name}` },
      'Revoke',
    );
    revoke.addEventListener('click', async () => {
      const yes = await confirmDialog({
        title: 'Revoke API key?',
        message: `"${key.name}" stops working at once, for every bot or script that uses it. This cannot be undone.`,
        confirmLabel: 'Revoke',
        danger: true,
      });
      if (!yes) return;
      try {
        await api.revokeApiKey(org.id, key.id);
        await load();
      } catch (error) {
        message.show(error instanceof ApiError ? error.message : String(error));
      }
    });
    const expired = key.expires_at !== null && Date.parse(key.expires_at) <= Date.now();
    const expires = key.expires_at
      ? `${expired ? 'Expired' : 'Expires'} ${formatDate(key.expires_at)}`
      : 'Never expires';
    return h(
      'li',
      { class: 'member api-key', dataset: { keyId: key.id } },
      h(
        'div',
        { class: 'member-who' },
        h('strong', null, key.name),
        h('small', { class: 'key-prefix' }, `${key.prefix}_…`),
        h('small', null, `Created ${formatDate(key.created_at)} by ${key.creator_name || key.creator_email}`),
        h(
          'small',
          null,
          `${key.last_used_at ? `Last used ${formatDate(key.last_used_at)}` : 'Never used'} · ${expires}`,
        ),
      ),
      ...key.scopes.map((scope) => h('span', { class: 'badge' }, scope)),
      revoke,
    );
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    createMessage.clear();
    tokenBox.hidden = true;
    const org = current;
    if (!mayManage(org)) return;
    const scopes = (Object.keys(boxes) as Scope[]).filter((scope) => boxes[scope].checked);
    if (!name.value.trim()) return createMessage.show('Give the key a name.');
    if (scopes.length === 0) return createMessage.show('Choose at least one scope.');
    const days = Number(expiry.value);
    try {
      const { api_key, token } = await api.createApiKey(org.id, {
        name: name.value.trim(),
        scopes,
        ...(days ? { expires_at: new Date(Date.now() + days * DAY_MS).toISOString() } : {}),
      });
      form.reset(); // before showing the token, which is a field of this form too
      tokenField.value = token;
      tokenBox.hidden = false;
      createMessage.show(`Created "${api_key.name}".`, 'success');
      await load();
    } catch (error) {
      createMessage.show(error instanceof ApiError ? error.message : String(error));
    }
  });

  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(tokenField.value);
      createMessage.show('Key copied.', 'info');
    } catch {
      // No clipboard access (an insecure page, or permission refused): leave it selected to copy by hand.
      tokenField.select();
      createMessage.show('Copy the selected key with Ctrl+C (⌘C on a Mac).', 'info');
    }
  });

  return {
    element,
    async show(org) {
      current = org;
      element.hidden = !mayManage(org);
      createMessage.clear();
      tokenBox.hidden = true;
      tokenField.value = '';
      fill(list);
      await load();
    },
  };
}
