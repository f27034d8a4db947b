import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCOPES, type Scope } from '../auth/principal.ts';
import type { OrgRole } from '../db/schema.ts';
import { allows, LEAST_ROLE, LEAST_SCOPE, type OrgAction, recordingManageAction } from './access.ts';

const ROLES: OrgRole[] = ['owner', 'admin', 'member'];

describe('organisation roles', () => {
  it('allows each action to exactly the roles in the table of docs/roles.md', () => {
    // The same table as the docs, written out: changing the policy means changing both.
    const table: Record<OrgAction, OrgRole[]> = {
      use: ['owner', 'admin', 'member'],
      record: ['owner', 'admin', 'member'],
      manageOwnRecording: ['owner', 'admin', 'member'],
      manageAnyRecording: ['owner', 'admin'],
      invite: ['owner', 'admin'],
      removeMember: ['owner', 'admin'],
      manageOwners: ['owner'],
      manageApiKeys: ['owner', 'admin'],
      manageSettings: ['owner', 'admin'],
      manageWebhooks: ['owner', 'admin'],
    };
    assert.deepEqual(Object.keys(table).sort(), Object.keys(LEAST_ROLE).sort());
    for (const [action, permitted] of Object.entries(table) as [OrgAction, OrgRole[]][]) {
      for (const role of ROLES) {
        assert.equal(allows({ role, scopes: null }, action), permitted.includes(role), `${role} ${action}`);
      }
    }
  });

  it('lets members manage their own recordings, and admins and owners everyone’s', () => {
    const mine = recordingManageAction({ user_id: 'me' }, 'me');
    const theirs = recordingManageAction({ user_id: 'someone else' }, 'me');
    assert.equal(allows({ role: 'member', scopes: null }, mine), true);
    assert.equal(allows({ role: 'member', scopes: null }, theirs), false);
    for (const role of ['admin', 'owner'] as const) {
      assert.equal(allows({ role, scopes: null }, mine), true, role);
      assert.equal(allows({ role, scopes: null }, theirs), true, role);
    }
  });
});

describe('API key scopes', () => {
  it('need the scope of the table in docs/roles.md for each action', () => {
    const table: Record<OrgAction, Scope> = {
      use: 'read',
      record: 'record',
      manageOwnRecording: 'record',
      manageAnyRecording: 'admin',
      invite: 'admin',
      removeMember: 'admin',
      manageOwners: 'admin',
      manageApiKeys: 'admin',
      manageSettings: 'admin',
      manageWebhooks: 'admin',
    };
    assert.deepEqual(LEAST_SCOPE, table);
    for (const action of Object.keys(table) as OrgAction[]) {
      for (const scope of SCOPES) {
        // An owner's key: only the scope decides.
        assert.equal(allows({ role: 'owner', scopes: [scope] }, action), scope === table[action], `${scope} ${action}`);
      }
      assert.equal(allows({ role: 'owner', scopes: [] }, action), false, `no scope ${action}`);
    }
  });

  it('never give a key more than its creator’s role', () => {
    const everything = [...SCOPES];
    assert.equal(allows({ role: 'member', scopes: everything }, 'manageApiKeys'), false);
    assert.equal(allows({ role: 'member', scopes: everything }, 'manageAnyRecording'), false);
    assert.equal(allows({ role: 'admin', scopes: everything }, 'manageOwners'), false);
    assert.equal(allows({ role: 'member', scopes: everything }, 'record'), true);
  });
});
