/**
 * Live input formats over the real WebSocket: the opt-in `format` (raw PCM, raw Opus packets) validated
 * strictly, PCM transcoded and checked, Opus that already is the stored format remuxed byte for byte
 * (also across a resume that splits a packet, and on another node after a takeover), anything else
 * transcoded as before, and streams that cannot be audio refused within the promised time.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { framePacket } from '../src/media/remux/framed-reader.ts';
import { OggOpusReader } from '../src/media/remux/ogg-reader.ts';
import { opusSpeech, probePackets, STORED_FORMAT_ARGS } from '../src/media/test-helpers.ts';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { FIXTURES, openSocket, probeAudio, sendAudio, startRecording, waitForRecording } from './live-helpers.ts';

const RECOGNISE_MS = 600;

/** The OpusHead and packets of an Ogg/Opus file, framed as a raw Opus client sends them. */
function rawOpus(ogg: Buffer): { bytes: Buffer; packets: Buffer[]; seconds: number } {
  const parts: Buffer[] = [];
  const packets: Buffer[] = [];
  let preSkip = 0;
  new OggOpusReader().push(ogg, {
    head: (head) => {
      preSkip = Buffer.from(head).readUInt16LE(10);
      parts.push(framePacket(head));
    },
    packet: (packet) => {
      packets.push(Buffer.from(packet));
      parts.push(framePacket(packet));
    },
  });
  return { bytes: Buffer.concat(parts), packets, seconds: (packets.length * 960 - preSkip) / 48_000 };
}

/** The speech fixture as raw PCM, by the ffmpeg CLI. */
function pcmSpeech(codec: 's16le' | 'f32le', rate: number, channels: number, seconds = 5): Buffer {
  return execFileSync(
    'ffmpeg',
    [
      ...['-v', 'error', '-stream_loop', '-1', '-i', path.join(FIXTURES, 'speech.wav'), '-t', String(seconds)],
      ...['-ar', String(rate), '-ac', String(channels), '-f', codec, '-'],
    ],
    { maxBuffer: 1 << 28 },
  );
}

/** The recording's audio file as downloaded. */
async function downloadTo(server: TestServer, user: TestUser, id: string): Promise<string> {
  const res = await fetch(`${server.url}/api/recordings/${id}/audio`, {
    headers: { authorization: `Bearer ${user.token}` },
  });
  const file = path.join(tmpdir(), `earshot-formats-${id}.ogg`);
  await writeFile(file, Buffer.from(await res.arrayBuffer()));
  return file;
}

async function resumeOn(server: Pick<TestServer, 'wsUrl'>, user: TestUser, recordingId: string) {
  const client = openSocket(server);
  client.send({ token: user.token });
  await client.next((m) => m.status === 'authenticated');
  client.send({ resume: recordingId, ack: true });
  const resumed = await client.next((m) => m.status !== 'authenticated');
  return { client, resumed };
}

describe('live input formats', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({
      env: { LIVE_RECOGNISE_TIMEOUT_MS: String(RECOGNISE_MS), LIVE_MAX_SESSIONS_PER_USER: '20' },
    });
    user = await registerUser(server);
  });
  after(() => server.close());

  async function expectRefused(meta: Record<string, unknown>, field: string) {
    const client = openSocket(server);
    client.send({ token: user.token });
    await client.next((m) => m.status === 'authenticated');
    client.send({ name: 'x', meeting_link: null, org_id: user.orgId, ...meta });
    const closed = await client.closed;
    assert.equal(closed.code, 1008, JSON.stringify(meta));
    assert.equal(client.messages.at(-1)?.error, 'validation_failed');
    assert.match(closed.reason, new RegExp(`"${field}"`), JSON.stringify(meta));
  }

  it('validates the format fields strictly: 1008 naming the field', async () => {
    await expectRefused({ format: 'mp3' }, 'format');
    await expectRefused({ format: 7 }, 'format');
    await expectRefused({ format: 'pcm_s16le', channels: 1 }, 'sample_rate');
    await expectRefused({ format: 'pcm_s16le', sample_rate: 3999, channels: 1 }, 'sample_rate');
    await expectRefused({ format: 'pcm_f32le', sample_rate: 192_001, channels: 1 }, 'sample_rate');
    await expectRefused({ format: 'pcm_s16le', sample_rate: 16_000.5, channels: 1 }, 'sample_rate');
    await expectRefused({ format: 'pcm_s16le', sample_rate: 16_000, channels: 3 }, 'channels');
    await expectRefused({ format: 'pcm_s16le', sample_rate: 16_000 }, 'channels');
    await expectRefused({ format: 'opus', sample_rate: 16_000 }, 'sample_rate');
    await expectRefused({ sample_rate: 16_000 }, 'sample_rate');
  });

  for (const [codec, rate, channels] of [
    ['s16le', 16_000, 1],
    ['f32le', 48_000, 2],
  ] as const) {
    it(`raw PCM (${codec}, ${rate} Hz, ${channels} ch): transcoded, decoded and checked`, async () => {
      const bytes = pcmSpeech(codec, rate, channels);
      const { client, recordingId } = await startRecording(server, user, {
        format: `pcm_${codec}`,
        sample_rate: rate,
        channels,
      });
      await sendAudio(client, bytes, { chunkBytes: 7001 });
      client.send({ action: 'stop' });
      const saved = await client.next((m) => m.status === 'recording_saved');
      assert.equal(saved.bytes, bytes.length);
      assert.ok(Math.abs(saved.duration - 5) < 0.03, `duration ${saved.duration}`);
      const recording = await waitForRecording(server, user, recordingId);
      assert.deepEqual(
        [recording.status, recording.codec, recording.sample_rate, recording.channels, recording.pipeline],
        ['ready', 'opus', 16_000, 1, 'transcode'],
      );
      const probed = await probeAudio(server, user, recordingId);
      assert.deepEqual([probed.format, probed.codec, probed.sampleRate, probed.channels], ['ogg', 'opus', 16_000, 1]);
      assert.ok(Math.abs(probed.duration - 5) < 0.03, `probed ${probed.duration}`);
    });
  }

  it('raw PCM running ahead of real time is refused at once (4413), by its byte rate alone', async () => {
    // 60 s of 8 kHz mono, sent at once: past the 30 s of audio a session may be ahead.
    const bytes = pcmSpeech('s16le', 8000, 1, 60);
    const { client, recordingId } = await startRecording(server, user, {
      format: 'pcm_s16le',
      sample_rate: 8000,
      channels: 1,
    });
    await sendAudio(client, bytes, { chunkBytes: 16_000 });
    const error = await client.next((m) => m.status === 'error');
    assert.equal(error.error, 'media_too_long');
    assert.match(error.message, /ahead of real time/);
    assert.equal((await client.closed).code, 4413);
    const failed = await waitForRecording(server, user, recordingId);
    assert.deepEqual([failed.status, failed.error_code], ['failed', 'media_too_long']);
  });

  it('raw Opus in the stored format is remuxed: the same packets, byte for byte, duration within a frame', async () => {
    const opus = rawOpus(opusSpeech(STORED_FORMAT_ARGS));
    const { client, recordingId } = await startRecording(server, user, { format: 'opus' });
    // Frames that split lengths and packets anywhere, like any byte stream.
    await sendAudio(client, opus.bytes, { chunkBytes: 333 });
    client.send({ action: 'stop' });
    const saved = await client.next((m) => m.status === 'recording_saved');
    assert.equal(saved.bytes, opus.bytes.length);
    assert.ok(Math.abs(saved.duration - opus.seconds) < 0.02, `duration ${saved.duration} vs ${opus.seconds}`);
    const recording = await waitForRecording(server, user, recordingId);
    assert.deepEqual(
      [recording.status, recording.codec, recording.sample_rate, recording.channels, recording.pipeline],
      ['ready', 'opus', 16_000, 1, 'remux'],
    );
    const file = await downloadTo(server, user, recordingId);
    try {
      assert.deepEqual(probePackets(file), opus.packets);
    } finally {
      await rm(file, { force: true });
    }
    const probed = await probeAudio(server, user, recordingId);
    assert.deepEqual([probed.format, probed.codec, probed.sampleRate, probed.channels], ['ogg', 'opus', 16_000, 1]);
  });

  it('a raw Opus stream resumed at an offset inside a packet continues byte-exact', async () => {
    const opus = rawOpus(opusSpeech(STORED_FORMAT_ARGS, 20));
    const { client, recordingId } = await startRecording(server, user, { format: 'opus', ack: true });
    const cut = Math.floor(opus.bytes.length / 2) + 1;
    await sendAudio(client, opus.bytes, { to: cut, chunkBytes: 1001 });
    await client.next((m) => m.status === 'ack' && m.bytes === cut);
    client.ws.terminate();
    await client.closed;
    const { client: again, resumed } = await resumeOn(server, user, recordingId);
    assert.equal(resumed.bytes, cut);
    await sendAudio(again, opus.bytes, { from: resumed.bytes, chunkBytes: 777 });
    again.send({ action: 'stop' });
    const saved = await again.next((m) => m.status === 'recording_saved');
    assert.equal(saved.bytes, opus.bytes.length);
    const recording = await waitForRecording(server, user, recordingId);
    assert.equal(recording.pipeline, 'remux');
    const file = await downloadTo(server, user, recordingId);
    try {
      assert.deepEqual(probePackets(file), opus.packets);
    } finally {
      await rm(file, { force: true });
    }
  });

  for (const [what, args] of [
    ['stereo', ['-ac', '2', '-ar', '16000', '-b:a', '24k']],
    ['48 kHz fullband', ['-ac', '1', '-ar', '48000', '-b:a', '24k']],
    ['64 kbps', ['-ac', '1', '-ar', '16000', '-b:a', '64k']],
  ] as const) {
    it(`raw Opus that is not the stored format (${what}) is transcoded into it`, async () => {
      const opus = rawOpus(opusSpeech([...args]));
      const { client, recordingId } = await startRecording(server, user, { format: 'opus' });
      await sendAudio(client, opus.bytes, { chunkBytes: 2000 });
      client.send({ action: 'stop' });
      const saved = await client.next((m) => m.status === 'recording_saved');
      assert.ok(Math.abs(saved.duration - 5) < 0.05, `duration ${saved.duration}`);
      const recording = await waitForRecording(server, user, recordingId);
      assert.deepEqual(
        [recording.status, recording.sample_rate, recording.channels, recording.pipeline],
        ['ready', 16_000, 1, 'transcode'],
      );
      assert.ok(recording.bitrate < 40_000, `bitrate ${recording.bitrate}`);
    });
  }

  it('raw Opus with a corrupted TOC halfway is transcoded, and keeps its length', async () => {
    const opus = rawOpus(opusSpeech(STORED_FORMAT_ARGS));
    const packets = opus.packets.map((packet) => Buffer.from(packet));
    // A code 3 packet of 0 frames (RFC 6716 §3.4, R5): not valid Opus.
    packets[120] = Buffer.from([(packets[120]![0]! & 0xfc) | 3, 0]);
    const head = opus.bytes.subarray(0, 2 + opus.bytes.readUInt16BE(0));
    const bytes = Buffer.concat([head, ...packets.map((packet) => framePacket(packet))]);
    const { client, recordingId } = await startRecording(server, user, { format: 'opus' });
    await sendAudio(client, bytes, { chunkBytes: 2000 });
    client.send({ action: 'stop' });
    const saved = await client.next((m) => m.status === 'recording_saved');
    assert.ok(Math.abs(saved.duration - opus.seconds) < 0.05, `duration ${saved.duration}`);
    assert.equal((await waitForRecording(server, user, recordingId)).pipeline, 'transcode');
  });

  it('containers: Ogg of the stored format is remuxed; what browsers record is transcoded as before', async () => {
    const stored = opusSpeech(STORED_FORMAT_ARGS);
    for (const [bytes, pipeline] of [
      [stored, 'remux'],
      [readFileSync(path.join(FIXTURES, 'speech.webm')), 'transcode'],
    ] as const) {
      const { client, recordingId } = await startRecording(server, user);
      await sendAudio(client, bytes, { chunkBytes: 3000 });
      client.send({ action: 'stop' });
      await client.next((m) => m.status === 'recording_saved');
      const recording = await waitForRecording(server, user, recordingId);
      assert.deepEqual([recording.status, recording.pipeline], ['ready', pipeline]);
      if (pipeline === 'remux') {
        const file = await downloadTo(server, user, recordingId);
        try {
          assert.deepEqual(probePackets(file), rawOpus(stored).packets);
        } finally {
          await rm(file, { force: true });
        }
      }
    }
  });

  it('bytes of no container are refused as soon as 8 have arrived (4422), the input kept', async () => {
    const { client, recordingId } = await startRecording(server, user);
    client.send(Buffer.from('hello, this is not audio'));
    const error = await client.next((m) => m.status === 'error');
    assert.equal(error.error, 'invalid_media');
    assert.match(error.message, /could not recognise the live stream/);
    assert.equal((await client.closed).code, 4422);
    const failed = await waitForRecording(server, user, recordingId);
    assert.deepEqual([failed.status, failed.error_code, failed.received_bytes], ['failed', 'invalid_media', 24]);
    assert.ok(failed.input_kept_until, 'what was received is kept');
  });

  it('a stream too short to recognise is refused LIVE_RECOGNISE_TIMEOUT_MS after its first byte (4422)', async () => {
    for (const meta of [{}, { format: 'opus' }]) {
      const { client, recordingId } = await startRecording(server, user, meta);
      const sentAt = Date.now();
      client.send(Buffer.from([0x1a, 0x45])); // could still become WebM; or: half an Opus packet length
      const error = await client.next((m) => m.status === 'error', 10_000);
      const after = Date.now() - sentAt;
      assert.equal(error.error, 'invalid_media');
      assert.match(error.message, /not recognised within 0.6 s of its first byte/);
      assert.equal((await client.closed).code, 4422);
      // Within the promised time (a generous margin for a loaded machine), and not before it.
      assert.ok(after >= RECOGNISE_MS - 50 && after < RECOGNISE_MS + 3000, `closed ${after} ms after the first byte`);
      assert.equal((await waitForRecording(server, user, recordingId)).error_code, 'invalid_media');
    }
  });

  it('raw Opus whose first packet is not an OpusHead is refused at once (4422)', async () => {
    const opus = rawOpus(opusSpeech(STORED_FORMAT_ARGS));
    const headLength = 2 + opus.bytes.readUInt16BE(0);
    const { client } = await startRecording(server, user, { format: 'opus' });
    client.send(opus.bytes.subarray(headLength, headLength + 4000));
    const error = await client.next((m) => m.status === 'error');
    assert.equal(error.error, 'invalid_media');
    assert.match(error.message, /OpusHead/);
    assert.equal((await client.closed).code, 4422);
  });
});

describe('stream input in the stored format', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
  });
  after(() => server.close());

  it('a chunked Ogg/Opus stream of 16 kHz mono Opus is remuxed by its processing job, byte for byte', async () => {
    const ogg = opusSpeech(STORED_FORMAT_ARGS);
    let id = '';
    for (let offset = 0; offset < ogg.length; offset += 4000) {
      const query = id ? `?recording_id=${id}&offset=${offset}` : '';
      const res = await api(server, 'POST', `/api/recordings/stream${query}`, {
        token: user.token,
        body: ogg.subarray(offset, offset + 4000),
        headers: { 'content-type': 'audio/ogg' },
      });
      assert.ok(res.status < 300, JSON.stringify(res.body));
      id = res.body.recording_id;
    }
    const done = await api(server, 'POST', `/api/recordings/stream/${id}/finish`, { token: user.token });
    assert.equal(done.body.status, 'ready', JSON.stringify(done.body));
    assert.deepEqual([done.body.recording.pipeline, done.body.recording.sample_rate], ['remux', 16_000]);
    const file = await downloadTo(server, user, id);
    try {
      assert.deepEqual(probePackets(file), rawOpus(ogg).packets);
    } finally {
      await rm(file, { force: true });
    }
  });
});

describe('live input formats on two nodes', () => {
  let a: TestServer & { schema?: string };
  let b: TestServer;
  let user: TestUser;
  before(async () => {
    // Short leases: A learns it was taken over from its next lease renewal (everything it had is committed).
    a = await startTestServer({ env: { LIVE_COMMIT_INTERVAL_MS: '100', LEASE_TTL_MS: '1500' } });
    // A second node: its own disk, the same database, object store and token key.
    const dataDir = await mkdtemp(path.join(tmpdir(), 'earshot-test-b-'));
    b = await startTestServer({
      reuse: { dataDir, ...(a.schema ? { schema: a.schema } : {}) },
      env: {
        NODE_ID: 'node-b',
        LIVE_COMMIT_INTERVAL_MS: '100',
        LEASE_TTL_MS: '1500',
        STORAGE_URL: `file:${path.join(a.dataDir, 'blobs')}`,
        JWT_SECRET_FILE: path.join(a.dataDir, 'jwt-secret'),
        ...(a.schema ? {} : { DATABASE_URL: `sqlite:${path.join(a.dataDir, 'earshot.db')}` }),
      },
    });
    user = await registerUser(a);
  });
  after(async () => {
    await b?.stop();
    await rm(b.dataDir, { recursive: true, force: true });
    await a?.close();
  });

  /** Starts on A, sends the first half and waits until it is committed, then resumes on B. */
  async function halfHere(bytes: Buffer, meta: Record<string, unknown>) {
    const { client, recordingId } = await startRecording(a, user, { ...meta, commit: true });
    const half = Math.floor(bytes.length / 2) + 1;
    await sendAudio(client, bytes, { to: half, chunkBytes: 1500 });
    await client.next((m) => m.status === 'committed' && m.bytes === half);
    const { client: onB, resumed } = await resumeOn(b, user, recordingId);
    assert.equal(resumed.status, 'recording_resumed');
    assert.equal(resumed.bytes, half, 'B continues from what A committed');
    assert.equal((await client.closed).code, 4409, 'A was fenced by its lease renewal');
    await sendAudio(onB, bytes, { from: half, chunkBytes: 1500 });
    onB.send({ action: 'stop' });
    const saved = await onB.next((m) => m.status === 'recording_saved', 30_000);
    assert.equal(saved.bytes, bytes.length);
    return { recordingId, saved };
  }

  it('raw Opus taken over by another node is still remuxed there, byte for byte', async () => {
    const opus = rawOpus(opusSpeech(STORED_FORMAT_ARGS, 10));
    const { recordingId } = await halfHere(opus.bytes, { format: 'opus' });
    const recording = await waitForRecording(b, user, recordingId);
    assert.deepEqual([recording.status, recording.pipeline], ['ready', 'remux']);
    const file = await downloadTo(b, user, recordingId);
    try {
      assert.deepEqual(probePackets(file), opus.packets);
    } finally {
      await rm(file, { force: true });
    }
  });

  it('raw PCM taken over by another node is read with its declared format (a processing job)', async () => {
    const bytes = pcmSpeech('s16le', 16_000, 1, 10);
    const { recordingId, saved } = await halfHere(bytes, { format: 'pcm_s16le', sample_rate: 16_000, channels: 1 });
    const recording = await waitForRecording(b, user, recordingId);
    assert.deepEqual([recording.status, recording.pipeline], ['ready', 'transcode']);
    assert.ok(Math.abs(recording.duration_sec - 10) < 0.05, `duration ${recording.duration_sec} (${saved.duration})`);
    const row = await api(a, 'GET', `/api/recordings/${recordingId}`, { token: user.token });
    assert.equal(row.body.pipeline, 'transcode');
  });
});
