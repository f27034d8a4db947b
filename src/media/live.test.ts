import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MediaEngineWithStats } from './index.ts';
import { createMediaEngine } from './index.ts';
import type { PcmFormat } from './input-format.ts';
import { fixture, opusHeadInputRate, rejectsWith, tempDir, writeToneWav } from './test-helpers.ts';
import type { LiveOptions, LiveTranscoder } from './types.ts';

const CHUNK = 4096;
interface Live {
  live: LiveTranscoder;
  input: string;
}
/**
 * Like the live layer with its raw log: append each chunk to the input file first, then tell the
 * worker how long the file now is.
 */
async function stream({ live, input }: Live, data: Buffer): Promise<void> {
  for (let i = 0; i < data.length; i += CHUNK) {
    const chunk = data.subarray(i, i + CHUNK);
    appendFileSync(input, chunk);
    await live.advance(i + chunk.length);
  }
}

describe('media engine: live', () => {
  let engine: MediaEngineWithStats;
  const dir = tempDir();
  before(() => {
    engine = createMediaEngine({ workers: 1, jobTimeoutMs: 20_000, maxDurationSec: 3600 });
  });
  after(() => engine.close());

  /** A session writing `<name>.ogg` from the input file `<name>.input`, which starts out empty. */
  async function open(name: string, options: LiveOptions = {}): Promise<Live> {
    const input = join(dir, `${name}.input`);
    writeFileSync(input, '');
    return { live: await engine.openLive(join(dir, `${name}.ogg`), input, options), input };
  }

  const CASES: Array<[string, number]> = [
    ['speech.webm', 5.0065],
    ['speech.ogg', 5.0065],
    ['speech-frag.mp4', 5.0065],
    ['speech-frag-aac.mp4', 5.0213],
  ];
  for (const [name, seconds] of CASES) {
    test(`${name} streamed in 4 KB chunks`, async () => {
      const s = await open(`live-${name}`);
      await stream(s, readFileSync(fixture(name)));
      const info = await s.live.finish();
      assert.equal(info.codec, 'opus');
      assert.equal(info.channels, 1);
      assert.equal(opusHeadInputRate(join(dir, `live-${name}.ogg`)), 16_000);
      assert.ok(Math.abs(info.durationSec - seconds) / seconds < 0.02, `duration ${info.durationSec}`);
      // The input belongs to the caller (it is the live layer's raw log): the worker leaves it alone.
      assert.equal(readFileSync(s.input).length, readFileSync(fixture(name)).length);
    });
  }

  /** The speech fixture's samples (16 kHz mono s16le) as `pcm`, by the ffmpeg CLI. */
  const pcmSpeech = (pcm: PcmFormat) =>
    execFileSync(
      'ffmpeg',
      [
        ...['-v', 'error', '-i', fixture('speech.wav'), '-ar', String(pcm.sampleRate), '-ac', String(pcm.channels)],
        ...['-f', pcm.codec === 'pcm_s16le' ? 's16le' : 'f32le', '-'],
      ],
      { maxBuffer: 1 << 26 },
    );
  const PCM: PcmFormat[] = [
    { codec: 'pcm_s16le', sampleRate: 16_000, channels: 1 },
    { codec: 'pcm_f32le', sampleRate: 48_000, channels: 2 },
    { codec: 'pcm_s16le', sampleRate: 8000, channels: 2 },
    { codec: 'pcm_f32le', sampleRate: 192_000, channels: 2 },
  ];
  for (const pcm of PCM) {
    test(`raw PCM (${pcm.codec}, ${pcm.sampleRate} Hz, ${pcm.channels} ch) streamed in 4 KB chunks`, async () => {
      const name = `pcm-${pcm.codec}-${pcm.sampleRate}-${pcm.channels}`;
      const s = await open(name, { pcm });
      await stream(s, pcmSpeech(pcm));
      const info = await s.live.finish();
      assert.deepEqual([info.codec, info.channels], ['opus', 1]);
      assert.equal(opusHeadInputRate(join(dir, `${name}.ogg`)), 16_000);
      assert.ok(Math.abs(info.durationSec - 5) < 0.03, `duration ${info.durationSec}`);
    });
  }

  test('raw PCM as a file job (normalize): the declared format says how to read it', async () => {
    const pcm: PcmFormat = { codec: 'pcm_f32le', sampleRate: 44_100, channels: 2 };
    const input = join(dir, 'pcm-file.input');
    writeFileSync(input, pcmSpeech(pcm));
    const info = await engine.normalize(input, join(dir, 'pcm-file.ogg'), { pcm });
    assert.ok(Math.abs(info.durationSec - 5) < 0.03, `duration ${info.durationSec}`);
    // Without the declaration the same bytes are no media at all.
    await rejectsWith(engine.normalize(input, join(dir, 'pcm-file-2.ogg')), 'unsupported_media');
  });

  test('a long stream is transcoded while it arrives: finish() is quick', async () => {
    // 3 minutes of Ogg/Opus made by the engine itself, then streamed back in.
    const wav = join(dir, 'long.wav');
    writeToneWav(wav, 180);
    const source = join(dir, 'long-source.ogg');
    await engine.normalize(wav, source);
    const s = await open('live-long');
    await stream(s, readFileSync(source));
    const t0 = performance.now();
    const info = await s.live.finish();
    const finishMs = performance.now() - t0;
    assert.ok(finishMs < 2000, `finish took ${finishMs} ms`);
    assert.ok(Math.abs(info.durationSec - 180) < 0.2, `duration ${info.durationSec}`);
  });

  test('one advance may cover many appends', async () => {
    const wav = join(dir, 'batched.wav');
    writeToneWav(wav, 60);
    const source = join(dir, 'batched-source.ogg');
    await engine.normalize(wav, source);
    const data = readFileSync(source);
    const s = await open('live-batched');
    for (let i = 0; i < data.length; i += 3 * CHUNK) {
      for (let j = i; j < Math.min(i + 3 * CHUNK, data.length); j += CHUNK) {
        appendFileSync(s.input, data.subarray(j, Math.min(j + CHUNK, i + 3 * CHUNK)));
      }
      await s.live.advance(Math.min(i + 3 * CHUNK, data.length));
    }
    const info = await s.live.finish();
    assert.ok(Math.abs(info.durationSec - 60) < 0.2, `duration ${info.durationSec}`);
  });

  test('several sessions share a worker', async () => {
    const data = readFileSync(fixture('speech.webm'));
    const sessions = await Promise.all([1, 2, 3].map((i) => open(`multi-${i}`)));
    assert.equal(engine.stats().workers[0]?.live, 3);
    await Promise.all(sessions.map((s) => stream(s, data)));
    const infos = await Promise.all(sessions.map((s) => s.live.finish()));
    for (const info of infos) assert.ok(Math.abs(info.durationSec - 5.0065) < 0.1);
    assert.equal(engine.stats().workers[0]?.live, 0);
  });

  test('finish() without any bytes is invalid_media', async () => {
    const s = await open('empty');
    await rejectsWith(s.live.finish(), 'invalid_media', /without any data/);
  });

  test('undecodable bytes are invalid_media', async () => {
    const s = await open('garbage');
    // The worker gives up as soon as it tries to open the stream: a later advance may already reject.
    await stream(s, Buffer.alloc(50_000, 'not a media stream ')).catch(() => {});
    await rejectsWith(s.live.finish(), 'invalid_media');
  });

  test('a stream type that cannot be live (MP3) is rejected', async () => {
    const s = await open('mp3');
    await stream(s, readFileSync(fixture('speech.mp3')));
    await rejectsWith(s.live.finish(), 'invalid_media', /WebM, Ogg or MP4/);
  });

  test('abort discards the session and the worker carries on', async () => {
    const s = await open('aborted');
    await stream(s, readFileSync(fixture('speech.webm')).subarray(0, 8000));
    await s.live.abort();
    assert.equal(engine.stats().workers[0]?.live, 0);
    const again = await open('after-abort');
    await stream(again, readFileSync(fixture('speech.ogg')));
    assert.equal((await again.live.finish()).codec, 'opus');
  });
});
