/**
 * Organisations: create one, see its members, add members by e-mail (they need an account) and
 * remove them. Admins and owners manage members; anyone can create an organisation.
 */
import { type ApiClient, ApiError, type Member, type Org, type Role } from './api.ts';
import { confirmDialog, field, fill, formatDate, h, notice } from './dom.ts';

export interface OrgsView {
  element: HTMLElement;
  show(org: Org | null): Promise<void>;
}

const ROLE_TEXT: Record<Role, string> = { owner: 'Owner', admin: 'Admin', member: 'Member' };

export function orgsView(api: ApiClient, myUserId: string, onOrgCreated: (org: Org) => Promise<void>): OrgsView {
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
      createMessage.show('Give the organisation a name.');
      return;
    }
    try {
      const org = await api.createOrg(name);
      createForm.reset();
      await onOrgCreated(org);
      createMessage.show(`Created "${org.name}". It is now the organisation you work in.`, 'success');
    } catch (error) {
      createMessage.show(error instanceof ApiError ? error.message : String(error));
    }
  });

  // --- members ---
  const membersTitle = h('h2', { id: 'members-title' }, 'Members');
  const membersList = h('ul', { class: 'members' });
  const membersMessage = notice();
  const email = h('input', { type: 'email', name: 'member-email', required: true, autocomplete: 'off' });
  const role = h(
    'select',
    { name: 'member-role' },
    h('option', { value: 'member' }, 'Member'),
    h('option', { value: 'admin' }, 'Admin'),
    h('option', { value: 'owner' }, 'Owner'),
  );
  const addMessage = notice();
  const addForm = h(
    'form',
    { class: 'stack', 'aria-label': 'Add a member' },
    h('div', { class: 'row' }, field('E-mail of an existing account', email), field('Role', role)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Add member')),
    addMessage.element,
  );
  const personalNote = h(
    'p',
    { class: 'hint', hidden: true },
    'This is your personal organisation; only you can see its recordings. Create an organisation to share recordings with others.',
  );

  let current: Org | null = null;

  addForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    addMessage.clear();
    if (!current) return;
    try {
      await api.addMember(current.id, email.value.trim(), role.value as Role);
      addMessage.show(`Added ${email.value.trim()}.`, 'success');
      addForm.reset();
      await loadMembers();
    } catch (error) {
      const address = email.value.trim();
      const noAccount =
        error instanceof ApiError &&
        (error.status === 404 || (error.details as { field?: string } | undefined)?.field === 'email');
      addMessage.show(
        noAccount
          ? `No account uses ${address}. Ask them to register first, then add them.`
          : error instanceof ApiError
            ? error.message
            : String(error),
      );
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
    const joined = (member as Member & { joined_at?: string }).joined_at;
    const isMe = member.user_id === myUserId;
    return h(
      'li',
      { class: 'member' },
      h(
        'div',
        { class: 'member-who' },
        h('strong', null, member.name || member.email, isMe ? ' (you)' : ''),
        member.name ? h('small', null, member.email) : null,
        joined ? h('small', null, `Joined ${formatDate(joined)}`) : null,
      ),
      h('span', { class: 'badge' }, ROLE_TEXT[member.role] ?? member.role),
      !org.personal && canManage && !isMe ? remove : null,
    );
  }

  const manage = h('div', { class: 'stack' }, personalNote, membersMessage.element, membersList, addForm);

  const element = h(
    'div',
    { class: 'grid' },
    h('section', { class: 'card', 'aria-labelledby': 'members-title' }, membersTitle, manage),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'create-org-title' },
      h('h2', { id: 'create-org-title' }, 'New organisation'),
      createForm,
    ),
  );

  return {
    element,
    async show(org) {
      current = org;
      membersTitle.textContent = org ? `Members of ${org.name}` : 'Members';
      personalNote.hidden = !org?.personal;
      const canManage = org !== null && !org.personal && (org.role === 'owner' || org.role === 'admin');
      addForm.hidden = !canManage;
      // Only owners may grant the owner role.
      role.querySelector<HTMLOptionElement>('option[value="owner"]')!.hidden = org?.role !== 'owner';
      await loadMembers();
    },
  };
}
