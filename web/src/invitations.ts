/**
 * Invitations addressed to the signed-in person, and the invite link that brings them here.
 *
 * The link is `/#/invite/<invitation id>/<token>`: in the fragment, so the token is never sent to a
 * server in a request line, a log or a Referer. The page keeps it in sessionStorage (this tab only)
 * until the invitation is accepted or declined, so it survives signing in or registering first, and
 * takes it out of the address bar and history at once.
 */
import { type ApiClient, ApiError, type Invitation, type Org, type Role } from './api.ts';
import { fill, formatDate, h, notice } from './dom.ts';

const LINK_KEY = 'earshot.invite';
const LINK_ROUTE = /^#\/invite\/([^/]+)\/([^/]+)$/;
const ROLE_TEXT: Record<Role, string> = { owner: 'an owner', admin: 'an admin', member: 'a member' };

interface HeldLink {
  id: string;
  token: string;
}

export function inviteLink(id: string, token: string): string {
  return `${location.origin}${location.pathname}#/invite/${encodeURIComponent(id)}/${encodeURIComponent(token)}`;
}

/**
 * If the address is an invite link, keeps its id and token for this tab and replaces the address
 * with the organisations page. True when it was one.
 */
export function captureInviteLink(): boolean {
  const match = LINK_ROUTE.exec(location.hash);
  if (!match?.[1] || !match[2]) return false;
  const held: HeldLink = { id: decodeURIComponent(match[1]), token: decodeURIComponent(match[2]) };
  sessionStorage.setItem(LINK_KEY, JSON.stringify(held));
  history.replaceState(null, '', '#/org');
  return true;
}

function heldLink(): HeldLink | null {
  try {
    const held = JSON.parse(sessionStorage.getItem(LINK_KEY) ?? 'null') as HeldLink | null;
    return held && typeof held.id === 'string' && typeof held.token === 'string' ? held : null;
  } catch {
    return null;
  }
}

export interface IncomingView {
  element: HTMLElement;
  reload(): Promise<void>;
}

/** "Invitations for you": accept (with the link's token) or decline; hidden when there are none. */
export function incomingInvitations(
  api: ApiClient,
  myEmail: string,
  onJoined: (org: Org) => Promise<void>,
): IncomingView {
  const list = h('ul', { class: 'members' });
  const message = notice();
  const element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'incoming-title', hidden: true },
    h('h2', { id: 'incoming-title' }, 'Invitations for you'),
    message.element,
    list,
  );

  /** Lists the invitations again; `note` is what just happened (it stays visible when the list empties). */
  async function reload(note?: { text: string; kind: 'success' | 'info' }): Promise<void> {
    message.clear();
    let invitations: Invitation[];
    try {
      invitations = await api.myInvitations();
    } catch (error) {
      element.hidden = false;
      message.show(error instanceof ApiError ? error.message : String(error));
      return;
    }
    const held = heldLink();
    fill(
      list,
      invitations.map((invitation) => row(invitation, held?.id === invitation.id ? held.token : null)),
    );
    if (held && !invitations.some((i) => i.id === held.id)) {
      message.show(
        `The invite link you opened is not for ${myEmail}, or it has expired, been withdrawn or been replaced by a newer link. Sign in with the address it was sent to, or ask for a new link.`,
      );
    } else if (note) {
      message.show(note.text, note.kind);
    }
    element.hidden = invitations.length === 0 && message.element.hidden;
  }

  function row(invitation: Invitation, token: string | null): HTMLLIElement {
    const inviter = invitation.inviter_name || invitation.inviter_email;
    const org = invitation.org_name;
    const accept = h(
      'button',
      { type: 'button', class: 'button small primary', 'aria-label': `Accept the invitation to ${org}` },
      'Accept',
    );
    const decline = h(
      'button',
      { type: 'button', class: 'button small secondary', 'aria-label': `Decline the invitation to ${org}` },
      'Decline',
    );
    accept.addEventListener('click', async () => {
      if (!token) return;
      message.clear();
      try {
        const joined = await api.acceptInvitation(invitation.id, token);
        sessionStorage.removeItem(LINK_KEY);
        await onJoined(joined);
        await reload({ text: `You joined "${joined.name}". It is now the organisation you work in.`, kind: 'success' });
      } catch (error) {
        message.show(error instanceof ApiError ? error.message : String(error));
      }
    });
    decline.addEventListener('click', async () => {
      message.clear();
      try {
        await api.declineInvitation(invitation.id);
        if (heldLink()?.id === invitation.id) sessionStorage.removeItem(LINK_KEY);
        await reload({ text: `You declined the invitation to "${org}".`, kind: 'info' });
      } catch (error) {
        message.show(error instanceof ApiError ? error.message : String(error));
      }
    });
    return h(
      'li',
      { class: 'member invitation' },
      h(
        'div',
        { class: 'member-who' },
        h('strong', null, invitation.org_name),
        h('small', null, `${inviter} invited you as ${ROLE_TEXT[invitation.role]}`),
        h('small', null, `Until ${formatDate(invitation.expires_at)}`),
        token ? null : h('small', null, `To accept, open the invite link ${inviter} sent you.`),
      ),
      token ? accept : null,
      decline,
    );
  }

  return { element, reload };
}
