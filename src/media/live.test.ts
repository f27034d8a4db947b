import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MediaEngineWithStats } from './index.ts';
import { createMediaEngine } from './index.ts';
import { fixture, opusHeadInputRate, rejectsWith, tempDir, writeToneWav } from './test-helpers.ts';
import type { LiveTranscoder } from './types.ts';

const CHUNK = 4096;
async function stream(live: LiveTranscoder, data: Buffer): Promise<void> {
  for (let i = 0; i < data.length; i += CHUNK) await live.write(data.subarray(i, i + CHUNK));
}

describe('media engine: live', () => {
  let engine: MediaEngineWithStats;
  const dir = tempDir();
  before(() => {
    engine = createMediaEngine({ workers: 1, jobTimeoutMs: 20_000, maxDurationSec: 3600 });
  });
  after(() => engine.close());

  const CASES: Array<[string, number]> = [
    ['speech.webm', 5.0065],
    ['speech.ogg', 5.0065],
    ['speech-frag.mp4', 5.0065],
    ['speech-frag-aac.mp4', 5.0213],
  ];
  for (const [name, seconds] of CASES) {
    test(`${name} streamed in 4 KB chunks`, async () => {
      const out = join(dir, `live-${name}.ogg`);
      const live = await engine.openLive(out);
      await stream(live, readFileSync(fixture(name)));
      const info = await live.finish();
      assert.equal(info.codec, 'opus');
      assert.equal(info.channels, 1);
      assert.equal(opusHeadInputRate(out), 16_000);
      assert.ok(Math.abs(info.durationSec - seconds) / seconds < 0.02, `duration ${info.durationSec}`);
    });
  }

  test('a long stream is transcoded while it arrives: finish() is quick', async () => {
    // 3 minutes of Ogg/Opus made by the engine itself, then streamed back in.
    const wav = join(dir, 'long.wav');
    writeToneWav(wav, 180);
    const source = join(dir, 'long-source.ogg');
    await engine.normalize(wav, source);
    const live = await engine.openLive(join(dir, 'live-long.ogg'));
    await stream(live, readFileSync(source));
    const t0 = performance.now();
    const info = await live.finish();
    const finishMs = performance.now() - t0;
    assert.ok(finishMs < 2000, `finish took ${finishMs} ms`);
    assert.ok(Math.abs(info.durationSec - 180) < 0.2, `duration ${info.durationSec}`);
  });

  test('several sessions share a worker', async () => {
    const data = readFileSync(fixture('speech.webm'));
    const sessions = await Promise.all([1, 2, 3].map((i) => engine.openLive(join(dir, `multi-${i}.ogg`))));
    assert.equal(engine.stats().workers[0]?.live, 3);
    await Promise.all(sessions.map((s) => stream(s, data)));
    const infos = await Promise.all(sessions.map((s) => s.finish()));
    for (const info of infos) assert.ok(Math.abs(info.durationSec - 5.0065) < 0.1);
    assert.equal(engine.stats().workers[0]?.live, 0);
  });

  test('finish() without any bytes is invalid_media', async () => {
    const live = await engine.openLive(join(dir, 'empty.ogg'));
    await rejectsWith(live.finish(), 'invalid_media', /without any data/);
  });

  test('undecodable bytes are invalid_media', async () => {
    const live = await engine.openLive(join(dir, 'garbage.ogg'));
    // The worker gives up as soon as it tries to open the stream: a later write may already reject.
    await stream(live, Buffer.alloc(50_000, 'not a media stream ')).catch(() => {});
    await rejectsWith(live.finish(), 'invalid_media');
  });

  test('a stream type that cannot be live (MP3) is rejected', async () => {
    const live = await engine.openLive(join(dir, 'mp3.ogg'));
    await stream(live, readFileSync(fixture('speech.mp3')));
    await rejectsWith(live.finish(), 'invalid_media', /WebM, Ogg or MP4/);
  });

  test('abort discards the session and the worker carries on', async () => {
    const live = await engine.openLive(join(dir, 'aborted.ogg'));
    await live.write(readFileSync(fixture('speech.webm')).subarray(0, 8000));
    await live.abort();
    assert.equal(engine.stats().workers[0]?.live, 0);
    const again = await engine.openLive(join(dir, 'after-abort.ogg'));
    await stream(again, readFileSync(fixture('speech.ogg')));
    assert.equal((await again.finish()).codec, 'opus');
  });
});
