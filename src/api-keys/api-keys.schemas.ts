import { Type } from 'typebox';
import { SCOPES } from '../auth/principal.ts';
import { ref } from '../http/openapi.ts';
import { Id } from '../orgs/orgs.schemas.ts';
import { Text } from '../text-policy.ts';

// The literals of SCOPES (src/auth/principal.ts), written out so the static type is the Scope union.
export const ScopeSchema = Type.Union([Type.Literal(SCOPES[0]), Type.Literal(SCOPES[1]), Type.Literal(SCOPES[2])], {
  description:
    'read: list, inspect, play and download recordings. record: upload, stream and record live, and rename or delete ' +
    'the recordings its creator made. admin: manage the organisation (its API keys, members, invitations, every recording). ' +
    "A key never does more than its creator's role allows. See docs/roles.md",
});

export const ApiKeySchema = Type.Object(
  {
    id: Type.String(),
    org_id: Type.String(),
    name: Type.String(),
    scopes: Type.Array(ScopeSchema),
    prefix: Type.String({ description: 'the start of the token, esk_<id>, to recognise the key; not a secret' }),
    creator_id: Type.String({ description: 'the member who created the key; recordings made with it are theirs' }),
    creator_email: Type.String(),
    creator_name: Type.Union([Type.String(), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'null: never' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'when the key was last accepted, to the minute; null: never used',
    }),
  },
  { $id: 'ApiKey', description: 'An API key of an organisation (never its secret)' },
);

export const ApiKeyListSchema = Type.Object({ api_keys: Type.Array(ref(ApiKeySchema)) }, { $id: 'ApiKeyList' });

export const CreatedApiKeySchema = Type.Object(
  {
    api_key: ref(ApiKeySchema),
    token: Type.String({
      description:
        'the key itself, esk_<id>_<secret>: send it as `Authorization: Bearer <token>` or as the live socket\'s {"token"}. ' +
        'Shown once; only a hash of the secret is stored, so a lost key cannot be shown again: create another',
    }),
  },
  { $id: 'CreatedApiKey', description: 'A new API key and its token, shown this once' },
);

export const CreateApiKeyBody = Type.Object(
  {
    name: Text('display', { minLength: 1, maxLength: 200, description: 'what the key is for, e.g. "meeting bot"' }),
    scopes: Type.Array(ScopeSchema, { minItems: 1, maxItems: SCOPES.length, uniqueItems: true }),
    expires_at: Type.Optional(
      Text('plain', {
        format: 'date-time',
        description: 'when the key stops working; without it, never (until revoked)',
      }),
    ),
  },
  { additionalProperties: false },
);

export const ApiKeyParams = Type.Object({ id: Id, keyId: Id });
