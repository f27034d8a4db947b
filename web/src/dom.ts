/**
 * A few lines instead of a framework: `h()` builds elements, and each screen owns the elements it
 * builds and updates them directly when its state changes.
 */
type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown> & {
  class?: string;
  dataset?: Record<string, string>;
  style?: Partial<CSSStyleDeclaration>;
};

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') element.className = String(value);
      else if (key === 'dataset') Object.assign(element.dataset, value);
      else if (key === 'style') Object.assign(element.style, value);
      else if (key.startsWith('on') && typeof value === 'function') {
        element.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
      } else if (key in element && !key.includes('-') && key !== 'list' && key !== 'form') {
        (element as any)[key] = value;
      } else {
        element.setAttribute(key, value === true ? '' : String(value));
      }
    }
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: (Child | Child[])[]): void {
  for (const child of children) {
    if (Array.isArray(child)) append(parent, child);
    else if (child === null || child === undefined || child === false) continue;
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: (Child | Child[])[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let idCounter = 0;
/** A unique id for label/aria wiring. */
export const uid = (prefix: string): string => `${prefix}-${++idCounter}`;

/** A labelled form field: `<div class="field"><label for>…</label><input id>…</div>`. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLDivElement {
  control.id ||= uid('f');
  const hintEl = hint ? h('small', { id: `${control.id}-hint`, class: 'hint' }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { htmlFor: control.id }, label), control, hintEl);
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const total = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  const mm = String(minutes).padStart(hours ? 2 : 1, '0');
  return `${hours ? `${hours}:` : ''}${mm}:${String(secs).padStart(2, '0')}`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '–';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateFormat.format(date);
}

/** An aria-live message line; `show(text, kind)` replaces the message, `clear()` hides it. */
export interface Notice {
  element: HTMLElement;
  show(text: string, kind?: 'error' | 'info' | 'success'): void;
  clear(): void;
}

export function notice(): Notice {
  const element = h('p', { class: 'notice', hidden: true, id: uid('notice') });
  // role=alert for errors is announced immediately; status for the rest is polite.
  return {
    element,
    show(text, kind = 'error') {
      element.className = `notice notice-${kind}`;
      element.setAttribute('role', kind === 'error' ? 'alert' : 'status');
      element.textContent = text;
      element.hidden = false;
    },
    clear() {
      element.hidden = true;
      element.textContent = '';
    },
  };
}

/**
 * Says what is wrong with a field and puts the focus on it: the message in `where`, the field marked
 * invalid and described by the message (screen readers read both), until it is edited.
 */
export function fieldError(control: HTMLInputElement | HTMLSelectElement, where: Notice, text: string): void {
  where.show(text);
  control.setAttribute('aria-invalid', 'true');
  const described = (control.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
  if (!described.includes(where.element.id)) described.push(where.element.id);
  control.setAttribute('aria-describedby', described.join(' '));
  control.addEventListener(
    'input',
    () => {
      control.removeAttribute('aria-invalid');
      const rest = described.filter((id) => id !== where.element.id);
      if (rest.length) control.setAttribute('aria-describedby', rest.join(' '));
      else control.removeAttribute('aria-describedby');
    },
    { once: true },
  );
  control.focus();
}

/**
 * The page's one toast: a message at the bottom of the window with an optional action ("Undo"). It
 * stays until closed, replaced or acted on, so nobody has to be quick; with an action the focus moves
 * to it, so a keyboard or screen reader user hears it and can use it at once (Esc closes).
 */
export interface Toast {
  element: HTMLElement;
  show(text: string, action?: { label: string; run: () => Promise<void> }): void;
  hide(): void;
}

export function toast(): Toast {
  const text = h('p', { class: 'toast-text' });
  const action = h('button', { type: 'button', class: 'button small primary' });
  const close = h('button', { type: 'button', class: 'button small secondary', 'aria-label': 'Close' }, '×');
  const element = h(
    'div',
    { class: 'toast', role: 'status', hidden: true },
    text,
    h('div', { class: 'actions' }, action, close),
  );
  let run: (() => Promise<void>) | null = null;
  const hide = () => {
    element.hidden = true;
    run = null;
  };
  action.addEventListener('click', async () => {
    const current = run;
    if (!current) return;
    action.disabled = true;
    try {
      await current();
    } finally {
      action.disabled = false;
    }
  });
  close.addEventListener('click', hide);
  element.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') hide();
  });
  return {
    element,
    show(message, next) {
      text.textContent = message;
      run = next?.run ?? null;
      action.hidden = !next;
      action.textContent = next?.label ?? '';
      element.hidden = false;
      if (next) action.focus();
    },
    hide,
  };
}

/** A modal confirmation built on <dialog> (focus trapping and Esc come with it). Resolves true on confirm. */
export function confirmDialog(options: {
  title: string;
  message: string;
  confirmLabel: string;
  danger?: boolean;
}): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const cancel = h('button', { type: 'button', class: 'button secondary', value: 'cancel' }, 'Cancel');
    const confirm = h(
      'button',
      { type: 'submit', class: `button ${options.danger ? 'danger' : 'primary'}`, value: 'confirm' },
      options.confirmLabel,
    );
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: titleId }, options.title),
        h('p', null, options.message),
        h('div', { class: 'actions' }, cancel, confirm),
      ),
    );
    cancel.addEventListener('click', () => dialog.close('cancel'));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
