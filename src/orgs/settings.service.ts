import type { Principal } from '../auth/principal.ts';
import type { OrgAccess } from './access.ts';
import type { OrgSettings, OrgSettingsRepo } from './settings.repo.ts';

/** Members read an organisation's settings; owners and admins change them (LEAST_ROLE.manageSettings). */
export function createOrgSettingsService(deps: { repo: OrgSettingsRepo; access: OrgAccess }) {
  return {
    async get(actor: Principal, orgId: string): Promise<OrgSettings> {
      await deps.access.require(actor, orgId, 'use');
      return deps.repo.get(orgId);
    },
    async update(actor: Principal, orgId: string, patch: Partial<OrgSettings>): Promise<OrgSettings> {
      await deps.access.require(actor, orgId, 'manageSettings');
      return deps.repo.update(orgId, patch);
    },
  };
}

export type OrgSettingsService = ReturnType<typeof createOrgSettingsService>;
