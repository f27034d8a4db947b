import { Type } from 'typebox';
import { ref } from '../http/openapi.ts';
import { OrgWithRoleSchema } from '../orgs/orgs.schemas.ts';
import { Text } from '../text-policy.ts';

/**
 * Request and response shapes of /api/auth. Bodies reject unknown properties; strings are bounded so
 * no request can make the server hash or store an unbounded value, and follow the text rules of
 * src/text-policy.ts. Length and strength rules with their explanations live in credentials.ts (they
 * count characters after normalisation).
 */

const Email = Text('display', {
  minLength: 1,
  maxLength: 320,
  description: 'e-mail address (trimmed, lower-cased)',
});
// Generous bound: the policy (8 to 256 characters) is checked after NFKC normalisation with a clear message.
const Password = Text('password', { minLength: 1, maxLength: 1024 });
const Opaque = Text('plain', { maxLength: 1000 });

export const RegisterBody = Type.Object(
  {
    email: Email,
    password: Text('password', { maxLength: 1024, description: '8 to 256 characters, not a commonly used password' }),
    name: Type.Optional(Text('display', { maxLength: 200 })),
  },
  { additionalProperties: false },
);

export const LoginJsonBody = Type.Object({ email: Email, password: Password }, { additionalProperties: false });

/** The OAuth2 resource-owner password form (RFC 6749 §4.3.2), as FastAPI/OAuth2 clients send it. */
export const LoginFormBody = Type.Object(
  {
    username: Email,
    password: Password,
    grant_type: Type.Optional(Type.Literal('password')),
    scope: Type.Optional(Opaque),
    client_id: Type.Optional(Opaque),
    client_secret: Type.Optional(Opaque),
  },
  { additionalProperties: false },
);

export const RefreshBody = Type.Object(
  { refresh_token: Text('plain', { minLength: 1, maxLength: 512 }) },
  { additionalProperties: false },
);

export const UserSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    personal_org_id: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'User', description: 'An account' },
);

export const MeSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    name: Type.Union([Type.String(), Type.Null()]),
    personal_org_id: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    orgs: Type.Array(ref(OrgWithRoleSchema)),
  },
  { $id: 'Me', description: 'The signed-in user and their organisations, with their role in each' },
);

export const TokenPairSchema = Type.Object(
  {
    access_token: Type.String(),
    token_type: Type.Literal('bearer'),
    expires_in: Type.Integer({ description: 'seconds until the access token expires' }),
    refresh_token: Type.String({ description: 'opaque, single use: exchange it at /api/auth/refresh' }),
  },
  { $id: 'TokenPair', description: 'A short-lived access token and the refresh token that renews it' },
);
