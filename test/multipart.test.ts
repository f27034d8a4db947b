import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { rawRequest, tableError } from './raw-http.ts';

/**
 * Every malformed multipart upload is answered 400, 415 or 422 from the error table — never 500 — and
 * leaves nothing in the spool. Requests are written byte for byte: fetch cannot send most of these.
 */
const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'speech.ogg');

const filePart = (boundary: string, bytes: Buffer | string, filename = 'speech.ogg') =>
  Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
        'Content-Type: audio/ogg\r\n\r\n',
    ),
    Buffer.from(bytes),
  ]);
const fieldPart = (boundary: string, name: string, value: string | Buffer, type = '') =>
  Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n${type}\r\n`),
    Buffer.from(value),
    Buffer.from('\r\n'),
  ]);
const closing = (boundary: string) => `\r\n--${boundary}--\r\n`;

describe('malformed multipart uploads', () => {
  let server: TestServer;
  let user: TestUser;
  let audio: Buffer;
  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
    audio = await readFile(FIXTURE);
  });
  after(() => server.close());

  const spool = () => readdir(path.join(server.dataDir, 'spool')).catch(() => [] as string[]);

  async function upload(contentType: string | undefined, body: Buffer | string) {
    const spoolBefore = await spool();
    const bytes = Buffer.from(body);
    const head =
      `POST /api/recordings/upload HTTP/1.1\r\nHost: earshot.test\r\nAuthorization: Bearer ${user.token}\r\n` +
      `${contentType === undefined ? '' : `Content-Type: ${contentType}\r\n`}Content-Length: ${bytes.length}\r\n` +
      'Connection: close\r\n\r\n';
    const res = await rawRequest(server, [head, bytes]);
    assert.ok(res.status >= 400 && res.status < 500, `${contentType}: ${res.status} ${res.body}`);
    const answer = tableError(res.status, res.body, String(contentType));
    assert.deepEqual(await spool(), spoolBefore, 'nothing left in the spool');
    return { status: res.status, ...answer };
  }

  const whole = (boundary: string) => Buffer.concat([filePart(boundary, audio), Buffer.from(closing(boundary))]);

  for (const [what, contentType] of [
    ['no boundary', 'multipart/form-data'],
    ['an empty boundary', 'multipart/form-data; boundary='],
    ['an empty quoted boundary', 'multipart/form-data; boundary=""'],
    ['a boundary over 70 characters', `multipart/form-data; boundary=${'b'.repeat(71)}`],
    ['a boundary of 300 characters', `multipart/form-data; boundary=${'b'.repeat(300)}`],
    ['a boundary with characters RFC 2046 does not allow', 'multipart/form-data; boundary=a@b{c}'],
    ['a boundary hidden in another parameter', 'multipart/form-data; charset="; boundary=XyZ"'],
  ] as const) {
    it(`refuses ${what} with 400`, async () => {
      const res = await upload(contentType, whole('XyZ'));
      assert.equal(res.status, 400, res.message);
      assert.equal(res.error, 'bad_request');
    });
  }

  it('refuses a body written with another boundary than the header names (400)', async () => {
    assert.equal((await upload('multipart/form-data; boundary=Other', whole('XyZ'))).status, 400);
  });

  for (const [what, body] of [
    ['ends in the middle of the file', () => filePart('XyZ', audio.subarray(0, 5000))],
    ['ends in the middle of a part header', () => Buffer.from('--XyZ\r\nContent-Disposition: form-da')],
    ['ends after a complete part without the closing boundary', () => fieldPart('XyZ', 'name', 'x')],
    ['ends after the first boundary', () => Buffer.from('--XyZ\r\n')],
    ['is random bytes', () => Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 256))],
  ] as const) {
    it(`refuses a body that ${what} (400)`, async () => {
      const res = await upload('multipart/form-data; boundary=XyZ', body());
      assert.equal(res.status, 400, res.message);
    });
  }

  it('answers a well-formed form without a file with 422', async () => {
    assert.equal((await upload('multipart/form-data; boundary=XyZ', '--XyZ--\r\n')).status, 422);
    assert.equal((await upload('multipart/form-data; boundary=XyZ', '')).status, 422);
  });

  for (const contentType of ['application/json', 'text/plain', 'application/octet-stream', 'audio/ogg', undefined]) {
    it(`refuses a body that is not multipart (${contentType ?? 'no Content-Type'}) with 415`, async () => {
      const res = await upload(
        contentType,
        contentType === 'application/json' ? '{"file":"x"}' : audio.subarray(0, 100),
      );
      assert.equal(res.status, 415, res.message);
    });
  }

  it('checks every field like a JSON property: known names, text rules, types (422 naming the field)', async () => {
    const form = (...parts: Buffer[]) =>
      upload(
        'multipart/form-data; boundary=XyZ',
        Buffer.concat([...parts, filePart('XyZ', audio), Buffer.from(closing('XyZ'))]),
      );
    for (const [part, field] of [
      [fieldPart('XyZ', 'title', 'x'), 'title'],
      [fieldPart('XyZ', 'name', 'a\u0000b'), 'name'],
      [fieldPart('XyZ', 'name', '\u001b[31mred'), 'name'],
      [fieldPart('XyZ', 'name', 'evil\u202etxt.exe'), 'name'],
      [fieldPart('XyZ', 'name', 'x'.repeat(201)), 'name'],
      [fieldPart('XyZ', 'org_id', 'o\u0000'), 'org_id'],
      [fieldPart('XyZ', 'org_id', '{"a":1}', 'Content-Type: application/json\r\n'), 'org_id'],
    ] as const) {
      const res = await form(part);
      assert.equal(res.status, 422, res.message);
      assert.match(res.message, new RegExp(`body\\.${field}`));
    }
  });

  it('refuses a file in another field (422) and a field name that would overwrite a prototype (400)', async () => {
    const other = Buffer.from(
      `--XyZ\r\nContent-Disposition: form-data; name="attachment"; filename="a.ogg"\r\n\r\nOggS${closing('XyZ')}`,
    );
    assert.equal((await upload('multipart/form-data; boundary=XyZ', other)).status, 422);
    const proto = Buffer.concat([
      fieldPart('XyZ', '__proto__', 'x'),
      filePart('XyZ', audio),
      Buffer.from(closing('XyZ')),
    ]);
    assert.equal((await upload('multipart/form-data; boundary=XyZ', proto)).status, 400);
  });

  it('takes a file name as a name suggestion only, without control or bidi characters', async () => {
    const bytes = Buffer.concat([filePart('XyZ', audio, 'Weekly\u202e sync\u0007.ogg'), Buffer.from(closing('XyZ'))]);
    const head =
      `POST /api/recordings/upload HTTP/1.1\r\nHost: earshot.test\r\nAuthorization: Bearer ${user.token}\r\n` +
      `Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
    const res = await rawRequest(server, [head, bytes]);
    assert.ok([201, 202].includes(res.status), res.body);
    assert.equal(JSON.parse(res.body).name, 'Weekly  sync');
  });

  it('answers a usable form with the recording (the control case, last: it leaves processing behind)', async () => {
    const bytes = whole('XyZ');
    const head =
      `POST /api/recordings/upload?wait=0 HTTP/1.1\r\nHost: earshot.test\r\nAuthorization: Bearer ${user.token}\r\n` +
      `Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
    const res = await rawRequest(server, [head, bytes]);
    assert.ok([201, 202].includes(res.status), res.body);
  });
});
