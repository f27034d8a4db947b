import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { checkOggChunk, initialOggState, type OggState, oggComplete, oggCrc } from './ogg-pages.ts';

const ogg = readFileSync(path.join(import.meta.dirname, '../../test/fixtures/speech.ogg'));

function feed(chunks: Buffer[]): { state?: OggState; error?: string } {
  let state = initialOggState();
  let offset = 0;
  for (const chunk of chunks) {
    const result = checkOggChunk(state, chunk, offset - state.tail.length);
    if (!result.ok) return { error: result.message };
    state = result.state;
    offset += chunk.length;
  }
  return { state };
}

function split(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('Ogg page checker (RFC 3533)', () => {
  it('computes the Ogg CRC-32 (poly 0x04c11db7, no reflection, init 0)', () => {
    assert.equal(oggCrc(Buffer.from('123456789')), 0x89a1897f);
    // The fixture's first page carries its own checksum at bytes 22..25.
    const pageSize = 27 + ogg[26]! + [...ogg.subarray(27, 27 + ogg[26]!)].reduce((a, b) => a + b, 0);
    assert.equal(oggCrc(ogg.subarray(0, pageSize), 22), ogg.readUInt32LE(22));
  });

  it('accepts a real file whole and split at any byte boundary', () => {
    for (const sizes of [[ogg.length], [1], [7, 1000, 3], [27], [28, 4096], [65536]]) {
      const { state, error } = feed(split(ogg, sizes));
      assert.equal(error, undefined, `sizes ${sizes}`);
      assert.ok(state && oggComplete(state));
      assert.ok(state.pages > 2);
    }
  });

  it('keeps the unfinished page between chunks', () => {
    const { state } = feed([ogg.subarray(0, 100)]);
    assert.ok(state);
    assert.ok(state.tail.length > 0 && !oggComplete(state));
  });

  it('refuses a flipped bit anywhere in a page', () => {
    for (const at of [30, 200, Math.floor(ogg.length / 2), ogg.length - 1]) {
      const corrupt = Buffer.from(ogg);
      corrupt[at]! ^= 0x10;
      const { error } = feed(split(corrupt, [777]));
      assert.ok(error, `byte ${at}`);
    }
  });

  it('refuses garbage, other versions and a stream that does not begin with a BOS page', () => {
    assert.match(feed([Buffer.from('RIFF....WAVE')]).error ?? '', /OggS/);
    assert.match(feed([Buffer.from('Og'), Buffer.from('gX')]).error ?? '', /OggS/);
    const v1 = Buffer.from(ogg);
    v1[4] = 1;
    assert.match(feed([v1]).error ?? '', /version/);
    const noBos = Buffer.from(ogg);
    noBos[5] = 0;
    assert.match(feed([noBos]).error ?? '', /beginning-of-stream/);
    // Bytes appended after a complete page must start another page.
    assert.match(feed([ogg, Buffer.from('junk')]).error ?? '', /OggS/);
  });

  it('does not change the state it was given', () => {
    const { state } = feed([ogg.subarray(0, 50)]);
    const before = Buffer.from(state!.tail);
    checkOggChunk(state!, Buffer.from('garbage that fails'), 0);
    checkOggChunk(state!, ogg.subarray(50, 60), 0);
    assert.deepEqual(state!.tail, before);
  });
});
