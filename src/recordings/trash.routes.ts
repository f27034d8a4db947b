import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors, noContent, ref, response } from '../http/openapi.ts';
import { Text } from '../text-policy.ts';
import { IdParams, RecordingJson, toRecordingJson } from './recordings.schemas.ts';
import type { TrashItem, TrashService } from './trash.service.ts';

export interface TrashRoutesOptions {
  trash: TrashService;
  tokens: TokenService;
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Strict = { additionalProperties: false } as const;
const OrgId = Text('plain', {
  minLength: 1,
  maxLength: 64,
  description: 'Only this organisation (default: all yours)',
});

export const TrashedRecordingJson = Type.Object(
  {
    ...RecordingJson.properties,
    deleted_at: Type.String({ format: 'date-time', description: 'When it was moved to the trash.' }),
    deleted_by: Nullable(
      Type.Object(
        { id: Type.String(), email: Type.String(), name: Nullable(Type.String()) },
        { description: "Who deleted it (an API key's creator for a key); null when that account is gone." },
      ),
    ),
    purge_at: Type.String({
      format: 'date-time',
      description: "When it will be deleted for good, by the organisation's retention as it is now.",
    }),
  },
  { $id: 'TrashedRecording', description: 'A recording in the trash: when, by whom, and until when' },
);

export const TrashPage = Type.Object(
  { items: Type.Array(ref(TrashedRecordingJson)), next_cursor: Nullable(Type.String()) },
  { $id: 'TrashPage', description: 'A page of the trash, most recently deleted first' },
);

export const EmptiedTrash = Type.Object(
  {
    deleted: Type.Integer({ description: 'Recordings deleted for good.' }),
    kept: Type.Integer({ description: 'Recordings left in the trash that only an admin or owner may delete.' }),
  },
  { $id: 'EmptiedTrash', description: 'What emptying the trash did' },
);

const TrashQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    before: Type.Optional(Text('plain', { maxLength: 512, description: 'next_cursor of the previous page' })),
    org_id: Type.Optional(OrgId),
  },
  Strict,
);

const EmptyQuery = Type.Object({ org_id: Type.Optional(OrgId) }, Strict);

const toTrashedJson = ({ recording, purgeAt }: TrashItem) => ({
  ...toRecordingJson(recording),
  deleted_at: recording.deleted_at!,
  deleted_by:
    recording.deleted_by && recording.deleted_by_email
      ? { id: recording.deleted_by, email: recording.deleted_by_email, name: recording.deleted_by_name }
      : null,
  purge_at: purgeAt,
});

const failures = errors(401, 403, 404, 409, 422, 503);

/** The trash (src/recordings/trash.service.ts): list, restore, delete for good, empty. */
export const trashRoutes: FastifyPluginAsyncTypebox<TrashRoutesOptions> = async (app, options) => {
  const { trash } = options;
  app.addHook('preHandler', authenticate(options.tokens));

  app.get(
    '/api/trash',
    {
      schema: {
        tags: ['recordings'],
        operationId: 'listTrash',
        summary: 'Deleted recordings, most recently deleted first',
        description:
          'The trash of every organisation you belong to, or of `org_id` only. Each recording says when it was ' +
          "deleted, by whom, and when it will be deleted for good (`purge_at`, by the organisation's " +
          '`trash_retention_days`). Pass `next_cursor` back as `before` for the next page.',
        querystring: TrashQuery,
        response: { 200: response('A page of the trash', TrashPage), ...failures },
      },
    },
    async (request) => {
      const page = await trash.list(request.user, {
        limit: request.query.limit,
        ...(request.query.org_id ? { orgId: request.query.org_id } : {}),
        ...(request.query.before ? { before: request.query.before } : {}),
      });
      return { items: page.items.map(toTrashedJson), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/api/recordings/:id/restore',
    {
      schema: {
        tags: ['recordings'],
        operationId: 'restoreRecording',
        summary: 'Take a deleted recording out of the trash',
        description:
          'Undoes DELETE /api/recordings/{id}: the recording is listed again as it is now (processing that went on ' +
          'in the trash included). Who may delete a recording may restore it. 409 when it is not in the trash.',
        params: IdParams,
        response: { 200: response('Restored: the recording as it is now', RecordingJson), ...failures },
      },
    },
    async (request) => toRecordingJson(await trash.restore(request.user, request.params.id)),
  );

  app.delete(
    '/api/trash/:id',
    {
      schema: {
        tags: ['recordings'],
        operationId: 'purgeRecording',
        summary: 'Delete a recording in the trash for good',
        description:
          'Its audio, what was received for it and its transcript are deleted at once; this cannot be undone. ' +
          '404 when the recording is not in the trash.',
        params: IdParams,
        response: { 204: noContent('Deleted for good'), ...failures },
      },
    },
    async (request, reply) => {
      await trash.deleteForever(request.user, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/api/trash',
    {
      schema: {
        tags: ['recordings'],
        operationId: 'emptyTrash',
        summary: 'Empty the trash',
        description:
          'Deletes for good every recording in the trash of `org_id` (default: of all your organisations) that you ' +
          'may delete: members their own, admins and owners all. `kept` counts the others.',
        querystring: EmptyQuery,
        response: { 200: response('The trash is emptied of what you may delete', EmptiedTrash), ...failures },
      },
    },
    async (request) => trash.empty(request.user, request.query.org_id),
  );
};
