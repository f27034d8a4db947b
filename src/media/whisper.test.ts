/**
 * The local engine as far as it can run without a model (none can be downloaded here): the filter is
 * in node-av's FFmpeg, a missing or foreign model file fails with a message naming WHISPER_MODEL, in a
 * real worker process, and the filter's SubRip output is read back into segments.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createMediaEngine, type MediaEngineWithStats } from './index.ts';
import { fixture, rejectsWith, tempDir } from './test-helpers.ts';
import { parseWhisperSrt, whisperFilterAvailable } from './whisper.ts';

describe('media engine: whisper', () => {
  let engine: MediaEngineWithStats;
  const dir = tempDir();
  before(() => {
    engine = createMediaEngine({ workers: 1, jobTimeoutMs: 20_000, maxDurationSec: 3600 });
  });
  after(() => engine.close());

  test("node-av's FFmpeg has the whisper filter", () => {
    assert.equal(whisperFilterAvailable(), true);
  });

  test('a model file that is not there fails with a message naming WHISPER_MODEL', async () => {
    const missing = join(dir, 'ggml-missing.bin');
    await rejectsWith(
      engine.transcribe(fixture('speech.ogg'), join(dir, 'a.srt'), { modelPath: missing, language: null }),
      'transcription_unavailable',
      new RegExp(`whisper model file ${missing} \\(WHISPER_MODEL\\) is missing`),
    );
  });

  test('a file that is not a ggml model is refused by whisper.cpp when the filter loads it', async () => {
    const foreign = join(dir, 'not-a-model.bin');
    writeFileSync(foreign, Buffer.alloc(4096, 7));
    await rejectsWith(
      engine.transcribe(fixture('speech.ogg'), join(dir, 'b.srt'), { modelPath: foreign, language: 'en' }),
      'transcription_unavailable',
      /could not load the whisper model .*not-a-model\.bin \(WHISPER_MODEL\): it is not a whisper\.cpp ggml model/,
    );
    // The worker is still there for the next job.
    assert.equal((await engine.probe(fixture('speech.ogg'))).codec, 'opus');
  });

  test("the filter's SubRip output becomes segments in seconds", () => {
    const srt =
      '0\n00:00:00,000 --> 00:00:02,480\nHello there.\n\n' +
      '1\n00:00:02,480 --> 01:00:05,010\nSecond line, with -> arrows\n\n';
    assert.deepEqual(parseWhisperSrt(srt), [
      { start: 0, end: 2.48, text: 'Hello there.' },
      { start: 2.48, end: 3605.01, text: 'Second line, with -> arrows' },
    ]);
    assert.deepEqual(parseWhisperSrt(''), []);
  });
});
