import { Type } from 'typebox';
import { ref } from '../http/openapi.ts';
import { Text } from '../text-policy.ts';
import { Id, Role } from './orgs.schemas.ts';

export const InvitationSchema = Type.Object(
  {
    id: Type.String(),
    org_id: Type.String(),
    org_name: Type.String(),
    email: Type.String({ description: 'the invited address, trimmed and lower-cased' }),
    role: Role,
    inviter_email: Type.String(),
    inviter_name: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    expires_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Invitation', description: 'A pending invitation (never its token)' },
);

export const InvitationListSchema = Type.Object(
  { invitations: Type.Array(ref(InvitationSchema)) },
  { $id: 'InvitationList' },
);

export const InviteResultSchema = Type.Object(
  {
    invitation: ref(InvitationSchema),
    delivery: Type.Object(
      {
        via: Type.Literal('inviter', {
          description: 'Earshot sends no e-mail: the token comes back to the inviter, who passes the link on',
        }),
        token: Type.String({
          description:
            'the secret the invitee needs to accept; shown once. The web page link is /#/invite/<invitation id>/<token>',
        }),
      },
      { description: 'how the invite link reaches the invitee' },
    ),
  },
  { $id: 'InviteResult', description: 'A new invitation and its secret token, shown this once' },
);

export const InviteBody = Type.Object(
  { email: Text('display', { minLength: 1, maxLength: 320 }), role: Role },
  { additionalProperties: false },
);
export const AcceptBody = Type.Object(
  { token: Text('plain', { minLength: 1, maxLength: 200, description: 'the token from the invite link' }) },
  { additionalProperties: false },
);
export const InvitationParams = Type.Object({ id: Id });
export const OrgInvitationParams = Type.Object({ id: Id, invitationId: Id });
