import { type FastifyPluginAsyncTypebox, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TokenService } from '../auth/tokens.ts';
import { authenticate } from '../http/authenticate.ts';
import { errors, response } from '../http/openapi.ts';
import { OrgParams } from './orgs.schemas.ts';
import { MAX_TRASH_RETENTION_DAYS, type OrgSettings } from './settings.repo.ts';
import type { OrgSettingsService } from './settings.service.ts';

export interface OrgSettingsRoutesOptions {
  settings: OrgSettingsService;
  tokens: TokenService;
}

export const SettingsJson = Type.Object(
  {
    auto_transcribe: Type.Boolean({
      description:
        'Transcribe every recording of the organisation when it becomes ready (when the server has a transcription provider).',
    }),
    trash_retention_days: Type.Integer({
      minimum: 1,
      maximum: MAX_TRASH_RETENTION_DAYS,
      description:
        'Days a deleted recording stays in the trash (GET /api/trash), restorable, before it is deleted for good ' +
        '(default 30). A change applies to what is in the trash already.',
    }),
  },
  { $id: 'OrgSettings', description: "An organisation's settings" },
);

const SettingsPatch = Type.Object(
  {
    auto_transcribe: Type.Optional(Type.Boolean()),
    trash_retention_days: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TRASH_RETENTION_DAYS })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const toJson = (settings: OrgSettings) => ({
  auto_transcribe: settings.autoTranscribe,
  trash_retention_days: settings.trashRetentionDays,
});

export const orgSettingsRoutes: FastifyPluginAsyncTypebox<OrgSettingsRoutesOptions> = async (app, options) => {
  // No coercion of body values and unknown properties rejected (see auth.routes.ts).
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  app.addHook('preHandler', authenticate(options.tokens));
  const schema = { tags: ['orgs'], params: OrgParams };
  const failures = errors(401, 403, 404, 422);

  app.get(
    '/:id/settings',
    {
      schema: {
        ...schema,
        operationId: 'getOrgSettings',
        summary: "An organisation's settings",
        description: 'Any member may read them.',
        response: { 200: response('The settings', SettingsJson), ...failures },
      },
    },
    async (request) => toJson(await options.settings.get(request.user, request.params.id)),
  );

  app.patch(
    '/:id/settings',
    {
      schema: {
        ...schema,
        operationId: 'updateOrgSettings',
        summary: "Change an organisation's settings (owner or admin)",
        description: 'Send the settings to change; the others keep their values. Members get 403.',
        body: SettingsPatch,
        response: { 200: response('The settings after the change', SettingsJson), ...failures },
      },
    },
    async (request) => {
      const { auto_transcribe, trash_retention_days } = request.body;
      return toJson(
        await options.settings.update(request.user, request.params.id, {
          ...(auto_transcribe !== undefined ? { autoTranscribe: auto_transcribe } : {}),
          ...(trash_retention_days !== undefined ? { trashRetentionDays: trash_retention_days } : {}),
        }),
      );
    },
  );
};
