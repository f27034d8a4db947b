/** The live session state machine, the recording's backpressure and the origin rule, without sockets. */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../errors.ts';
import { type InputFormat, serialiseInputFormat } from '../media/input-format.ts';
import type { LiveTranscoder } from '../media/types.ts';
import { eventually } from '../test-support/eventually.ts';
import { createTestLifecycle, type TestLifecycle } from '../test-support/lifecycle.ts';
import { LiveInput } from './live-input.ts';
import { LiveRecording, type LiveRecordingDeps } from './live-recording.ts';
import { isOriginAllowed } from './origin.ts';
import { closeReason, parseStartOrResume, type ServerMessage } from './protocol.ts';
import { type AttachedClient, LiveSession, type RecordingHandle, type SavedResult, type Transport } from './session.ts';
import { batchWatermarks } from './watermarks.ts';

function fakeTransport() {
  const sent: ServerMessage[] = [];
  const calls: string[] = [];
  let closed: { code: number; reason: string } | undefined;
  const transport: Transport = {
    send: (message) => sent.push(message),
    close: (code, reason) => {
      closed ??= { code, reason };
    },
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  };
  return { transport, sent, calls, closed: () => closed };
}

function fakeRecording() {
  const appended: Buffer[] = [];
  const events: string[] = [];
  const saved: SavedResult = {
    recordingId: 'r1',
    status: 'ready',
    durationSec: 5,
    bytes: 0,
    error: null,
    errorCode: null,
  };
  const handle: RecordingHandle = {
    id: 'r1',
    append: (chunk) => {
      appended.push(chunk);
      saved.bytes += chunk.length;
    },
    finalise: async () => {
      events.push('finalise');
      return saved;
    },
    detach: () => events.push('detach'),
  };
  return { handle, appended, events };
}

function session(options: { startDelayMs?: number; handshakeTimeoutMs?: number; idleTimeoutMs?: number } = {}) {
  const t = fakeTransport();
  const recording = fakeRecording();
  const s = new LiveSession(t.transport, {
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 1000,
    idleTimeoutMs: options.idleTimeoutMs ?? 1000,
    maxTextFrameBytes: 4096,
    authenticate: async (token) => {
      if (token !== 'good') throw new AppError('invalid_token', 'invalid access token');
      return { kind: 'user', userId: 'u1' };
    },
    start: async () => {
      if (options.startDelayMs) await sleep(options.startDelayMs);
      return { handle: recording.handle, filename: 'r1.ogg' };
    },
    resume: async () => ({ handle: recording.handle, bytes: 10, durable: 8, committed: 4 }),
  });
  const text = (value: unknown) => s.onMessage(Buffer.from(JSON.stringify(value)), false);
  return { s, t, recording, text };
}

const META = { name: 'n', meeting_link: 'https://x.example/m', org_id: 'o1' };

describe('LiveSession', () => {
  it('runs the seed handshake, takes audio in order and answers stop with recording_saved and 1000', async () => {
    const { s, t, recording, text } = session();
    text({ token: 'good' });
    text(META);
    s.onMessage(Buffer.from('abc'), true);
    s.onMessage(Buffer.from('def'), true);
    text({ action: 'stop' });
    await sleep(10);
    assert.deepEqual(
      t.sent.map((m) => m.status),
      ['authenticated', 'recording_started', 'recording_saved'],
    );
    assert.equal(Buffer.concat(recording.appended).toString(), 'abcdef');
    assert.deepEqual(t.closed(), { code: 1000, reason: '' });
    assert.equal(s.state, 'closed');
  });

  it('closes 1008 when nothing arrives within the handshake timeout', async () => {
    const { t } = session({ handshakeTimeoutMs: 30 });
    await sleep(60);
    assert.equal(t.closed()?.code, 1008);
    assert.deepEqual(t.sent.at(-1), {
      status: 'error',
      error: 'handshake_timeout',
      message: 'no access token within 0.03 s',
    });
  });

  it('finalises on a normal close, detaches on a drop', async () => {
    for (const [code, expected] of [
      [1000, 'finalise'],
      [1005, 'finalise'],
      [1006, 'detach'],
      [1001, 'detach'],
    ] as const) {
      const { s, recording, text } = session();
      text({ token: 'good' });
      text(META);
      await sleep(5);
      s.onClose(code);
      assert.deepEqual(recording.events, [expected], `close ${code}`);
    }
  });

  it('does not orphan a recording when the client leaves while it is being created', async () => {
    const { s, recording, text } = session({ startDelayMs: 20 });
    text({ token: 'good' });
    text(META);
    await sleep(5);
    s.onClose(1006);
    await sleep(40);
    assert.deepEqual(recording.events, ['detach']);
  });

  it('sends acks only when asked, and idles out with 4408 (keeping the recording)', async () => {
    const { s, t, recording, text } = session({ idleTimeoutMs: 40 });
    text({ token: 'good' });
    text({ ...META, ack: true });
    await sleep(5);
    s.ack(42);
    assert.deepEqual(t.sent.at(-1), { status: 'ack', bytes: 42 });
    await sleep(60);
    assert.equal(t.closed()?.code, 4408);
    assert.deepEqual(recording.events, ['detach']);
  });

  it('resume answers recording_resumed with the byte count, then the durable ack', async () => {
    const { t, text } = session();
    text({ token: 'good' });
    text({ resume: 'abc1', ack: true });
    await sleep(5);
    assert.deepEqual(t.sent.slice(1), [
      { status: 'recording_resumed', recording_id: 'r1', bytes: 10, committed: 4 },
      { status: 'ack', bytes: 8 },
    ]);
  });
});

describe('protocol', () => {
  it('cuts close reasons to 123 bytes without splitting a character', () => {
    const reason = closeReason('é'.repeat(100));
    assert.ok(Buffer.byteLength(reason) <= 123);
    assert.equal(reason, 'é'.repeat(61));
    assert.equal(closeReason('short'), 'short');
  });

  it('validates metadata', () => {
    assert.deepEqual(parseStartOrResume(JSON.stringify(META)), {
      name: 'n',
      meeting_link: 'https://x.example/m',
      org_id: 'o1',
      ack: false,
      commit: false,
      format: { kind: 'container' },
    });
    assert.throws(() => parseStartOrResume(JSON.stringify({ ...META, meeting_link: 'ftp://x' })), /meeting_link/);
    assert.throws(() => parseStartOrResume('{"ack":"yes"}'), /ack/);
    assert.throws(() => parseStartOrResume('[]'), /JSON object/);
  });
});

describe('origin check', () => {
  it('allows no origin, the same host, listed origins; refuses others and opaque ones', () => {
    assert.equal(isOriginAllowed(undefined, 'earshot.example', []), true);
    assert.equal(isOriginAllowed('https://earshot.example', 'earshot.example', []), true);
    assert.equal(isOriginAllowed('https://earshot.example', 'earshot.example:443', []), true);
    assert.equal(isOriginAllowed('http://localhost:5173', 'localhost:8000', []), false);
    assert.equal(isOriginAllowed('http://localhost:5173', 'localhost:8000', ['http://localhost:5173']), true);
    assert.equal(isOriginAllowed('https://evil.example', 'earshot.example', ['https://app.example']), false);
    assert.equal(isOriginAllowed('null', 'earshot.example', []), false);
  });
});

describe('LiveRecording', () => {
  const audioInfo = {
    container: 'ogg',
    codec: 'opus',
    sampleRate: 16000,
    channels: 1,
    durationSec: 1,
    bitrate: 24000,
    sizeBytes: 1,
  };
  const client = (overrides: Partial<AttachedClient> = {}): AttachedClient => ({
    ack: () => {},
    committed: () => {},
    pause: () => {},
    resume: () => {},
    end: () => {},
    ...overrides,
  });

  /**
   * A live recording over a real lifecycle (SQLite, local store), as live.service.ts opens one. Its input
   * is raw PCM (float stereo at 48 kHz: 384 kB a second), so every byte goes to the transcoder unchecked.
   */
  const pcm: InputFormat = { kind: 'pcm', codec: 'pcm_f32le', sampleRate: 48_000, channels: 2 };
  async function withRecording(
    transcoder: LiveTranscoder,
    run: (r: LiveRecording, dir: string, t: TestLifecycle) => Promise<void>,
  ) {
    const t = await createTestLifecycle();
    const row = await t.lifecycle.createLive({
      orgId: t.orgId,
      userId: t.userId,
      name: 'n',
      meetingLink: null,
      maxPerUser: 3,
      dialect: 'sqlite',
      inputFormat: serialiseInputFormat(pcm),
    });
    const dir = await t.spool.dirFor(row.id);
    const deps: LiveRecordingDeps = {
      store: t.lifecycle,
      watermarks: batchWatermarks(t.lifecycle),
      cleanup: (id) => t.spool.remove(id),
      onFinished: () => {},
      log: { info: () => {}, warn: () => {}, error: () => {} },
    };
    const recording = await LiveRecording.open(
      {
        id: row.id,
        userId: row.user_id,
        epoch: row.lease_epoch,
        rawLogPath: path.join(dir, 'input'),
        oggPath: path.join(dir, 'live.ogg'),
        remuxPath: path.join(dir, 'remux.ogg'),
        newInput: () =>
          new LiveInput({
            format: pcm,
            remuxPath: path.join(dir, 'remux.ogg'),
            maxDurationSec: 3600,
            pace: { startedAtMs: Date.parse(row.created_at), slackSec: 30 },
          }),
        recogniseTimeoutMs: 5000,
        fsyncIntervalMs: 10,
        commitIntervalMs: 20,
        resumeGraceMs: 1000,
        maxBytes: 1 << 30,
        maxDurationMs: 60_000,
        processingWaitMs: () => 0,
        committed: 0,
        openTranscoder: async () => transcoder,
      },
      deps,
    );
    try {
      await run(recording, dir, t);
    } finally {
      await recording.finalise().catch(() => {});
      await t.dispose();
    }
  }

  it('pauses the client while the transcoder is behind and resumes it when it catches up', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const told: Array<{ total: number; inFile: number }> = [];
    const transcoder: LiveTranscoder = {
      advance: async (total) => {
        told.push({ total, inFile: (await stat(rawLog)).size });
        await gate;
      },
      finish: async () => audioInfo,
      abort: async () => {},
    };
    let rawLog = '';
    await withRecording(transcoder, async (recording, dir) => {
      rawLog = path.join(dir, 'input');
      const calls: string[] = [];
      await recording.attach(client({ pause: () => calls.push('pause'), resume: () => calls.push('resume') }));
      for (let i = 0; i < 5; i++) recording.append(Buffer.alloc(300 * 1024, i));
      assert.deepEqual(calls, ['pause']);
      await sleep(50);
      assert.deepEqual(calls, ['pause'], 'still paused: the raw log is written but the transcoder is not');
      release();
      await sleep(50);
      assert.deepEqual(calls, ['pause', 'resume']);
      assert.equal((await readFile(rawLog)).length, 5 * 300 * 1024);
      // The transcoder reads the raw log itself: it is only told about bytes already in the file, and
      // one advance covers every chunk written while the previous one was outstanding.
      for (const { total, inFile } of told) assert.ok(inFile >= total, `told ${total} with ${inFile} in the file`);
      assert.equal(told.at(-1)?.total, 5 * 300 * 1024);
      assert.ok(told.length < 5, `${told.length} advances`);
    });
  });

  const failingTranscoder: LiveTranscoder = {
    advance: async () => {
      throw new AppError('internal', 'media worker for this session crashed');
    },
    finish: async () => {
      throw new Error('not reached');
    },
    abort: async () => {},
  };

  it('a failing transcoder hands the recording to a processing job, with every byte committed', async () => {
    await withRecording(failingTranscoder, async (recording, _dir, t) => {
      await recording.attach(client());
      const sent = Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(500, 2)]);
      recording.append(sent.subarray(0, 1000));
      recording.append(sent.subarray(1000));
      const saved = await recording.finalise();
      assert.deepEqual([saved.status, saved.bytes], ['processing', 1500]);
      const row = await t.repo.get(recording.id);
      assert.deepEqual([row?.status, row?.committed_bytes, row?.lease_owner], ['processing', 1500, null]);
      assert.equal((await t.jobs.depth()).queued, 1);
      const staged = path.join(t.dir, 'staged');
      assert.equal(await t.lifecycle.stageInput(row!, staged), 1500);
      assert.deepEqual(await readFile(staged), sent);
    });
  });

  it('commits durable bytes as segments and reports the committed watermark', async () => {
    await withRecording(failingTranscoder, async (recording, _dir, t) => {
      const committed: number[] = [];
      const acks: number[] = [];
      await recording.attach(client({ committed: (n) => committed.push(n), ack: (n) => acks.push(n) }));
      recording.append(Buffer.alloc(300, 7));
      await eventually(() => assert.equal(committed.at(-1), 300));
      recording.append(Buffer.alloc(200, 8));
      await eventually(() => assert.equal(committed.at(-1), 500));
      assert.ok(acks.at(-1)! >= committed.at(-1)!, 'nothing is committed before it is acknowledged');
      const segments = await t.blobs.list(`inputs/${recording.id}/live/`);
      assert.equal(
        segments.reduce((sum, segment) => sum + segment.size, 0),
        500,
      );
      assert.equal((await t.repo.get(recording.id))?.committed_bytes, 500);
    });
  });

  it('keeps committing after rounds that found nothing new to commit', async () => {
    await withRecording(failingTranscoder, async (recording, _dir, t) => {
      const committed: number[] = [];
      await recording.attach(client({ committed: (n) => committed.push(n) }));
      await sleep(100); // commit rounds (every 20 ms) with nothing to do
      recording.append(Buffer.alloc(300, 7));
      await eventually(() => assert.equal(committed.at(-1), 300));
      await sleep(100);
      recording.append(Buffer.alloc(200, 8));
      await eventually(() => assert.equal(committed.at(-1), 500));
      assert.equal((await t.repo.get(recording.id))?.committed_bytes, 500);
    });
  });

  it('is fenced when another node takes the recording over: closes 4409, commits and finishes nothing', async () => {
    await withRecording(failingTranscoder, async (recording, _dir, t) => {
      const ends: Array<{ code: number; error?: string | undefined }> = [];
      await recording.attach(client({ end: (_saved, close) => ends.push({ code: close.code, error: close.error }) }));
      recording.append(Buffer.alloc(100));
      await eventually(async () => assert.equal((await t.repo.get(recording.id))?.committed_bytes, 100));
      const other = await t.lifecycle.acquire(recording.id, { kind: 'takeover', epoch: recording.epoch });
      assert.equal(other?.lease_epoch, recording.epoch + 1);
      recording.append(Buffer.alloc(50));
      await eventually(() => assert.deepEqual(ends, [{ code: 4409, error: 'session_taken_over' }]));
      assert.equal(recording.state, 'fenced');
      const row = await t.repo.get(recording.id);
      assert.deepEqual([row?.status, row?.committed_bytes], ['receiving', 100], 'the fenced owner changed nothing');
    });
  });
});
