import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  api,
  registerUser,
  startTestServer,
  storedBytes,
  storeOf,
  type TestServer,
  type TestUser,
  waitForRecording,
} from './helpers.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const SOURCE_SECONDS = 5.0;

describe('chunked stream', () => {
  let server: TestServer;
  let user: TestUser;
  let ogg: Buffer;
  let webm: Buffer;

  before(async () => {
    server = await startTestServer({ env: { MAX_STREAM_CHUNK_BYTES: '16384' } });
    user = await registerUser(server);
    ogg = await readFile(path.join(FIXTURES, 'speech.ogg'));
    webm = await readFile(path.join(FIXTURES, 'speech.webm'));
  });
  after(() => server.close());

  const send = (
    body: Buffer,
    query: Record<string, string | number | boolean> = {},
    headers: Record<string, string> = {},
    token = user.token,
  ) => {
    const search = new URLSearchParams(
      Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
    ).toString();
    return api(server, 'POST', `/api/recordings/stream${search ? `?${search}` : ''}`, {
      token,
      body,
      headers: { 'content-type': 'application/octet-stream', ...headers },
    });
  };

  const storedInput = (id: string) => storedBytes(server, `inputs/${id}/stream/`);

  it('assembles an Ogg/Opus file sent in chunks split at arbitrary bytes, then finishes ready', async () => {
    // The first chunk carries at least the 4-byte signature; after that any split goes.
    const sizes = [4, 1, 26, 300, 4095, 8192, 7, 2500];
    const first = await send(ogg.subarray(0, sizes[0]), { name: 'Stand-up' }, { 'content-type': 'audio/ogg' });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.offset, 4);
    assert.equal(first.body.status, 'receiving');
    assert.equal(first.headers.get('upload-offset'), '4');
    const id = first.body.recording_id;
    let offset = 4;
    for (let i = 1; offset < ogg.length; i++) {
      const chunk = ogg.subarray(offset, offset + sizes[i % sizes.length]!);
      // Alternate the two ways of naming the recording and the offset.
      const res =
        i % 2
          ? await send(chunk, { recording_id: id, offset })
          : await send(chunk, {}, { 'recording-id': id, 'upload-offset': String(offset) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      offset += chunk.length;
      assert.equal(res.body.offset, offset);
    }
    assert.deepEqual(await storedInput(id), ogg);
    const done = await api(server, 'POST', `/api/recordings/stream/${id}/finish`, { token: user.token });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.status, 'ready');
    const recording = done.body.recording;
    assert.equal(recording.name, 'Stand-up');
    assert.equal(recording.source, 'stream');
    assert.equal(recording.codec, 'opus');
    assert.equal(recording.channels, 1);
    assert.equal(recording.sample_rate, 16000);
    assert.equal(recording.received_bytes, ogg.length);
    assert.ok(Math.abs(recording.duration_sec - SOURCE_SECONDS) / SOURCE_SECONDS < 0.02, `${recording.duration_sec}`);
    const audio = await fetch(`${server.url}/api/recordings/${id}/audio`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    assert.equal(audio.status, 200);
    assert.equal((await audio.arrayBuffer()).byteLength, recording.size_bytes);

    // Finishing again answers the state; appending is refused.
    const again = await api(server, 'POST', `/api/recordings/stream/${id}/finish`, { token: user.token });
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'ready');
    const more = await send(ogg.subarray(0, 100), { recording_id: id, offset: ogg.length });
    assert.equal(more.status, 409);
  });

  it('treats a retried chunk as done, and refuses gaps and overlaps with the current offset', async () => {
    const first = await send(ogg.subarray(0, 5000));
    const id = first.body.recording_id;
    const second = await send(ogg.subarray(5000, 9000), { recording_id: id, offset: 5000 });
    assert.equal(second.body.offset, 9000);

    const retry = await send(ogg.subarray(5000, 9000), { recording_id: id, offset: 5000 });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.offset, 9000);
    const retryFirst = await send(ogg.subarray(0, 5000), { recording_id: id, offset: 0 });
    assert.equal(retryFirst.status, 200);
    assert.equal(retryFirst.body.offset, 9000);

    const gap = await send(ogg.subarray(9500, 10_000), { recording_id: id, offset: 9500 });
    assert.equal(gap.status, 409);
    assert.equal(gap.body.error, 'offset_mismatch');
    assert.equal(gap.body.details.offset, 9000);
    assert.equal(gap.headers.get('upload-offset'), '9000');

    const overlap = await send(ogg.subarray(8000, 10_000), { recording_id: id, offset: 8000 });
    assert.equal(overlap.status, 409);
    assert.equal(overlap.body.details.offset, 9000);
    const different = Buffer.from(ogg.subarray(5000, 9000));
    different[10]! ^= 1;
    const changed = await send(different, { recording_id: id, offset: 5000 });
    assert.equal(changed.status, 409);

    assert.deepEqual(await storedInput(id), ogg.subarray(0, 9000));

    // The rest, with final=true on the last chunk.
    const last = await send(ogg.subarray(9000), { recording_id: id, offset: 9000, final: true });
    assert.equal(last.status, 200, JSON.stringify(last.body));
    assert.equal(last.body.status, 'ready');
    assert.equal(last.body.offset, ogg.length);
    // A retry of the final chunk after its answer was lost still tells the state.
    const lastRetry = await send(ogg.subarray(9000), { recording_id: id, offset: 9000, final: true });
    assert.equal(lastRetry.status, 409);
    assert.equal(lastRetry.body.details.status, 'ready');
  });

  it('seed clients: chunks without an offset are appended at the end; an Ogg chunk sent again is a retry', async () => {
    // Page boundaries of the fixture, so chunks can be cut on pages as an Ogg muxer flushes them.
    const pages: number[] = [];
    for (let at = 0; at < ogg.length; ) {
      pages.push(at);
      const segments = ogg[at + 26]!;
      at += 27 + segments + [...ogg.subarray(at + 27, at + 27 + segments)].reduce((a, b) => a + b, 0);
    }
    assert.ok(pages.length >= 7, `${pages.length} pages`);
    const cut = [0, pages[2]!, pages[4]!, pages[6]!, ogg.length];
    const chunks = cut.slice(1).map((end, i) => ogg.subarray(cut[i]!, end));
    const first = await send(chunks[0]!);
    assert.equal(first.status, 201);
    const id = first.body.recording_id;
    const second = await send(chunks[1]!, { recording_id: id });
    assert.deepEqual([second.status, second.body.offset], [200, cut[2]]);
    // The answer was lost and the client sends the same chunk again: nothing is added.
    const again = await send(chunks[1]!, { recording_id: id });
    assert.deepEqual([again.status, again.body.offset], [200, cut[2]]);
    // A chunk that repeats stored pages and carries new ones keeps only the new ones.
    const overlapping = await send(ogg.subarray(cut[1]!, cut[3]!), { recording_id: id });
    assert.deepEqual([overlapping.status, overlapping.body.offset], [200, cut[3]]);
    // Split inside a page, as MediaRecorder-style clients do: the tail waits for the rest of its page.
    const middle = cut[3]! + 100;
    assert.equal((await send(ogg.subarray(cut[3]!, middle), { recording_id: id })).body.offset, middle);
    const last = await send(ogg.subarray(middle), { recording_id: id, final: true });
    assert.equal(last.status, 200, JSON.stringify(last.body));
    assert.deepEqual([last.body.status, last.body.offset], ['ready', ogg.length]);
    assert.ok(Math.abs(last.body.recording.duration_sec - SOURCE_SECONDS) < 0.1);
    // Without Ogg pages to go by (WebM), a chunk without an offset is simply appended.
    const webmFirst = await send(webm.subarray(0, 10_000));
    const webmNext = await send(webm.subarray(10_000, 20_000), { recording_id: webmFirst.body.recording_id });
    assert.deepEqual([webmNext.status, webmNext.body.offset], [200, Math.min(20_000, webm.length)]);
  });

  it('refuses a chunk with a bad CRC (422) and leaves the stored bytes unchanged', async () => {
    const first = await send(ogg.subarray(0, 6000));
    const id = first.body.recording_id;
    const corrupt = Buffer.from(ogg.subarray(6000, 12_000));
    corrupt[3000]! ^= 0xff;
    const res = await send(corrupt, { recording_id: id, offset: 6000 });
    assert.equal(res.status, 422);
    assert.equal(res.body.error, 'invalid_media');
    assert.match(res.body.message, /CRC|OggS/);
    assert.deepEqual(await storedInput(id), ogg.subarray(0, 6000));
    const state = await api(server, 'GET', `/api/recordings/${id}`, { token: user.token });
    assert.equal(state.body.received_bytes, 6000);
    assert.equal(state.body.status, 'receiving');
    // The good bytes still go in, and the result is a whole recording.
    const good = await send(ogg.subarray(6000), { recording_id: id, offset: 6000, final: true });
    assert.equal(good.status, 200);
    assert.equal(good.body.status, 'ready');
  });

  it('refuses to finish in the middle of an Ogg page, and an empty stream', async () => {
    const first = await send(ogg.subarray(0, 3000));
    const id = first.body.recording_id;
    const early = await api(server, 'POST', `/api/recordings/stream/${id}/finish`, { token: user.token });
    assert.equal(early.status, 422);
    assert.match(early.body.message, /inside an Ogg page/);
    assert.equal((await api(server, 'GET', `/api/recordings/${id}`, { token: user.token })).body.status, 'receiving');
  });

  it('accepts a WebM/Opus stream (EBML magic checked on the first chunk)', async () => {
    const first = await send(webm.subarray(0, 3000), {}, { 'content-type': 'audio/webm' });
    assert.equal(first.status, 201);
    const id = first.body.recording_id;
    let offset = 3000;
    while (offset < webm.length) {
      const chunk = webm.subarray(offset, offset + 5000);
      const res = await send(chunk, { recording_id: id, offset, final: offset + chunk.length >= webm.length });
      assert.ok(res.status === 200 || res.status === 202, JSON.stringify(res.body));
      offset += chunk.length;
    }
    const done = await api(server, 'GET', `/api/recordings/${id}`, { token: user.token });
    assert.equal(done.body.status, 'ready');
    assert.ok(Math.abs(done.body.duration_sec - SOURCE_SECONDS) / SOURCE_SECONDS < 0.02, `${done.body.duration_sec}`);
    assert.deepEqual(await storeOf(server).list(`inputs/${id}/`), [], 'the input is removed once the audio is ready');
  });

  it('refuses a first chunk that is neither Ogg nor WebM (415) and creates nothing', async () => {
    const wav = await readFile(path.join(FIXTURES, 'speech.wav'));
    const res = await send(wav.subarray(0, 4000));
    assert.equal(res.status, 415);
    const list = await api(server, 'GET', '/api/recordings', { token: user.token });
    assert.ok(list.body.items.every((r: any) => r.status !== 'receiving' || r.received_bytes > 0));
    const bad = await send(Buffer.from('OggS but not really a page at all, just text'));
    assert.equal(bad.status, 422);
    const offsetOnNew = await send(ogg.subarray(0, 100), { offset: 5 });
    assert.equal(offsetOnNew.status, 409);
  });

  it('refuses a chunk over MAX_STREAM_CHUNK_BYTES with 413', async () => {
    const res = await send(ogg.subarray(0, 16_385));
    assert.equal(res.status, 413);
  });

  it('answers 404 for an unknown recording and for another organisation, and 415 for other content types', async () => {
    const first = await send(ogg.subarray(0, 1000));
    const stranger = await registerUser(server);
    const res = await send(
      ogg.subarray(1000, 2000),
      { recording_id: first.body.recording_id, offset: 1000 },
      {},
      stranger.token,
    );
    assert.equal(res.status, 404);
    const unknown = await send(ogg.subarray(1000, 2000), {
      recording_id: '00000000-0000-0000-0000-000000000000',
      offset: 1000,
    });
    assert.equal(unknown.status, 404);
    const otherOrg = await send(ogg.subarray(0, 1000), { org_id: user.orgId }, {}, stranger.token);
    assert.equal(otherOrg.status, 404);
    const json = await api(server, 'POST', '/api/recordings/stream', { token: user.token, json: { a: 1 } });
    assert.equal(json.status, 415);
  });

  it('serialises concurrent appends at one offset: one wins, the other is told the new offset', async () => {
    const first = await send(ogg.subarray(0, 2000));
    const id = first.body.recording_id;
    const a = ogg.subarray(2000, 4000);
    const b = Buffer.from(a);
    b[100]! ^= 1; // same offset, different bytes: only one can be the stream
    const results = await Promise.all([
      send(a, { recording_id: id, offset: 2000 }),
      send(b, { recording_id: id, offset: 2000 }),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.ok(
      JSON.stringify(statuses) === '[200,409]' || JSON.stringify(statuses) === '[200,422]',
      JSON.stringify(results.map((r) => r.body)),
    );
    const stored = await storedInput(id);
    assert.equal(stored.length, 4000);
    assert.deepEqual(stored, ogg.subarray(0, 4000));
  });
});

describe('abandoned chunked stream', () => {
  it('is finished with what it received once idle for STREAM_IDLE_FINISH_SECONDS', async () => {
    const server = await startTestServer({ env: { STREAM_IDLE_FINISH_SECONDS: '1' } });
    try {
      const user = await registerUser(server);
      const ogg = await readFile(path.join(FIXTURES, 'speech.ogg'));
      // 60% of the file: the cut falls inside a page, as when a client dies mid-upload.
      const part = ogg.subarray(0, Math.floor(ogg.length * 0.6));
      const first = await api(server, 'POST', '/api/recordings/stream', {
        token: user.token,
        body: part,
        headers: { 'content-type': 'audio/ogg' },
      });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      const recording = await waitForRecording(server, user, first.body.recording_id, 15_000);
      assert.equal(recording.status, 'ready', JSON.stringify(recording));
      assert.equal(recording.codec, 'opus');
      assert.ok(recording.duration_sec > SOURCE_SECONDS * 0.4 && recording.duration_sec < SOURCE_SECONDS * 0.75);
      // Nothing more can be appended to a finished stream.
      const late = await api(
        server,
        'POST',
        `/api/recordings/stream?recording_id=${first.body.recording_id}&offset=${part.length}`,
        { token: user.token, body: ogg.subarray(part.length), headers: { 'content-type': 'audio/ogg' } },
      );
      assert.equal(late.status, 409);
    } finally {
      await server.close();
    }
  });
});
