/**
 * Organisations: create one; see its members; for owners and admins, invite people by e-mail (the page
 * shows the link to send them, since Earshot sends no e-mail), see and revoke pending invitations, and
 * remove members. Invitations addressed to me are in invitations.ts, API keys in api-keys.ts. The rules
 * are docs/roles.md.
 */

import { type ApiClient, ApiError, type Invitation, type Member, type Org, type Role } from './api.ts';
import { apiKeysView } from './api-keys.ts';
import { confirmDialog, field, fieldError, fill, formatDate, h, notice } from './dom.ts';
import { incomingInvitations, inviteLink } from './invitations.ts';
import { orgSettingsSection } from './org-settings.ts';
import { webhooksPanel } from './webhooks.ts';

export interface OrgsView {
  element: HTMLElement;
  show(org: Org | null): Promise<void>;
  /** Lists the invitations addressed to me again (after an invite link was opened, say). */
  reloadIncoming(): Promise<void>;
}

const ROLE_TEXT: Record<Role, string> = { owner: 'Owner', admin: 'Admin', member: 'Member' };
const mayInvite = (org: Org | null): org is Org => !!org && !org.personal && org.role !== 'member';

export function orgsView(
  api: ApiClient,
  me: { id: string; email: string },
  onOrgAdded: (org: Org) => Promise<void>,
): OrgsView {
  const incoming = incomingInvitations(api, me.email, onOrgAdded);
  const keys = apiKeysView(api);
  const settings = orgSettingsSection(api);
  const webhooks = webhooksPanel(api);

  // --- create ---
  const newName = h('input', {
    type: 'text',
    name: 'org-name',
    required: true,
    maxLength: 200,
    autocomplete: 'organization',
  });
  const createMessage = notice();
  const createForm = h(
    'form',
    { class: 'stack' },
    field('Organisation name', newName),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Create organisation')),
    createMessage.element,
  );
  createForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    createMessage.clear();
    const name = newName.value.trim();
    if (!name) {
      fieldError(newName, createMessage, 'Give the organisation a name.');
      return;
    }
    try {
      const org = await api.createOrg(name);
      createForm.reset();
      await onOrgAdded(org);
      createMessage.show(`Created "${org.name}". It is now the organisation you work in.`, 'success');
    } catch (error) {
      fieldError(newName, createMessage, error instanceof ApiError ? error.message : String(error));
    }
  });

  // --- members ---
  const membersTitle = h('h2', { id: 'members-title' }, 'Members');
  const membersList = h('ul', { class: 'members' });
  const membersMessage = notice();
  const personalNote = h(
    'p',
    { class: 'hint', hidden: true },
    'This is your personal organisation; only you can see its recordings. Create an organisation to share recordings with others.',
  );

  // --- invite ---
  const email = h('input', { type: 'email', name: 'invite-email', required: true, autocomplete: 'off' });
  const role = h(
    'select',
    { name: 'invite-role' },
    h('option', { value: 'member' }, 'Member'),
    h('option', { value: 'admin' }, 'Admin'),
    h('option', { value: 'owner' }, 'Owner'),
  );
  const inviteMessage = notice();
  const linkField = h('input', { type: 'text', readOnly: true, class: 'invite-link', 'aria-label': 'Invite link' });
  const copy = h('button', { type: 'button', class: 'button small secondary' }, 'Copy link');
  const linkBox = h('div', { class: 'row', hidden: true }, linkField, copy);
  const inviteForm = h(
    'form',
    { class: 'stack', 'aria-label': 'Invite someone' },
    h('h3', null, 'Invite someone'),
    h('div', { class: 'row' }, field('E-mail address', email), field('Role', role)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Invite')),
    inviteMessage.element,
    linkBox,
  );
  const pendingList = h('ul', { class: 'members' });
  const pendingSection = h('div', { class: 'stack', hidden: true }, h('h3', null, 'Pending invitations'), pendingList);

  let current: Org | null = null;

  inviteForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    inviteMessage.clear();
    linkBox.hidden = true;
    if (!current) return;
    const address = email.value.trim();
    try {
      const { invitation, delivery } = await api.invite(current.id, address, role.value as Role);
      // The same answer whether or not the address has an account: the server does not say.
      inviteMessage.show(
        `Invitation for ${invitation.email} created. Earshot doesn't send e-mail: send them this link. ` +
          `It works once, for someone signed in as ${invitation.email}, until ${formatDate(invitation.expires_at)}.`,
        'success',
      );
      inviteForm.reset(); // before filling in the link, which is a field of this form too
      linkField.value = inviteLink(invitation.id, delivery.token);
      linkBox.hidden = false;
      await loadPending();
    } catch (error) {
      fieldError(email, inviteMessage, error instanceof ApiError ? error.message : String(error));
    }
  });

  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(linkField.value);
      inviteMessage.show('Link copied.', 'info');
    } catch {
      // No clipboard access (an insecure page, or permission refused): leave it selected to copy by hand.
      linkField.select();
      inviteMessage.show('Copy the selected link with Ctrl+C (⌘C on a Mac).', 'info');
    }
  });

  async function loadMembers(): Promise<void> {
    if (!current) return;
    const org = current;
    membersMessage.clear();
    try {
      const members = await api.members(org.id);
      if (current !== org) return;
      fill(
        membersList,
        members.map((member) => memberRow(org, member)),
      );
    } catch (error) {
      fill(membersList);
      membersMessage.show(error instanceof ApiError ? error.message : String(error));
    }
  }

  async function loadPending(): Promise<void> {
    const org = current;
    if (!mayInvite(org)) {
      pendingSection.hidden = true;
      return;
    }
    try {
      const invitations = await api.orgInvitations(org.id);
      if (current !== org) return;
      fill(
        pendingList,
        invitations.map((invitation) => pendingRow(org, invitation)),
      );
      pendingSection.hidden = invitations.length === 0;
    } catch (error) {
      membersMessage.show(error instanceof ApiError ? error.message : String(error));
    }
  }

  function memberRow(org: Org, member: Member): HTMLLIElement {
    const canManage = org.role === 'owner' || (org.role === 'admin' && member.role !== 'owner');
    const remove = h(
      'button',
      { type: 'button', class: 'button small danger', 'aria-label': `Remove ${member.email}` },
      'Remove',
    );
    remove.addEventListener('click', async () => {
      const yes = await confirmDialog({
        title: 'Remove member?',
        message: `${member.email} will lose access to "${org.name}" and its recordings.`,
        confirmLabel: 'Remove',
        danger: true,
      });
      if (!yes) return;
      try {
        await api.removeMember(org.id, member.user_id);
        await loadMembers();
      } catch (error) {
        membersMessage.show(error instanceof ApiError ? error.message : String(error));
      }
    });
    const isMe = member.user_id === me.id;
    return h(
      'li',
      { class: 'member' },
      h(
        'div',
        { class: 'member-who' },
        h('strong', null, member.name || member.email, isMe ? ' (you)' : ''),
        member.name ? h('small', null, member.email) : null,
        h('small', null, `Joined ${formatDate(member.joined_at)}`),
      ),
      h('span', { class: 'badge' }, ROLE_TEXT[member.role] ?? member.role),
      !org.personal && canManage && !isMe ? remove : null,
    );
  }

  function pendingRow(org: Org, invitation: Invitation): HTMLLIElement {
    const revoke = h(
      'button',
      { type: 'button', class: 'button small danger', 'aria-label': `Revoke the invitation for ${invitation.email}` },
      'Revoke',
    );
    revoke.addEventListener('click', async () => {
      try {
        await api.revokeInvitation(org.id, invitation.id);
        await loadPending();
      } catch (error) {
        membersMessage.show(error instanceof ApiError ? error.message : String(error));
      }
    });
    return h(
      'li',
      { class: 'member invitation' },
      h(
        'div',
        { class: 'member-who' },
        h('strong', null, invitation.email),
        h(
          'small',
          null,
          `Invited by ${invitation.inviter_name || invitation.inviter_email} · until ${formatDate(invitation.expires_at)}`,
        ),
      ),
      h('span', { class: 'badge' }, ROLE_TEXT[invitation.role]),
      // Only an owner revokes an invitation to become an owner (as only an owner makes one).
      invitation.role !== 'owner' || org.role === 'owner' ? revoke : null,
    );
  }

  const manage = h(
    'div',
    { class: 'stack' },
    personalNote,
    membersMessage.element,
    membersList,
    pendingSection,
    inviteForm,
    settings.element,
    keys.element,
  );

  const element = h(
    'div',
    { class: 'stack' },
    incoming.element,
    h(
      'div',
      { class: 'grid' },
      h('section', { class: 'card', 'aria-labelledby': 'members-title' }, membersTitle, manage),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'create-org-title' },
        h('h2', { id: 'create-org-title' }, 'New organisation'),
        createForm,
      ),
    ),
    webhooks.element,
  );

  return {
    element,
    async show(org) {
      current = org;
      membersTitle.textContent = org ? `Members of ${org.name}` : 'Members';
      personalNote.hidden = !org?.personal;
      inviteForm.hidden = !mayInvite(org);
      inviteMessage.clear();
      linkBox.hidden = true;
      // Only owners may invite owners.
      role.querySelector<HTMLOptionElement>('option[value="owner"]')!.hidden = org?.role !== 'owner';
      await Promise.all([loadMembers(), loadPending(), keys.show(org), settings.show(org), webhooks.show(org)]);
    },
    reloadIncoming: () => incoming.reload(),
  };
}
