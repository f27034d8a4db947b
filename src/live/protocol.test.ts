import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../errors.ts';
import { describeError, parseStartOrResume } from './protocol.ts';

const META = { name: 'Weekly sync', meeting_link: 'https://meet.example.com/abc', org_id: 'o1' };

/** The AppError parseStartOrResume throws for `message`, with its close code and the field it names. */
function refusal(message: unknown) {
  try {
    parseStartOrResume(typeof message === 'string' ? message : JSON.stringify(message));
  } catch (error) {
    assert.ok(error instanceof AppError);
    return { code: error.code, close: error.wsCloseCode, message: error.message, field: error.details?.field };
  }
  assert.fail(`accepted ${JSON.stringify(message)}`);
}

describe('seed metadata (step 2)', () => {
  it('takes the three keys, trims the name, and reads an empty (or null) meeting link as none', () => {
    assert.deepEqual(parseStartOrResume(JSON.stringify({ ...META, name: '  Weekly sync ', extra: 1 })), {
      name: 'Weekly sync',
      meeting_link: 'https://meet.example.com/abc',
      org_id: 'o1',
      ack: false,
      commit: false,
      format: { kind: 'container' },
    });
    for (const meeting_link of ['', null]) {
      assert.equal((parseStartOrResume(JSON.stringify({ ...META, meeting_link })) as any).meeting_link, null);
    }
    assert.equal((parseStartOrResume(JSON.stringify({ ...META, name: '' })) as any).name, '');
  });

  it('names the format field it refuses, like the seed keys', () => {
    for (const [message, field] of [
      [{ ...META, format: 'mp3' }, 'format'],
      [{ ...META, format: 'pcm_s16le', sample_rate: 100, channels: 1 }, 'sample_rate'],
      [{ ...META, format: 'pcm_s16le', sample_rate: 16000, channels: 3 }, 'channels'],
      [{ ...META, format: 'opus', channels: 1 }, 'channels'],
      [{ ...META, sample_rate: 16000 }, 'sample_rate'],
    ] as const) {
      const refused = refusal(message);
      assert.deepEqual([refused.code, refused.close, refused.field], ['validation_failed', 1008, field]);
    }
  });

  for (const field of ['name', 'meeting_link', 'org_id'] as const) {
    it(`closes 1008 naming "${field}" when it is missing or not a string`, () => {
      const { [field]: _, ...without } = META;
      for (const message of [without, { ...META, [field]: 5 }, { ...META, [field]: ['x'] }, { ...META, [field]: {} }]) {
        const refused = refusal(message);
        assert.equal(refused.code, 'validation_failed');
        assert.equal(refused.close, 1008);
        assert.equal(refused.field, field);
        assert.match(refused.message, new RegExp(`"${field}"`));
      }
    });
  }

  it('refuses null for name and org_id', () => {
    assert.equal(refusal({ ...META, name: null }).field, 'name');
    assert.equal(refusal({ ...META, org_id: null }).field, 'org_id');
  });

  it('refuses control, line-separator and bidi-override characters in the name and the link', () => {
    for (const bad of ['\u0000', '\u001b[31m', 'a\r\nb', '\u0007', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066']) {
      assert.equal(refusal({ ...META, name: `x${bad}y` }).field, 'name', JSON.stringify(bad));
      assert.equal(refusal({ ...META, meeting_link: `https://meet.example.com/${bad}` }).field, 'meeting_link');
    }
    assert.equal(refusal({ ...META, org_id: 'o\u00001' }).field, 'org_id');
    // Text that only looks unusual is fine: accents, emoji, right-to-left script with its direction marks.
    assert.equal(
      (parseStartOrResume(JSON.stringify({ ...META, name: 'Réunion 🎙 \u200fשלום' })) as any).name,
      'Réunion 🎙 \u200fשלום',
    );
  });

  it('refuses links that are not http(s) URLs, and over-long names', () => {
    for (const meeting_link of ['not a url', 'javascript:alert(1)', 'ftp://x.example', 'x'.repeat(3000)]) {
      assert.equal(refusal({ ...META, meeting_link }).field, 'meeting_link');
    }
    assert.equal(refusal({ ...META, name: 'x'.repeat(201) }).field, 'name');
    assert.equal(refusal({ ...META, org_id: '' }).field, 'org_id');
  });

  it('keeps the resume message as its own opt-in alternative', () => {
    assert.deepEqual(parseStartOrResume('{"resume":"0b5e-42","ack":true}'), {
      resume: '0b5e-42',
      ack: true,
      commit: false,
    });
    assert.deepEqual(parseStartOrResume('{"resume":"0b5e-42","commit":true}'), {
      resume: '0b5e-42',
      ack: false,
      commit: true,
    });
    assert.equal(refusal({ resume: 'x\u0000' }).code, 'validation_failed');
  });
});

describe('errors on the socket', () => {
  it('describes a full disk as insufficient_storage (1011) and hides other failures', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    assert.deepEqual(
      { ...describeError(new AppError('internal', 'append failed', { cause: full })), message: '' },
      { code: 'insufficient_storage', message: '', closeCode: 1011 },
    );
    assert.deepEqual(describeError(new Error('secret detail')), {
      code: 'internal',
      message: 'internal error',
      closeCode: 1011,
    });
  });
});
