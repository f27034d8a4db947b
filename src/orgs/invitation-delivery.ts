import type { InvitationView } from './invitations.repo.ts';

/**
 * How an invitation's secret token reaches the invitee. Earshot has no mail server, so the one
 * delivery today hands the token back to the inviter, who sends the link on by whatever channel they
 * trust. An SMTP sender would implement this interface, mail the link to `invitation.email` and
 * answer `{ via: 'email' }`, so the token never passes through the inviter and holding it would also
 * prove control of the mailbox; the API response already says which way the link went.
 */
export interface InvitationDelivery {
  deliver(invitation: InvitationView, token: string): Promise<DeliveryReceipt>;
}

export type DeliveryReceipt = { via: 'inviter'; token: string };

export const handToInviter: InvitationDelivery = {
  deliver: async (_invitation, token) => ({ via: 'inviter', token }),
};
