import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MediaEngineWithStats } from './index.ts';
import { createMediaEngine } from './index.ts';
import { fixture, opusHeadInputRate, rejectsWith, tempDir } from './test-helpers.ts';

/** Fixture -> expected source duration (from ffprobe when the fixtures were made). */
const GOOD: Record<string, number> = {
  'speech.wav': 5,
  'speech.mp3': 5.04,
  'speech.webm': 5.0065,
  'speech.ogg': 5.0065,
  'speech.m4a': 5,
  'speech-video.mp4': 5,
  'speech.flac': 5,
  'speech-vorbis.ogg': 5,
  'speech-frag.mp4': 5.0065,
  'speech-frag-aac.mp4': 5.0213,
};

describe('media engine: normalize', () => {
  let engine: MediaEngineWithStats;
  const dir = tempDir();
  before(() => {
    engine = createMediaEngine({ workers: 2, jobTimeoutMs: 20_000, maxDurationSec: 3600 });
  });
  after(() => engine.close());

  for (const [name, seconds] of Object.entries(GOOD)) {
    test(`${name} -> Ogg/Opus 16 kHz mono ~24 kbps`, async () => {
      const out = join(dir, `${name}.ogg`);
      const progress: number[] = [];
      const info = await engine.normalize(fixture(name), out, { onProgress: (f) => progress.push(f) });
      assert.equal(info.container, 'ogg');
      assert.equal(info.codec, 'opus');
      assert.equal(info.channels, 1);
      assert.equal(info.sampleRate, 16_000);
      assert.equal(opusHeadInputRate(out), 16_000);
      assert.ok(info.bitrate >= 12_000 && info.bitrate <= 36_000, `bitrate ${info.bitrate}`);
      assert.ok(Math.abs(info.durationSec - seconds) / seconds < 0.02, `duration ${info.durationSec} vs ${seconds}`);
      const probed = await engine.probe(out);
      assert.deepEqual(probed, info);
      for (const f of progress) assert.ok(f >= 0 && f <= 1);
    });
  }

  test('probe reports the source facts', async () => {
    const info = await engine.probe(fixture('speech.webm'));
    assert.equal(info.codec, 'opus');
    assert.equal(info.channels, 2);
    assert.match(info.container, /matroska|webm/);
    // Written live like MediaRecorder's, the file declares no duration: probe measures its packets.
    assert.ok(Math.abs(info.durationSec - 5) < 0.05, `duration ${info.durationSec}`);
  });

  const HOSTILE: Array<[string, string, RegExp]> = [
    ['not-audio.mp3', 'unsupported_media', /unrecognised media format/],
    ['playlist.mp3', 'unsupported_media', /unrecognised|not accepted/],
    ['concat.mp3', 'unsupported_media', /unrecognised|not accepted/],
    ['video-only.mp4', 'unsupported_media', /no audio stream found/],
  ];
  for (const [name, code, message] of HOSTILE) {
    test(`rejects ${name} (${code})`, async () => {
      await rejectsWith(engine.normalize(fixture(name), join(dir, `${name}.ogg`)), code, message);
    });
  }

  test('rejects an empty file', async () => {
    const empty = join(dir, 'empty.wav');
    writeFileSync(empty, '');
    await rejectsWith(engine.normalize(empty, join(dir, 'empty.ogg')), 'invalid_media', /empty/);
  });

  test('rejects an MP4 cut before its index as truncated (422)', async () => {
    const src = readFileSync(fixture('speech.m4a'));
    const cut = join(dir, 'cut.m4a');
    writeFileSync(cut, src.subarray(0, Math.floor(src.length / 2)));
    await rejectsWith(engine.normalize(cut, join(dir, 'cut.ogg')), 'invalid_media', /truncated or corrupt/);
  });

  test('a truncated WebM keeps the audio that arrived', async () => {
    const src = readFileSync(fixture('speech.webm'));
    const cut = join(dir, 'cut.webm');
    writeFileSync(cut, src.subarray(0, Math.floor(src.length / 2)));
    const info = await engine.normalize(cut, join(dir, 'cut-webm.ogg'));
    assert.ok(info.durationSec > 1 && info.durationSec < 4, `duration ${info.durationSec}`);
  });

  test('garbage after a valid header is rejected or survives, never crashes the worker', async () => {
    const src = Buffer.from(readFileSync(fixture('speech.mp3')));
    // Deterministic pseudo-random corruption of 10% of the bytes after the first 1 KB.
    let seed = 42;
    for (let i = 1024; i < src.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      if (seed % 10 === 0) src[i] = seed & 0xff;
    }
    const bad = join(dir, 'mutated.mp3');
    writeFileSync(bad, src);
    const pids = engine.stats().workers.map((w) => w.pid);
    await engine.normalize(bad, join(dir, 'mutated.ogg')).catch((err) => assert.equal(err.code, 'invalid_media'));
    assert.deepEqual(
      engine.stats().workers.map((w) => w.pid),
      pids,
    );
  });

  test('the engine still works after all the bad input', async () => {
    const info = await engine.normalize(fixture('speech.wav'), join(dir, 'after.ogg'));
    assert.equal(info.codec, 'opus');
  });
});
