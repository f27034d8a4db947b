import { LEAST_ROLE, type OrgAccess } from './access.ts';
import type { OrgSettings, OrgSettingsRepo } from './settings.repo.ts';

/** Members read an organisation's settings; owners and admins change them (LEAST_ROLE.manageSettings). */
export function createOrgSettingsService(deps: { repo: OrgSettingsRepo; access: OrgAccess }) {
  return {
    async get(userId: string, orgId: string): Promise<OrgSettings> {
      await deps.access.require(userId, orgId, LEAST_ROLE.use);
      return deps.repo.get(orgId);
    },
    async update(userId: string, orgId: string, patch: Partial<OrgSettings>): Promise<OrgSettings> {
      await deps.access.require(userId, orgId, LEAST_ROLE.manageSettings);
      return deps.repo.update(orgId, patch);
    },
  };
}

export type OrgSettingsService = ReturnType<typeof createOrgSettingsService>;
