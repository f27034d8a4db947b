import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { OrgRole } from '../db/schema.ts';
import { allows, canManageRecording, LEAST_ROLE, type OrgAction } from './access.ts';

const ROLES: OrgRole[] = ['owner', 'admin', 'member'];

describe('organisation roles', () => {
  it('allows each action to exactly the roles in the table of docs/roles.md', () => {
    // The same table as the docs, written out: changing the policy means changing both.
    const table: Record<OrgAction, OrgRole[]> = {
      use: ['owner', 'admin', 'member'],
      manageOwnRecording: ['owner', 'admin', 'member'],
      manageAnyRecording: ['owner', 'admin'],
      invite: ['owner', 'admin'],
      removeMember: ['owner', 'admin'],
      manageOwners: ['owner'],
      manageWebhooks: ['owner', 'admin'],
    };
    assert.deepEqual(Object.keys(table).sort(), Object.keys(LEAST_ROLE).sort());
    for (const [action, permitted] of Object.entries(table) as [OrgAction, OrgRole[]][]) {
      for (const role of ROLES) {
        assert.equal(allows(role, action), permitted.includes(role), `${role} ${action}`);
      }
    }
  });

  it('lets members manage their own recordings, and admins and owners everyone’s', () => {
    const mine = { user_id: 'me' };
    const theirs = { user_id: 'someone else' };
    assert.equal(canManageRecording('member', mine, 'me'), true);
    assert.equal(canManageRecording('member', theirs, 'me'), false);
    for (const role of ['admin', 'owner'] as const) {
      assert.equal(canManageRecording(role, mine, 'me'), true, role);
      assert.equal(canManageRecording(role, theirs, 'me'), true, role);
    }
  });
});
