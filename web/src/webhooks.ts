/**
 * Webhooks of the organisation, for its owners and admins: add an endpoint (URL and events; its signing
 * secret is shown once), rotate the secret, disable or enable, send a test event, delete, and each
 * endpoint's delivery log with "Send again". Types and event names come from the server's own
 * definitions (src/webhooks/), so the page and the API cannot drift apart.
 */
import { EVENT_DESCRIPTIONS, EVENT_TYPES } from '../../src/webhooks/event-types.ts';
import type {
  DeliveryJson,
  DeliveryList,
  EndpointJson,
  EndpointWithSecret,
} from '../../src/webhooks/webhooks.schemas.ts';
import { type ApiClient, ApiError, type Org } from './api.ts';
import { confirmDialog, field, fill, formatDate, h, notice } from './dom.ts';

export interface WebhooksPanel {
  element: HTMLElement;
  show(org: Org | null): Promise<void>;
}

const STATUS_CLASS: Record<DeliveryJson['status'], string> = {
  pending: 'status-processing',
  delivered: 'status-ready',
  failed: 'status-failed',
  cancelled: '',
};
/** While a shown log has pending deliveries, it is read again this often. */
const LOG_REFRESH_MS = 2000;

const message = (error: unknown) => (error instanceof ApiError ? error.message : String(error));
const mayManage = (org: Org | null): org is Org => !!org && org.role !== 'member';

export function webhooksPanel(api: ApiClient): WebhooksPanel {
  let current: Org | null = null;
  const base = () => `/api/orgs/${encodeURIComponent(current!.id)}/webhooks`;
  const status = notice();
  const list = h('ul', { class: 'members webhooks' });

  // --- the secret, shown once ---
  const secretField = h('input', {
    type: 'text',
    readOnly: true,
    class: 'invite-link',
    'aria-label': 'Signing secret',
  });
  const copySecret = h('button', { type: 'button', class: 'button small secondary' }, 'Copy secret');
  const secretText = h('p', { class: 'hint' });
  const secretBox = h(
    'div',
    { class: 'stack', hidden: true },
    secretText,
    h('div', { class: 'row' }, secretField, copySecret),
  );
  copySecret.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secretField.value);
      status.show('Secret copied.', 'info');
    } catch {
      secretField.select();
      status.show('Copy the selected secret with Ctrl+C (⌘C on a Mac).', 'info');
    }
  });
  const showSecret = (endpoint: EndpointJson, secret: string, rotated: boolean) => {
    secretField.value = secret;
    secretText.textContent =
      `Signing secret for ${endpoint.url}: copy it now, it is not shown again. ` +
      (rotated && endpoint.previous_secret_until
        ? `The old secret also signs until ${formatDate(endpoint.previous_secret_until)}.`
        : 'Verify every delivery with it (Standard Webhooks).');
    secretBox.hidden = false;
  };

  // --- add ---
  const url = h('input', {
    type: 'url',
    name: 'webhook-url',
    required: true,
    placeholder: 'https://',
    maxLength: 2048,
  });
  const description = h('input', { type: 'text', name: 'webhook-description', maxLength: 500 });
  const boxes = EVENT_TYPES.map((type) =>
    h('input', { type: 'checkbox', name: 'webhook-event', value: type, checked: true }),
  );
  const addForm = h(
    'form',
    { class: 'stack', 'aria-label': 'Add a webhook endpoint' },
    h('h3', null, 'Add an endpoint'),
    h('div', { class: 'row' }, field('Endpoint URL', url), field('Description (optional)', description)),
    h(
      'fieldset',
      null,
      h('legend', null, 'Events'),
      boxes.map((box) =>
        h(
          'label',
          { class: 'check', title: EVENT_DESCRIPTIONS[box.value as keyof typeof EVENT_DESCRIPTIONS] },
          box,
          box.value,
        ),
      ),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Add endpoint')),
  );
  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.clear();
    const eventTypes = boxes.filter((box) => box.checked).map((box) => box.value);
    if (eventTypes.length === 0) {
      status.show('Choose at least one event.');
      return;
    }
    try {
      const created = await api.request<EndpointWithSecret>('POST', base(), {
        url: url.value.trim(),
        ...(description.value.trim() ? { description: description.value.trim() } : {}),
        event_types: eventTypes,
      });
      addForm.reset();
      showSecret(created.endpoint, created.secret, false);
      await load();
    } catch (error) {
      status.show(message(error));
    }
  });

  async function load(): Promise<void> {
    const org = current;
    if (!mayManage(org)) return;
    try {
      const { endpoints } = await api.get<{ endpoints: EndpointJson[] }>(base());
      if (current !== org) return;
      fill(list, endpoints.length ? endpoints.map(endpointRow) : h('li', { class: 'empty' }, 'No endpoints yet.'));
    } catch (error) {
      status.show(message(error));
    }
  }

  function endpointRow(endpoint: EndpointJson): HTMLLIElement {
    const route = `${base()}/${encodeURIComponent(endpoint.id)}`;
    const act = (label: string, run: () => Promise<void>, danger = false) => {
      const button = h(
        'button',
        {
          type: 'button',
          class: `button small ${danger ? 'danger' : 'secondary'}`,
          'aria-label': `${label}: ${endpoint.url}`,
        },
        label,
      );
      button.addEventListener('click', async () => {
        status.clear();
        button.disabled = true;
        try {
          await run();
        } catch (error) {
          status.show(message(error));
        } finally {
          button.disabled = false;
        }
      });
      return button;
    };
    const log = deliveryLog(route);
    const logToggle = h(
      'button',
      {
        type: 'button',
        class: 'button small secondary',
        'aria-expanded': 'false',
        'aria-label': `Delivery log: ${endpoint.url}`,
      },
      'Delivery log',
    );
    logToggle.addEventListener('click', async () => {
      const open = log.element.hidden;
      logToggle.setAttribute('aria-expanded', String(open));
      if (open) await log.open();
      else log.close();
    });
    return h(
      'li',
      { class: 'member webhook' },
      h(
        'div',
        { class: 'member-who' },
        h('strong', null, endpoint.url),
        endpoint.description ? h('small', null, endpoint.description) : null,
        h('small', null, `Events: ${endpoint.event_types.join(', ')}`),
        endpoint.enabled ? null : h('small', { class: 'error-text' }, `Disabled: ${endpoint.disabled_reason ?? ''}`),
      ),
      h(
        'span',
        { class: `badge ${endpoint.enabled ? 'status-ready' : 'status-failed'}` },
        endpoint.enabled ? 'Enabled' : 'Disabled',
      ),
      h(
        'div',
        { class: 'actions' },
        logToggle,
        endpoint.enabled
          ? act('Send test', async () => {
              await api.request('POST', `${route}/test`);
              await log.open();
              logToggle.setAttribute('aria-expanded', 'true');
            })
          : null,
        act('Rotate secret', async () => {
          const yes = await confirmDialog({
            title: 'Rotate the signing secret?',
            message:
              'A new secret is made and shown once. The old one keeps signing beside it for a day, so the receiver can switch.',
            confirmLabel: 'Rotate',
          });
          if (!yes) return;
          const rotated = await api.request<EndpointWithSecret>('POST', `${route}/rotate-secret`, {});
          showSecret(rotated.endpoint, rotated.secret, true);
        }),
        act(endpoint.enabled ? 'Disable' : 'Enable', async () => {
          await api.request('PATCH', route, { enabled: !endpoint.enabled });
          await load();
        }),
        act(
          'Delete',
          async () => {
            const yes = await confirmDialog({
              title: 'Delete endpoint?',
              message: `${endpoint.url} will receive no more events, and its delivery log is deleted.`,
              confirmLabel: 'Delete',
              danger: true,
            });
            if (!yes) return;
            await api.request('DELETE', route);
            await load();
          },
          true,
        ),
      ),
      log.element,
    );
  }

  /** One endpoint's delivery log: newest first, read again while something is pending. */
  function deliveryLog(route: string) {
    const body = h('tbody');
    const element = h(
      'div',
      { class: 'delivery-log', hidden: true },
      h(
        'table',
        null,
        h('caption', { class: 'visually-hidden' }, 'Delivery log'),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['Time', 'Event', 'Status', 'Response', 'Attempts', ''].map((title) => h('th', { scope: 'col' }, title)),
          ),
        ),
        body,
      ),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;

    const row = (delivery: DeliveryJson) => {
      const again = h('button', { type: 'button', class: 'button small secondary' }, 'Send again');
      again.addEventListener('click', async () => {
        status.clear();
        try {
          await api.request('POST', `${route}/deliveries/${encodeURIComponent(delivery.id)}/resend`);
          await refresh();
        } catch (error) {
          status.show(message(error));
        }
      });
      const response = delivery.last_status_code ? `HTTP ${delivery.last_status_code}` : (delivery.last_error ?? '–');
      return h(
        'tr',
        { dataset: { status: delivery.status, messageId: delivery.message_id } },
        h('td', null, formatDate(delivery.created_at)),
        h('td', null, delivery.event_type),
        h('td', null, h('span', { class: `badge ${STATUS_CLASS[delivery.status]}` }, delivery.status)),
        h('td', { title: delivery.last_error ?? '' }, response),
        h('td', null, String(delivery.attempts)),
        h('td', null, delivery.status === 'pending' ? null : again),
      );
    };

    async function refresh(): Promise<void> {
      clearTimeout(timer);
      const { items } = await api.get<DeliveryList>(`${route}/deliveries?limit=50`);
      fill(
        body,
        items.length ? items.map(row) : h('tr', null, h('td', { colSpan: 6, class: 'empty' }, 'Nothing sent yet.')),
      );
      if (!element.hidden && element.isConnected && items.some((item) => item.status === 'pending')) {
        timer = setTimeout(() => void refresh().catch((error: unknown) => status.show(message(error))), LOG_REFRESH_MS);
      }
    }

    return {
      element,
      async open() {
        element.hidden = false;
        await refresh();
      },
      close() {
        clearTimeout(timer);
        element.hidden = true;
      },
    };
  }

  const element = h(
    'section',
    { class: 'card stack', 'aria-labelledby': 'webhooks-title', hidden: true },
    h('h2', { id: 'webhooks-title' }, 'Webhooks'),
    h(
      'p',
      { class: 'hint' },
      'Earshot POSTs signed events (Standard Webhooks) to these URLs when recordings start, are ready, fail or are deleted. Failed deliveries are retried for about a day.',
    ),
    status.element,
    list,
    secretBox,
    addForm,
  );

  return {
    element,
    async show(org) {
      current = org;
      element.hidden = !mayManage(org);
      secretBox.hidden = true;
      status.clear();
      fill(list);
      await load();
    },
  };
}
