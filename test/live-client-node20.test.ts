/**
 * `@earshot/live-client` as a newcomer gets it, on the oldest Node it promises: `npm pack` of the
 * workspace (which builds dist/), installed with `ws` into a project of its own outside the repository,
 * then a whole recording under the system's Node 20 (/usr/bin/node, not the project's Node 24).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { registerUser, startTestServer, type TestServer, type TestUser, waitForRecording } from './helpers.ts';
import { FIXTURES } from './live-helpers.ts';

const run = promisify(execFile);
const NODE_20 = '/usr/bin/node';
const REPO = path.resolve(import.meta.dirname, '..');
const SCRIPT = path.join(REPO, 'packages/live-client/test/record-on-node20.mjs');

/** A new project with the packed package and `ws` (the version the repository locks) installed. */
async function projectWithPackage(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'earshot-bot-'));
  const { stdout } = await run('npm', ['pack', '-w', '@earshot/live-client', '--pack-destination', dir, '--silent'], {
    cwd: REPO,
  });
  const tarball = path.join(dir, stdout.trim().split('\n').at(-1)!);
  const { version: wsVersion } = JSON.parse(await readFile(path.join(REPO, 'node_modules/ws/package.json'), 'utf8'));
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'a-bot', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `ws@${wsVersion}`], {
    cwd: dir,
  });
  await copyFile(SCRIPT, path.join(dir, 'record.mjs'));
  return dir;
}

describe('@earshot/live-client packed, installed in a project of its own, on Node 20 with ws', {
  skip: !existsSync(NODE_20) && `${NODE_20} is missing`,
}, () => {
  let server: TestServer;
  let user: TestUser;
  let project: string;
  before(async () => {
    project = await projectWithPackage();
    server = await startTestServer();
    user = await registerUser(server);
  });
  after(async () => {
    await server?.close();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('records and stops; the server has every byte', async () => {
    const file = path.join(FIXTURES, 'speech.webm');
    const { stdout } = await run(NODE_20, ['record.mjs', server.wsUrl, user.token, user.orgId, file], { cwd: project });
    const result = JSON.parse(stdout);
    assert.match(result.node, /^v20\./);
    assert.equal(result.globalWebSocket, 'undefined', 'the ws constructor is what it used');
    assert.equal(result.saved.bytes, readFileSync(file).length);
    assert.ok(Math.abs(result.saved.duration - 5) < 0.1, `duration ${result.saved.duration}`);
    assert.equal((await waitForRecording(server, user, result.saved.recordingId)).status, 'ready');
  });
});
