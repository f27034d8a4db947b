import { Type } from 'typebox';
import { ref } from '../http/openapi.ts';
import { Text } from '../text-policy.ts';

export const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')], {
  description:
    'member: see, play and record; rename and delete own recordings. admin: also manage every recording, invite and remove members and admins. owner: also invite and remove owners. See docs/roles.md',
});

export const OrgWithRoleSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    personal: Type.Boolean({ description: "true for the user's own organisation made at registration" }),
    role: Role,
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Organisation', description: 'An organisation, with the role of the user asking in it' },
);

export const MemberSchema = Type.Object(
  {
    user_id: Type.String(),
    email: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    role: Role,
    joined_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'Member', description: 'A member of an organisation' },
);

const OrgName = Text('display', { minLength: 1, maxLength: 200 });
export const Id = Text('plain', { minLength: 1, maxLength: 100 });

export const CreateOrgBody = Type.Object({ name: OrgName }, { additionalProperties: false });
export const OrgParams = Type.Object({ id: Id });
export const MemberParams = Type.Object({ id: Id, userId: Id });

export const OrgListSchema = Type.Object({ orgs: Type.Array(ref(OrgWithRoleSchema)) }, { $id: 'OrganisationList' });
export const MemberListSchema = Type.Object({ members: Type.Array(ref(MemberSchema)) }, { $id: 'MemberList' });
