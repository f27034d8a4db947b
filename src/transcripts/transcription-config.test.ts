import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '../config.ts';
import { parseTranscriptionConfig } from './transcription-config.ts';

describe('transcription configuration', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'earshot-transcription-config-'));
  const model = path.join(dir, 'ggml-base.en.bin');
  writeFileSync(model, 'ggml');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is off when nothing is set', () => {
    assert.deepEqual(parseTranscriptionConfig({}), { provider: 'off' });
  });

  it('takes an OpenAI-compatible server from TRANSCRIBE_BASE_URL, with defaults', () => {
    assert.deepEqual(parseTranscriptionConfig({ TRANSCRIBE_BASE_URL: 'https://api.groq.com/openai/v1/' }), {
      provider: 'openai',
      baseUrl: 'https://api.groq.com/openai/v1',
      apiKey: null,
      model: 'whisper-1',
      timeoutMs: 600_000,
      language: null,
    });
    const openai = parseTranscriptionConfig({ TRANSCRIBE_PROVIDER: 'openai', TRANSCRIBE_API_KEY: 'sk-1' });
    assert.equal(openai.provider === 'openai' && openai.baseUrl, 'https://api.openai.com/v1');
  });

  it('takes the local engine from WHISPER_MODEL, a file that exists', () => {
    assert.deepEqual(parseTranscriptionConfig({ WHISPER_MODEL: model, TRANSCRIBE_LANGUAGE: 'de' }), {
      provider: 'whisper',
      modelPath: model,
      language: 'de',
    });
    assert.throws(
      () => parseTranscriptionConfig({ WHISPER_MODEL: path.join(dir, 'missing.bin') }),
      (error: Error) =>
        error instanceof ConfigError && /WHISPER_MODEL names .*missing\.bin, which is not a file/.test(error.message),
    );
    assert.throws(() => parseTranscriptionConfig({ WHISPER_MODEL: dir }), /which is not a file/);
    assert.throws(() => parseTranscriptionConfig({ TRANSCRIBE_PROVIDER: 'whisper' }), /needs WHISPER_MODEL/);
  });

  it('refuses what it cannot use, naming the variable', () => {
    assert.throws(
      () => parseTranscriptionConfig({ WHISPER_MODEL: model, TRANSCRIBE_BASE_URL: 'http://x/v1' }),
      /set TRANSCRIBE_PROVIDER=whisper or openai/,
    );
    assert.equal(parseTranscriptionConfig({ TRANSCRIBE_PROVIDER: 'off', WHISPER_MODEL: model }).provider, 'off');
    assert.throws(() => parseTranscriptionConfig({ TRANSCRIBE_PROVIDER: 'azure' }), /TRANSCRIBE_PROVIDER must be/);
    assert.throws(() => parseTranscriptionConfig({ TRANSCRIBE_BASE_URL: 'ftp://host/v1' }), /TRANSCRIBE_BASE_URL/);
    assert.throws(() => parseTranscriptionConfig({ TRANSCRIBE_BASE_URL: 'not a url' }), /TRANSCRIBE_BASE_URL/);
    assert.throws(
      () => parseTranscriptionConfig({ TRANSCRIBE_BASE_URL: 'http://x/v1', TRANSCRIBE_LANGUAGE: 'English' }),
      /TRANSCRIBE_LANGUAGE/,
    );
    assert.throws(
      () => parseTranscriptionConfig({ TRANSCRIBE_BASE_URL: 'http://x/v1', TRANSCRIBE_TIMEOUT_MS: '0' }),
      /TRANSCRIBE_TIMEOUT_MS/,
    );
  });
});
