import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentDisposition, decideRange, parseByteRanges } from './http-range.ts';

const file = { size: 1000, etag: '"abc"' };

describe('HTTP ranges (RFC 9110 §14)', () => {
  it('parses byte ranges, open ranges and suffixes', () => {
    assert.deepEqual(parseByteRanges('bytes=0-99', 1000), [{ start: 0, end: 99 }]);
    assert.deepEqual(parseByteRanges('bytes=900-', 1000), [{ start: 900, end: 999 }]);
    assert.deepEqual(parseByteRanges('bytes=-100', 1000), [{ start: 900, end: 999 }]);
    assert.deepEqual(parseByteRanges('bytes=-5000', 1000), [{ start: 0, end: 999 }]);
    assert.deepEqual(parseByteRanges('bytes=990-5000', 1000), [{ start: 990, end: 999 }]);
    assert.deepEqual(parseByteRanges('bytes= 0-1 , 5-9', 1000), [
      { start: 0, end: 1 },
      { start: 5, end: 9 },
    ]);
  });

  it('tells unsatisfiable from invalid', () => {
    assert.equal(parseByteRanges('bytes=1000-', 1000), 'unsatisfiable');
    assert.equal(parseByteRanges('bytes=-0', 1000), 'unsatisfiable');
    assert.equal(parseByteRanges('bytes=0-0', 0), 'unsatisfiable');
    assert.equal(parseByteRanges('bytes=5-1', 1000), undefined);
    assert.equal(parseByteRanges('items=0-1', 1000), undefined);
    assert.equal(parseByteRanges('bytes=a-b', 1000), undefined);
    assert.equal(parseByteRanges('bytes=-', 1000), undefined);
  });

  it('decides 206, 416, 200 and 304', () => {
    assert.deepEqual(decideRange({ method: 'GET', range: 'bytes=0-9' }, file), { kind: 'partial', start: 0, end: 9 });
    assert.deepEqual(decideRange({ method: 'GET', range: 'bytes=2000-' }, file), { kind: 'unsatisfiable' });
    assert.deepEqual(decideRange({ method: 'GET', range: 'bytes=0-1,4-5' }, file), { kind: 'full' });
    assert.deepEqual(decideRange({ method: 'GET', range: 'nonsense' }, file), { kind: 'full' });
    assert.deepEqual(decideRange({ method: 'GET' }, file), { kind: 'full' });
    assert.deepEqual(decideRange({ method: 'GET', ifNoneMatch: '"x", W/"abc"' }, file), { kind: 'not_modified' });
    assert.deepEqual(decideRange({ method: 'GET', ifNoneMatch: '*' }, file), { kind: 'not_modified' });
    assert.deepEqual(decideRange({ method: 'GET', ifNoneMatch: '"x"', range: 'bytes=0-0' }, file), {
      kind: 'partial',
      start: 0,
      end: 0,
    });
  });

  it('honours If-Range only on a strong match', () => {
    const range = 'bytes=0-9';
    assert.equal(decideRange({ method: 'GET', range, ifRange: '"abc"' }, file).kind, 'partial');
    assert.equal(decideRange({ method: 'GET', range, ifRange: 'W/"abc"' }, file).kind, 'full');
    assert.equal(decideRange({ method: 'GET', range, ifRange: '"other"' }, file).kind, 'full');
    assert.equal(decideRange({ method: 'GET', range, ifRange: 'Tue, 24 Nov 2026 10:00:00 GMT' }, file).kind, 'full');
  });

  it('builds an RFC 6266 Content-Disposition with an RFC 8187 UTF-8 name', () => {
    assert.equal(
      contentDisposition('inline', 'Réunion "Q3" / plan', '.ogg'),
      `inline; filename="R_union _Q3_ _ plan.ogg"; filename*=UTF-8''R%C3%A9union%20%22Q3%22%20_%20plan.ogg`,
    );
    assert.equal(
      contentDisposition('attachment', '\n', '.ogg'),
      `attachment; filename="recording.ogg"; filename*=UTF-8''recording.ogg`,
    );
    assert.equal(
      contentDisposition('inline', "it's (50%)", '.ogg'),
      `inline; filename="it's (50_).ogg"; filename*=UTF-8''it%27s%20%2850%25%29.ogg`,
    );
  });
});
