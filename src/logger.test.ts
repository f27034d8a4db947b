import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loggerOptions } from './logger.ts';

describe('logger options', () => {
  const streamOf = (format: 'pretty' | 'json' | 'auto', terminal: boolean) =>
    'stream' in (loggerOptions({ logLevel: 'info', logFormat: format }, terminal) as object);

  it('writes readable lines to a terminal and JSON elsewhere, unless LOG_FORMAT says otherwise', () => {
    assert.equal(streamOf('auto', true), true);
    assert.equal(streamOf('auto', false), false);
    assert.equal(streamOf('pretty', false), true);
    assert.equal(streamOf('json', true), false);
  });
});
