/**
 * Media bombs (small inputs that decode to hours of audio) are refused early: each test checks what had
 * been decoded when the refusal came (the error details), never how long it took.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { GRACE_SEC, MIN_BYTES_PER_SEC } from './audio-budget.ts';
import { writeLowRateWav, writeOpusPacketBomb, writeSilentFlac } from './bomb-inputs.ts';
import type { MediaEngineWithStats } from './index.ts';
import { createMediaEngine, liveAudioLimitSec } from './index.ts';
import { fixture, rejectsWith, tempDir, writeToneWav } from './test-helpers.ts';
import type { AudioInfo, LiveOptions } from './types.ts';

const HOURS = 3600;
/** The default MAX_RECORDING_SECONDS: bombs must be refused long before it. */
const LIMIT_SEC = 6 * HOURS;
const dir = tempDir();

/** The refusal's `details.decodedSec`: the audio decoded before it. */
function decodedSec(err: { details: Record<string, unknown> | undefined }): number {
  const sec = err.details?.decodedSec;
  assert.equal(typeof sec, 'number', `details ${JSON.stringify(err.details)}`);
  return sec as number;
}

describe('media bombs: file jobs', () => {
  let engine: MediaEngineWithStats;
  before(() => {
    engine = createMediaEngine({ workers: 2, jobTimeoutMs: 120_000, maxDurationSec: LIMIT_SEC });
  });
  after(() => engine.close());

  test('FLAC of 7 h silence declaring no length: refused after a few minutes of audio', async () => {
    const bomb = join(dir, 'silence.flac');
    writeSilentFlac(bomb, 7 * HOURS);
    const size = statSync(bomb).size;
    assert.ok(size < 100_000, `bomb is ${size} bytes`);
    const err = await rejectsWith(engine.normalize(bomb, join(dir, 'silence.ogg')), 'invalid_media', /implausible/);
    const sec = decodedSec(err);
    const inputBytes = err.details?.inputBytes as number;
    // Refused at the first frame past the byte budget (a FLAC frame here is 8 s of audio). The 8 kB of
    // padding after the header count as input too: ~170 s of audio at 48 B/s.
    assert.ok(sec > GRACE_SEC && sec <= GRACE_SEC + inputBytes / MIN_BYTES_PER_SEC + 9, `decoded ${sec} s`);
    assert.ok(sec < 300, `decoded ${sec} s`);
    assert.ok(inputBytes <= size, `${inputBytes} bytes read`);
  });

  test('FLAC declaring 7 h: refused before decoding', async () => {
    const bomb = join(dir, 'declared.flac');
    writeSilentFlac(bomb, 7 * HOURS, true);
    const err = await rejectsWith(engine.normalize(bomb, join(dir, 'declared.ogg')), 'media_too_long', /7h exceeds/);
    assert.equal(err.details?.durationSec, 7 * HOURS);
    assert.equal(decodedSec(err), 0);
  });

  for (const rate of [1, 100, 3999]) {
    test(`WAV at ${rate} Hz: refused when opened`, async () => {
      const wav = join(dir, `rate-${rate}.wav`);
      writeLowRateWav(wav, Math.min(20_000, 1_000_000 / rate), rate);
      const err = await rejectsWith(
        engine.normalize(wav, join(dir, `rate-${rate}.ogg`)),
        'unsupported_media',
        new RegExp(`sample rate ${rate} Hz is not accepted`),
      );
      assert.equal(err.details?.sampleRate, rate);
      assert.equal(err.httpStatus, 415);
    });
  }

  test('WAV at 4 kHz, the lowest rate accepted, still works', async () => {
    const wav = join(dir, 'rate-4000.wav');
    writeToneWav(wav, 3, 4000);
    const info = await engine.normalize(wav, join(dir, 'rate-4000.ogg'));
    assert.ok(Math.abs(info.durationSec - 3) < 0.05, `duration ${info.durationSec}`);
  });

  test('Ogg/Opus of 2-byte packets, 5.5 h (under the limit): refused after a few minutes of audio', async () => {
    const bomb = join(dir, 'packets.ogg');
    writeOpusPacketBomb(bomb, 'ogg', 5.5 * HOURS);
    const err = await rejectsWith(engine.normalize(bomb, join(dir, 'packets-out.ogg')), 'invalid_media', /implausible/);
    const sec = decodedSec(err);
    // ~26 bytes per second of audio against 48: the budget runs out at ~60 / (1 - 26/48) s.
    assert.ok(sec > GRACE_SEC && sec < 300, `decoded ${sec} s`);
  });

  test('Ogg/Opus of 2-byte packets, 7 h: refused before decoding (the last page declares it)', async () => {
    const bomb = join(dir, 'packets-7h.ogg');
    writeOpusPacketBomb(bomb, 'ogg', 7 * HOURS);
    const err = await rejectsWith(engine.normalize(bomb, join(dir, 'packets-7h-out.ogg')), 'media_too_long');
    assert.equal(decodedSec(err), 0);
  });

  test('NormalizeOptions.maxDurationSec lowers the limit for one job', async () => {
    // The WAV declares its 5 s: refused before decoding.
    let err = await rejectsWith(
      engine.normalize(fixture('speech.wav'), join(dir, 'bounded.ogg'), { maxDurationSec: 2 }),
      'media_too_long',
      /5(\.0)?s exceeds the 2(\.0)?s limit/,
    );
    assert.equal(decodedSec(err), 0);
    // Written live, the WebM declares nothing: refused as soon as the decoded audio passes 2 s.
    err = await rejectsWith(
      engine.normalize(fixture('speech.webm'), join(dir, 'bounded-webm.ogg'), { maxDurationSec: 2 }),
      'media_too_long',
    );
    assert.equal(err.details?.maxDurationSec, 2);
    assert.ok(decodedSec(err) > 2 && decodedSec(err) < 2.1, `decoded ${decodedSec(err)} s`);
    const info = await engine.normalize(fixture('speech.webm'), join(dir, 'bounded-ok.ogg'), { maxDurationSec: 6 });
    assert.ok(Math.abs(info.durationSec - 5) < 0.1);
  });

  test('NormalizeOptions.maxDurationSec cannot raise the engine limit; a bad value is refused', async () => {
    const small = createMediaEngine({ workers: 1, jobTimeoutMs: 20_000, maxDurationSec: 3 });
    try {
      await rejectsWith(
        small.normalize(fixture('speech.wav'), join(dir, 'raised.ogg'), { maxDurationSec: 3600 }),
        'media_too_long',
      );
      await assert.rejects(
        small.normalize(fixture('speech.wav'), join(dir, 'nan.ogg'), { maxDurationSec: Number.NaN }),
      );
      await assert.rejects(small.normalize(fixture('speech.wav'), join(dir, 'zero.ogg'), { maxDurationSec: 0 }));
    } finally {
      await small.close();
    }
  });
});

describe('media bombs: live sessions', () => {
  let engine: MediaEngineWithStats;
  before(() => {
    engine = createMediaEngine({ workers: 1, jobTimeoutMs: 120_000, maxDurationSec: LIMIT_SEC });
  });
  after(() => engine.close());

  /**
   * Feed `data` to a new live session as fast as the worker takes it, as the live layer does (append to
   * the raw log, then advance), and return how the session ended.
   */
  async function feed(name: string, data: Buffer, opts: LiveOptions): Promise<AudioInfo> {
    const input = join(dir, `${name}.input`);
    writeFileSync(input, '');
    const live = await engine.openLive(join(dir, `${name}.ogg`), input, opts);
    try {
      for (let i = 0; i < data.length; i += 16 * 1024) {
        const chunk = data.subarray(i, i + 16 * 1024);
        appendFileSync(input, chunk);
        await live.advance(i + chunk.length);
      }
    } catch {
      // The session failed while fed: finish() reports why.
    }
    return live.finish();
  }

  test('20 min of 2-byte Opus packets in WebM sent at once: refused ahead of real time', async () => {
    const bomb = join(dir, 'live-packets.webm');
    writeOpusPacketBomb(bomb, 'webm', 20 * 60);
    const startedAtMs = Date.now();
    const err = await rejectsWith(
      feed('live-packets', readFileSync(bomb), { startedAtMs, slackSec: 30 }),
      'media_too_long',
      /ahead of real time/,
    );
    const sec = decodedSec(err);
    const elapsedSec = err.details?.elapsedSec as number;
    // Refused at the first frame (120 ms) past the bound for the time the worker saw, whatever that was.
    assert.ok(sec > liveAudioLimitSec(elapsedSec, 30), `decoded ${sec} s after ${elapsedSec} s`);
    assert.ok(sec < liveAudioLimitSec(elapsedSec, 30) + 0.5, `decoded ${sec} s after ${elapsedSec} s`);
    assert.ok(sec < 20 * 60, `decoded ${sec} s`);
    assert.equal(err.wsCloseCode, 4413);
  });

  test('the same bomb in Ogg, in a session started a day ago: refused by its bytes', async () => {
    const bomb = join(dir, 'live-packets.ogg');
    writeOpusPacketBomb(bomb, 'ogg', 20 * 60);
    const err = await rejectsWith(
      feed('live-packets-ogg', readFileSync(bomb), { startedAtMs: Date.now() - 24 * HOURS * 1000 }),
      'invalid_media',
      /implausible/,
    );
    const sec = decodedSec(err);
    assert.ok(sec > GRACE_SEC && sec < 300, `decoded ${sec} s`);
  });

  test('a session catching up (started 10 min ago, 3 min sent at once) is not refused', async () => {
    const wav = join(dir, 'catch-up.wav');
    writeToneWav(wav, 180);
    const source = join(dir, 'catch-up-source.ogg');
    await engine.normalize(wav, source);
    const info = await feed('catch-up', readFileSync(source), { startedAtMs: Date.now() - 600_000, slackSec: 0 });
    assert.ok(Math.abs(info.durationSec - 180) < 0.2, `duration ${info.durationSec}`);
  });

  test('a short recording sent at once fits in the slack', async () => {
    const info = await feed('in-slack', readFileSync(fixture('speech.webm')), { startedAtMs: Date.now() });
    assert.ok(Math.abs(info.durationSec - 5) < 0.1, `duration ${info.durationSec}`);
  });

  test('PCM at 100 Hz in Matroska: refused when the stream opens', async () => {
    const mkv = execFileSync(
      'ffmpeg',
      [
        ...['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=100:cl=mono', '-t', '3600'],
        ...['-c:a', 'pcm_s16le', '-f', 'matroska', '-live', '1', 'pipe:1'],
      ],
      { maxBuffer: 1 << 24 },
    );
    const err = await rejectsWith(
      feed('live-100hz', mkv, { startedAtMs: Date.now() }),
      'unsupported_media',
      /sample rate 100 Hz/,
    );
    assert.equal(err.wsCloseCode, 4415);
  });
});
