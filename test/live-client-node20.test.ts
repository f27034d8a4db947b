/**
 * `@earshot/live-client` promises Node ≥ 20: its built dist/ runs a whole recording under the system's
 * Node 20 (/usr/bin/node, not the project's Node 24), with the `ws` package as its WebSocket.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { registerUser, startTestServer, type TestServer, type TestUser, waitForRecording } from './helpers.ts';
import { FIXTURES } from './live-helpers.ts';

const NODE_20 = '/usr/bin/node';
const SCRIPT = path.resolve(import.meta.dirname, '../packages/live-client/test/record-on-node20.mjs');

describe('@earshot/live-client on Node 20 with ws', { skip: !existsSync(NODE_20) && `${NODE_20} is missing` }, () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
  });
  after(() => server.close());

  it('records and stops; the server has every byte', async () => {
    const file = path.join(FIXTURES, 'speech.webm');
    const { stdout } = await promisify(execFile)(NODE_20, [SCRIPT, server.wsUrl, user.token, user.orgId, file]);
    const result = JSON.parse(stdout);
    assert.match(result.node, /^v20\./);
    assert.equal(result.globalWebSocket, 'undefined', 'the ws constructor is what it used');
    assert.equal(result.saved.bytes, readFileSync(file).length);
    assert.ok(Math.abs(result.saved.duration - 5) < 0.1, `duration ${result.saved.duration}`);
    assert.equal((await waitForRecording(server, user, result.saved.recordingId)).status, 'ready');
  });
});
