import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { longFixture, sendAudio, startRecording } from './live-helpers.ts';
import { tableError } from './raw-http.ts';

/**
 * A full disk answers 507 insufficient_storage from the table, not 500. The server runs in a child
 * process inside its own user and mount namespaces (unshare -rm, no privileges needed where the kernel
 * allows unprivileged user namespaces) with a 16 KiB tmpfs mounted over its spool and another over its
 * local object store: real ENOSPC from the kernel, on the real write paths.
 */
const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const SPOOL_BYTES = 16 * 1024;
const canIsolate = spawnSync('unshare', ['-rm', 'true']).status === 0;

describe('a full disk', { skip: canIsolate ? false : 'needs unshare -rm (user and mount namespaces)' }, () => {
  let first: TestServer & { schema?: string };
  let child: ChildProcess;
  let server: { url: string };
  let user: TestUser;
  /** The spool as the child sees it: the tmpfs is mounted in its mount namespace only. */
  const childSpool = () => readdir(`/proc/${child.pid}/root${path.join(first.dataDir, 'spool')}`);
  /** Files in the child's object store. */
  const childBlobs = () =>
    readdir(`/proc/${child.pid}/root${path.join(first.dataDir, 'blobs')}`, {
      recursive: true,
      withFileTypes: true,
    }).then((entries) => entries.filter((entry) => entry.isFile()).map((entry) => entry.name));

  before(async () => {
    // A first server creates the data folder (and PostgreSQL schema) the child process then uses.
    first = await startTestServer();
    await first.stop();
    const spool = path.join(first.dataDir, 'spool');
    const blobs = path.join(first.dataDir, 'blobs');
    await mkdir(spool, { recursive: true });
    await mkdir(blobs, { recursive: true });
    const { schema, config } = first;
    child = spawn(
      'unshare',
      [
        '-rm',
        'sh',
        '-c',
        `mount -t tmpfs -o size=${SPOOL_BYTES} tmpfs "$1" && mount -t tmpfs -o size=${SPOOL_BYTES} tmpfs "$2" && exec "$3" "$4"`,
        'sh',
        spool,
        blobs,
        process.execPath,
        path.join(import.meta.dirname, 'live-server-child.ts'),
      ],
      {
        env: {
          ...process.env,
          DATA_DIR: first.dataDir,
          MEDIA_WORKERS: '1',
          ...(schema ? { DATABASE_URL: config.databaseUrl, EARSHOT_DB_SCHEMA: schema } : {}),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    server = { url: `http://127.0.0.1:${JSON.parse(String(line)).port}` };
    user = await registerUser(server);
  });

  after(async () => {
    child?.kill('SIGKILL');
    if (child) await once(child, 'exit');
    await first?.close();
  });

  it('answers an upload that fills the disk with 507 and frees what it wrote', async () => {
    const form = new FormData();
    form.append('file', new Blob([await readFile(path.join(FIXTURES, 'speech.wav'))]), 'speech.wav');
    const res = await api(server, 'POST', '/api/recordings/upload', { token: user.token, body: form });
    assert.equal(res.status, 507, JSON.stringify(res.body));
    const error = tableError(res.status, res.body);
    assert.equal(error.error, 'insufficient_storage');
    assert.doesNotMatch(error.message, /ENOSPC|spool|\//);
    assert.deepEqual(await childSpool(), []);
    assert.deepEqual(await childBlobs(), []);
  });

  it('answers a stream chunk that does not fit with 507 and keeps the stored offset', async () => {
    const ogg = await readFile(path.join(FIXTURES, 'speech.ogg'));
    assert.ok(ogg.length > SPOOL_BYTES);
    const send = (chunk: Buffer, query: string) =>
      api(server, 'POST', `/api/recordings/stream${query}`, {
        token: user.token,
        body: chunk,
        headers: { 'content-type': 'audio/ogg' },
      });
    const firstChunk = await send(ogg.subarray(0, 12_000), '');
    assert.equal(firstChunk.status, 201, JSON.stringify(firstChunk.body));
    const id = firstChunk.body.recording_id;
    // Stored chunks live in the object store; the spool only held the request while it arrived.
    assert.deepEqual(await childSpool(), []);
    const rest = await send(ogg.subarray(12_000), `?recording_id=${id}&offset=12000`);
    assert.equal(rest.status, 507, JSON.stringify(rest.body));
    assert.equal(tableError(rest.status, rest.body).error, 'insufficient_storage');
    const state = await api(server, 'GET', `/api/recordings/${id}`, { token: user.token });
    assert.equal(state.body.received_bytes, 12_000);
    assert.deepEqual(await childSpool(), [], 'nothing of the refused chunk is left');
  });

  it('closes a live session whose audio no longer fits with an error, then 1011, and keeps it resumable', async () => {
    const { bytes } = longFixture('webm', 10);
    assert.ok(bytes.length > 2 * SPOOL_BYTES);
    const { client, recordingId } = await startRecording({ wsUrl: server.url.replace('http', 'ws') }, user, {
      ack: true,
    });
    await sendAudio(client, bytes, { to: 2 * SPOOL_BYTES });
    const error = await client.next((m) => m.status === 'error', 15_000);
    assert.equal(error.error, 'insufficient_storage');
    assert.match(error.message, /disk is full/);
    assert.equal((await client.closed).code, 1011);
    const state = await api(server, 'GET', `/api/recordings/${recordingId}`, { token: user.token });
    assert.equal(state.body.status, 'receiving', 'kept for the client to resume, not finalised');
  });
});
