import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toSrt, toVtt } from './formats.ts';
import { parseVerboseJson, retryAfterSeconds } from './openai-provider.ts';
import { cleanSegments } from './provider.ts';

const segments = [
  { start: 0, end: 2.5, text: 'Hello & welcome' },
  { start: 2.5, end: 3661.0005, text: 'a <b>bold</b> --> claim\n\nover two lines' },
  { start: 3661.25, end: 3661.25, text: 'instant' },
];

describe('subtitle formats', () => {
  it('writes SubRip with comma milliseconds, hours past one, numbered cues and one line each', () => {
    assert.equal(
      toSrt(segments),
      '1\n00:00:00,000 --> 00:00:02,500\nHello & welcome\n\n' +
        '2\n00:00:02,500 --> 01:01:01,001\na <b>bold</b> --> claim over two lines\n\n' +
        '3\n01:01:01,250 --> 01:01:01,251\ninstant\n\n',
    );
  });

  it('writes WebVTT with its header, dot milliseconds and escaped cue text', () => {
    assert.equal(
      toVtt(segments),
      'WEBVTT\n\n' +
        '1\n00:00:00.000 --> 00:00:02.500\nHello &amp; welcome\n\n' +
        '2\n00:00:02.500 --> 01:01:01.001\na &lt;b&gt;bold&lt;/b&gt; --&gt; claim over two lines\n\n' +
        '3\n01:01:01.250 --> 01:01:01.251\ninstant\n\n',
    );
    assert.equal(toVtt([]), 'WEBVTT\n\n');
  });
});

describe('provider answers', () => {
  it('reads the verbose_json shape and cleans its segments', () => {
    const body = JSON.stringify({
      task: 'transcribe',
      language: 'english',
      duration: 4.2,
      text: ' Hi there. Bye.',
      segments: [
        { id: 0, seek: 0, start: 0, end: 1.5, text: ' Hi there.', tokens: [1, 2], temperature: 0 },
        { id: 1, seek: 0, start: 1.5, end: 1.5, text: '   ', tokens: [], temperature: 0 },
        { id: 2, seek: 0, start: -0.1, end: 4.2, text: ' Bye.', tokens: [3], temperature: 0 },
      ],
    });
    assert.deepEqual(parseVerboseJson(body, null), {
      language: 'english',
      segments: [
        { start: 0, end: 1.5, text: 'Hi there.' },
        { start: 0, end: 4.2, text: 'Bye.' },
      ],
    });
  });

  it('names what is wrong with a malformed answer', () => {
    assert.throws(() => parseVerboseJson('<html>', null), /not JSON/);
    assert.throws(() => parseVerboseJson('{"text": "hi"}', null), /no "segments" array/);
    assert.throws(() => parseVerboseJson('{"segments": [{"start": "0", "end": 1, "text": "x"}]}', null), /segment 0/);
  });

  it('takes Retry-After as seconds or as an HTTP date', () => {
    assert.equal(retryAfterSeconds('7'), 7);
    assert.equal(retryAfterSeconds(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)), 30);
    assert.equal(retryAfterSeconds('soon'), undefined);
    assert.equal(retryAfterSeconds(null), undefined);
  });

  it('keeps segments that end before they start from going backwards', () => {
    assert.deepEqual(cleanSegments([{ start: 5, end: 4, text: 'x' }]), [{ start: 5, end: 5, text: 'x' }]);
  });
});
