/**
 * The web page in a real browser (Chromium, headless, fake microphone playing speech) against the real
 * server: register, sign in (and a wrong password), record from the microphone (encoded in the page with
 * WebCodecs, remuxed by the server), play/seek/download, upload with progress, a network drop in the
 * middle of a recording, MediaRecorder where WebCodecs is missing (WebM, and Chromium's MP4/Opus),
 * failure messages, and a phone-sized layout. Screenshots of the main screens land in test-artifacts/.
 *
 * Recordings are checked against what the page's encoder actually produced (tapEncoders for WebCodecs,
 * tapRecorders for MediaRecorder): the server must have received exactly those bytes (no gap, no
 * duplicate) and kept all of them. The test process's own clock is not the reference: under CPU load,
 * noticing the start and clicking stop lag the encoder by a few hundred milliseconds.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { probePackets } from '../../src/media/test-helpers.ts';
import { api, registerUser, startTestServer, type TestServer } from '../helpers.ts';
import { longWav } from '../speech.ts';
import {
  type BrowserSession,
  FIXTURES,
  lastRecorded,
  longSpeechWav,
  openBrowserSession,
  type RecordedAudio,
  screenshot,
  signIn,
  tapEncoders,
  tapRecorders,
  watchConsole,
} from './browser.ts';

const VIEWPORT = { width: 1280, height: 860 };
const UPLOAD_LIMIT = 8 * 1024 * 1024;

describe('web app', () => {
  let server: TestServer;
  let session: BrowserSession;
  let browser: Browser;
  let wav: string;
  let context: BrowserContext;
  let page: Page;
  let problems: string[] = [];
  let firstToken = '';
  const email = `e2e-${Date.now()}@example.com`;
  const password = 'a long enough passphrase 42';

  before(async () => {
    wav = await longSpeechWav();
    // Short-lived access tokens, so the page's quiet refresh happens during the suite.
    // A small upload limit, so the page's statement of it and its refusal of a larger file can be seen.
    server = await startTestServer({ env: { ACCESS_TOKEN_TTL_SECONDS: '30', MAX_UPLOAD_BYTES: String(UPLOAD_LIMIT) } });
    session = await openBrowserSession(wav, {
      viewport: VIEWPORT,
      timeoutMs: 10_000,
      tap: true,
      acceptDownloads: true,
    });
    ({ browser, context, page, problems } = session);
  });

  after(async () => {
    await session?.close();
    await server?.close();
    if (wav) await rm(wav, { force: true });
  });

  /** The signed-in user's access token, straight from the page's storage. */
  const token = () =>
    page.evaluate(
      () => (JSON.parse(localStorage.getItem('earshot.session') ?? '{}') as { access_token: string }).access_token,
    );

  async function recordingNamed(name: string): Promise<any> {
    const me = await api(server, 'GET', '/api/auth/me', { token: await token() });
    const list = await api(server, 'GET', `/api/recordings?org_id=${me.body.personal_org_id}&limit=50`, {
      token: await token(),
    });
    assert.equal(list.status, 200);
    const found = list.body.items.filter((r: any) => r.name === name);
    // One recording per session: a resumed session must not have started a second one.
    assert.equal(found.length, 1, `exactly one recording "${name}" is listed by the API`);
    return found[0];
  }

  /** Starts a recording from the microphone and returns the wall-clock time the clock started. */
  async function startRecording(name: string): Promise<number> {
    await page.getByLabel('Name (optional)').first().fill(name);
    await page.getByRole('button', { name: 'Start recording' }).click();
    await page.locator('.live[data-state="recording"]').waitFor();
    return Date.now();
  }

  async function stopRecording(name: string): Promise<number> {
    await page.getByRole('button', { name: 'Stop and save' }).click();
    const stoppedAt = Date.now();
    await page.getByText(`Saved "${name}"`).waitFor({ timeout: 20_000 });
    return stoppedAt;
  }

  /**
   * The saved recording is what the page recorded: exactly the bytes its encoder produced, all of them
   * kept, and the encoder ran for the whole session (by the page's own clock). Encoded with WebCodecs,
   * the server remuxed it; from MediaRecorder, it transcoded it.
   */
  function assertSameAudio(recording: any, recorded: RecordedAudio): void {
    assert.equal(
      recording.received_bytes,
      recorded.bytes.length,
      `the server received exactly the ${recorded.sizes.length} chunks or packets the page encoded (no gap, no duplicate)`,
    );
    assert.equal(recording.pipeline, recorded.kind === 'webcodecs' ? 'remux' : 'transcode');
    assert.ok(
      Math.abs(recording.duration_sec - recorded.decoded) < 0.1,
      `duration ${recording.duration_sec} s ≈ the page's recorded audio, ${recorded.decoded} s`,
    );
    const tolerance = Math.max(0.4, recorded.seconds * 0.03);
    assert.ok(
      Math.abs(recorded.decoded - recorded.seconds) < tolerance,
      `recorded audio ${recorded.decoded} s ≈ the recorder's running time ${recorded.seconds} s (±${tolerance.toFixed(2)} s)`,
    );
  }

  /** The browser's Opus packets, byte for byte, in order (a short message when they are not). */
  function assertSamePackets(stored: Buffer[], encoded: Buffer[]): void {
    assert.equal(stored.length, encoded.length, `${stored.length} packets stored, ${encoded.length} encoded`);
    const first = stored.findIndex((packet, i) => !packet.equals(encoded[i] as Buffer));
    assert.equal(first, -1, `packet ${first} differs`);
  }

  const listItem = (name: string) =>
    page.locator('li.recording', { has: page.getByRole('heading', { name, exact: true }) });

  test('register, sign out, wrong password and no network give clear messages, sign in', async () => {
    await page.goto(server.url);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'login');

    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByLabel('Name (optional)').fill('Ada Example');
    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill('password');
    await page.getByRole('button', { name: 'Create account' }).click();
    // The server's password policy explains itself.
    await page.getByRole('alert').filter({ hasText: 'stronger password' }).waitFor();
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#recordings-title').waitFor();
    await page.getByText('No recordings yet').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();

    await page.getByLabel('E-mail').fill(email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.textContent(), 'Wrong email or password.');
    await screenshot(page, 'login-error');

    await context.setOffline(true);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: "Can't reach the server" }).waitFor();
    await context.setOffline(false);

    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#recordings-title').waitFor();
    assert.match((await page.locator('.who').textContent()) ?? '', /Ada Example/);
    firstToken = await token();
  });

  test('records ~10 s from the microphone; the recording plays, seeks, downloads and is 16 kHz mono Opus', async () => {
    const name = 'Standup';
    const startedAt = await startRecording(name);

    // The level meter moves and the server confirms audio while recording.
    await page.waitForFunction(() => Number(document.querySelector('[role=meter]')?.getAttribute('aria-valuenow')) > 0);
    await page.waitForFunction(() => /up to 0:0[1-9]/.test(document.querySelector('.saved')?.textContent ?? ''), null, {
      timeout: 8000,
    });
    await page.waitForTimeout(Math.max(0, startedAt + 5000 - Date.now()));
    await screenshot(page, 'recording');
    await page.waitForTimeout(Math.max(0, startedAt + 10_000 - Date.now()));
    // Committed to the object store every LIVE_COMMIT_INTERVAL_MS (5 s): by now some of it is, and the page says so.
    assert.match((await page.locator('.saved').textContent()) ?? '', /; in storage up to 0:0[1-9]/);
    await stopRecording(name);
    const recorded = await lastRecorded(page);
    assert.equal(recorded.kind, 'webcodecs', 'Chromium encodes at the edge');
    assert.ok(recorded.seconds > 9.5, `recorded for ${recorded.seconds} s`);

    const item = listItem(name);
    await item.locator('.status-ready').waitFor({ timeout: 20_000 });

    const recording = await recordingNamed(name);
    assert.equal(recording.status, 'ready');
    assert.equal(recording.source, 'live');
    assert.equal(recording.codec, 'opus');
    assert.equal(recording.sample_rate, 16000);
    assert.equal(recording.channels, 1);
    assertSameAudio(recording, recorded);

    // Play: the element loads the audio through the token-in-URL route and the clock advances.
    const ranges: number[] = [];
    page.on('response', (response) => {
      if (response.url().includes(`/api/recordings/${recording.id}/audio`)) ranges.push(response.status());
    });
    await item.getByRole('button', { name: `Play ${name}` }).click();
    const audio = item.locator('audio');
    await audio.waitFor();
    await page.waitForFunction(
      (el) => el instanceof HTMLAudioElement && el.readyState >= 2 && el.currentTime > 0.5,
      await audio.elementHandle(),
      { timeout: 10_000 },
    );
    // Seek forward: the browser asks for a byte range, the server answers 206.
    const seeked = await audio.evaluate(
      (el: HTMLAudioElement) =>
        new Promise<number>((resolve) => {
          el.addEventListener('seeked', () => resolve(el.currentTime), { once: true });
          el.currentTime = 7;
        }),
    );
    assert.ok(Math.abs(seeked - 7) < 0.5, `seeked to ${seeked}`);
    await page.waitForFunction(
      (el) => el instanceof HTMLAudioElement && el.currentTime > 7.2,
      await audio.elementHandle(),
    );
    assert.ok(ranges.includes(206), `a Range request was answered with 206 (got ${ranges.join(', ')})`);
    const played = await audio.evaluate((el: HTMLAudioElement) => el.duration);
    assert.ok(Math.abs(played - recording.duration_sec) < 0.3, `the player's duration ${played} s`);
    await screenshot(page, 'recordings');

    // Download: the file is an Ogg/Opus, mono, ~10 s, encoded from 16 kHz.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      item.getByRole('link', { name: `Download ${name}` }).click(),
    ]);
    const file = path.join(tmpdir(), `earshot-e2e-${process.pid}.ogg`);
    await download.saveAs(file);
    try {
      const probe = JSON.parse(
        execFileSync(
          'ffprobe',
          [
            '-v',
            'error',
            '-show_entries',
            'stream=codec_name,channels:format=duration,format_name',
            '-of',
            'json',
            file,
          ],
          {
            encoding: 'utf8',
          },
        ),
      );
      assert.equal(probe.format.format_name, 'ogg');
      assert.equal(probe.streams[0].codec_name, 'opus');
      assert.equal(probe.streams[0].channels, 1);
      assert.ok(
        Math.abs(Number(probe.format.duration) - recording.duration_sec) < 0.1,
        `ffprobe duration ${probe.format.duration}`,
      );
      // ffprobe reports Opus at its 48 kHz decode rate; the OpusHead header records the input rate.
      const bytes = await readFile(file);
      const head = bytes.indexOf('OpusHead');
      assert.ok(head >= 0, 'the file has an OpusHead');
      assert.equal(bytes.readUInt32LE(head + 12), 16000);
      assert.equal(bytes.readUInt16LE(head + 10), 312, 'pre-skip: libopus lookahead, in 48 kHz samples');
      assertSamePackets(probePackets(file), recorded.packets);
    } finally {
      await rm(file, { force: true });
    }
  });

  test('uploads a file with a progress bar and it becomes ready', async () => {
    // Slow the upload down so the progress bar can be seen (and photographed).
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 12 * 1024,
    });
    const name = 'Uploaded speech';
    // The limit is stated before anything is sent, read from the server (tus OPTIONS, Tus-Max-Size).
    await page.getByText(/up to 8(\.0)? MB/).waitFor();
    await page.getByLabel('Audio or video file').setInputFiles(path.join(FIXTURES, 'speech.mp3'));
    await page.getByLabel('Name (optional)').nth(1).fill(name);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.waitForFunction(() =>
      /Uploading .* [1-9]\d?%/.test(document.querySelector('.progress-label')?.textContent ?? ''),
    );
    await screenshot(page, 'upload');
    await page.getByText(`"${name}" is uploaded and ready.`).waitFor({ timeout: 30_000 });
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await cdp.detach();

    const item = listItem(name);
    await item.locator('.status-ready').waitFor();
    assert.match((await item.locator('.meta').first().textContent()) ?? '', /0:05/);
    const recording = await recordingNamed(name);
    assert.equal(recording.source, 'upload');
    assert.ok(Math.abs(recording.duration_sec - 5) < 0.2);
  });

  test('refuses a file over the stated limit before sending any of it', async () => {
    const sent: string[] = [];
    const watch = (request: { method(): string; url(): string }) => {
      if (request.url().includes('/api/uploads/tus') && request.method() !== 'OPTIONS') sent.push(request.method());
    };
    page.on('request', watch);
    try {
      const big = { name: 'too big.wav', mimeType: 'audio/wav', buffer: Buffer.alloc(UPLOAD_LIMIT + 1) };
      await page.getByLabel('Audio or video file').setInputFiles(big);
      await page.getByText(/"too big.wav" is 8(\.0)? MB; this server takes files up to 8(\.0)? MB\./).waitFor();
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await page.getByText(/this server takes files up to/).waitFor();
      assert.deepEqual(sent, [], 'no upload request was made');
    } finally {
      page.off('request', watch);
      await page.getByLabel('Audio or video file').setInputFiles([]);
    }
  });

  test('an upload resumes where the server got to after the network drops', async () => {
    const name = 'Resumed upload';
    const wavBytes = longWav(10); // 50 s, 1.6 MB
    const requests: string[] = [];
    const watch = (request: { method(): string; url(): string }) => {
      if (request.url().includes('/api/uploads/tus')) requests.push(request.method());
    };
    page.on('request', watch);
    const offsets: number[] = [];
    const heard = async (response: {
      request(): { method(): string };
      headerValue(name: string): Promise<string | null>;
    }) => {
      if (response.request().method() === 'HEAD') offsets.push(Number(await response.headerValue('upload-offset')));
    };
    page.on('response', heard);
    const cdp = await context.newCDPSession(page);
    try {
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: 200 * 1024,
      });
      await page
        .getByLabel('Audio or video file')
        .setInputFiles({ name: 'resumed.wav', mimeType: 'audio/wav', buffer: wavBytes });
      await page.getByLabel('Name (optional)').nth(1).fill(name);
      await page.getByRole('button', { name: 'Upload', exact: true }).click();
      await page.waitForFunction(() =>
        /Uploading .* ([3-9]\d)%/.test(document.querySelector('.progress-label')?.textContent ?? ''),
      );
      // Drop: the browser goes offline and the server loses its end of the connection mid-PATCH.
      await context.setOffline(true);
      server.app.server.closeAllConnections();
      await page.waitForTimeout(1500);
      await context.setOffline(false);
      await page.getByText(`"${name}" is uploaded and ready.`).waitFor({ timeout: 60_000 });
    } finally {
      page.off('request', watch);
      page.off('response', heard);
      await cdp.detach();
    }
    // After the drop the page asked how far the server got (HEAD) and sent the rest from there.
    const resumedAt = requests.indexOf('HEAD');
    assert.ok(resumedAt > 0, `requests: ${requests.join(' ')}`);
    assert.ok((offsets[0] ?? 0) > 0, `the server kept what it received before the drop: ${offsets}`);
    assert.ok(requests.slice(resumedAt).includes('PATCH'), `requests: ${requests.join(' ')}`);
    const recording = await recordingNamed(name);
    assert.equal(recording.received_bytes, wavBytes.length);
    assert.ok(Math.abs(recording.duration_sec - 50) < 0.5, String(recording.duration_sec));
  });

  test('a network drop in the middle of a recording resumes as soon as the network is back, without a gap', async () => {
    const name = 'Through a network drop';
    const startedAt = await startRecording(name);
    await page.waitForTimeout(4000);

    // Drop: the browser goes offline and the server loses its end of the socket.
    await context.setOffline(true);
    for (const client of (server.app as any).websocketServer.clients) client.terminate();
    await page.locator('.live[data-state="reconnecting"]').waitFor({ timeout: 5000 });
    assert.match((await page.locator('.live-status').textContent()) ?? '', /reconnecting/i);
    // Offline long enough for the back-off to grow (attempts after 0.25, 0.75, 1.75 and 3.75 s, the next
    // one 4 s later): the browser's `online` event, not the back-off, brings the client back.
    await page.waitForTimeout(4500);
    await context.setOffline(false);
    const online = Date.now();
    await page.locator('.live[data-state="recording"]').waitFor({ timeout: 15_000 });
    const back = Date.now() - online;
    assert.ok(back < 2000, `resumed ${back} ms after the network came back`);

    await page.waitForTimeout(Math.max(0, startedAt + 13_000 - Date.now()));
    await stopRecording(name);
    const recorded = await lastRecorded(page);
    await listItem(name).locator('.status-ready').waitFor({ timeout: 20_000 });
    const recording = await recordingNamed(name);
    assert.equal(recording.status, 'ready');
    // Byte-exact: every chunk recorded before, during and after the drop arrived once, in one recording.
    assertSameAudio(recording, recorded);
  });

  test('records the microphone and a shared tab mixed together', async () => {
    const name = 'Mic and tab';
    await page.getByRole('checkbox', { name: /meeting tab or screen/ }).check();
    await startRecording(name);
    await page.waitForTimeout(4000);
    await stopRecording(name);
    const recorded = await lastRecorded(page);
    await listItem(name).locator('.status-ready').waitFor({ timeout: 20_000 });
    const recording = await recordingNamed(name);
    assertSameAudio(recording, recorded);
    assert.equal(recording.channels, 1);
    // The form is back to its defaults for the next recording.
    assert.equal(await page.getByRole('checkbox', { name: /meeting tab or screen/ }).isChecked(), false);
  });

  test("records Chromium's MP4 (audio/mp4;codecs=opus) live into a ready 16 kHz mono Opus recording", async () => {
    const type = 'audio/mp4;codecs=opus';
    assert.equal(await page.evaluate((t) => MediaRecorder.isTypeSupported(t), type), true, `Chromium records ${type}`);
    // This Chromium, but with a MediaRecorder that has only MP4/Opus (like a browser without WebM): the
    // page's own format choice falls back to it, and its real output streams to the server.
    const mp4 = await browser.newContext({ viewport: VIEWPORT });
    mp4.setDefaultTimeout(10_000);
    try {
      await tapRecorders(mp4, [type]);
      await tapEncoders(mp4, true);
      const other = await mp4.newPage();
      problems.push(...watchConsole(other));
      await signIn(other, server.url, { email, password });
      const name = 'Chromium MP4';
      await other.getByLabel('Name (optional)').first().fill(name);
      await other.getByRole('button', { name: 'Start recording' }).click();
      await other.locator('.live[data-state="recording"]').waitFor();
      await other.waitForTimeout(6000);
      await other.getByRole('button', { name: 'Stop and save' }).click();
      await other.getByText(`Saved "${name}"`).waitFor({ timeout: 20_000 });
      const recorded = await lastRecorded(other);
      assert.match(recorded.mimeType, /^audio\/mp4/i);
      assert.equal(recorded.bytes.subarray(4, 8).toString('latin1'), 'ftyp', 'the page recorded MP4');
      assert.ok(recorded.bytes.includes('moof'), 'fragmented MP4');
      await other
        .locator('li.recording', { has: other.getByRole('heading', { name, exact: true }) })
        .locator('.status-ready')
        .waitFor({ timeout: 20_000 });
      const recording = await recordingNamed(name);
      assert.deepEqual(
        [recording.status, recording.source, recording.codec, recording.sample_rate, recording.channels],
        ['ready', 'live', 'opus', 16000, 1],
      );
      assertSameAudio(recording, recorded);
    } finally {
      await mp4.close();
    }
  });

  test('without WebCodecs the page records with MediaRecorder (WebM/Opus), transcoded as before', async () => {
    const plain = await browser.newContext({ viewport: VIEWPORT });
    plain.setDefaultTimeout(10_000);
    try {
      await tapRecorders(plain);
      await tapEncoders(plain, true);
      const other = await plain.newPage();
      problems.push(...watchConsole(other));
      await signIn(other, server.url, { email, password });
      const name = 'MediaRecorder WebM';
      await other.getByLabel('Name (optional)').first().fill(name);
      await other.getByRole('button', { name: 'Start recording' }).click();
      await other.locator('.live[data-state="recording"]').waitFor();
      await other.waitForTimeout(5000);
      await other.getByRole('button', { name: 'Stop and save' }).click();
      await other.getByText(`Saved "${name}"`).waitFor({ timeout: 20_000 });
      const recorded = await lastRecorded(other);
      assert.equal(recorded.kind, 'mediarecorder');
      assert.match(recorded.mimeType, /^audio\/webm;codecs=opus/i);
      const recording = await recordingNamed(name);
      assert.deepEqual(
        [recording.status, recording.codec, recording.sample_rate, recording.channels],
        ['ready', 'opus', 16000, 1],
      );
      assertSameAudio(recording, recorded);
    } finally {
      await plain.close();
    }
  });

  test('if the server ends the session for good, the audio can still be downloaded from the page', async () => {
    await startRecording('Taken over');
    await page.waitForTimeout(2500);
    // A final close code (4409: resumed elsewhere) means the client must not reconnect.
    for (const client of (server.app as any).websocketServer.clients) client.close(4409, 'taken over');
    await page.getByRole('alert').filter({ hasText: 'continued from another window' }).waitFor();
    const link = page.getByRole('link', { name: /download the full recording/ });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    // Encoded at the edge, the page keeps the packets and offers them as an Ogg/Opus file.
    assert.match(download.suggestedFilename(), /^earshot-recording-.*\.ogg$/);
    const file = path.join(tmpdir(), `earshot-e2e-rescue-${process.pid}.ogg`);
    await download.saveAs(file);
    try {
      const probe = JSON.parse(
        execFileSync(
          'ffprobe',
          ['-v', 'error', '-show_entries', 'stream=codec_name:format=duration', '-of', 'json', file],
          { encoding: 'utf8' },
        ),
      );
      assert.equal(probe.streams[0].codec_name, 'opus');
      assert.ok(Number(probe.format.duration) > 2, `the copy holds ${probe.format.duration} s`);
      assertSamePackets(probePackets(file), (await lastRecorded(page)).packets);
    } finally {
      await rm(file, { force: true });
    }
    assert.equal(await page.locator('.live').isHidden(), true);
  });

  test('rename and delete (to the trash) from the list', async () => {
    const id = await listItem('Uploaded speech').getAttribute('data-id');
    const row = page.locator(`li.recording[data-id="${id}"]`);
    await row.getByRole('button', { name: 'Rename Uploaded speech' }).click();
    const input = row.getByRole('textbox', { name: 'New name' });
    await input.fill('Renamed speech');
    await input.press('Enter');
    await row.getByRole('heading', { name: 'Renamed speech' }).waitFor();
    assert.equal((await recordingNamed('Renamed speech')).id, id);

    // No question first: the toast offers Undo, and the Trash keeps it (test/e2e/page.test.ts).
    await row.getByRole('button', { name: 'Delete Renamed speech' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted "Renamed speech".' }).waitFor();
    assert.equal(await row.count(), 0);
    const gone = await api(server, 'GET', `/api/recordings/${id}`, { token: await token() });
    assert.equal(gone.status, 404);
    const trash = await api(server, 'GET', '/api/trash', { token: await token() });
    assert.deepEqual(
      trash.body.items.map((item: any) => item.id),
      [id],
    );
  });

  test('a blocked microphone gets a message that says what to do', async () => {
    const blocked = await browser.newContext({ viewport: VIEWPORT });
    try {
      await blocked.addInitScript(() => {
        navigator.mediaDevices.getUserMedia = () =>
          Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
      });
      const other = await blocked.newPage();
      await signIn(other, server.url, { email, password });
      await other.getByRole('button', { name: 'Start recording' }).click();
      await other.getByRole('alert').filter({ hasText: 'Microphone access was blocked' }).waitFor();
      assert.equal(await other.locator('.live').isHidden(), true);
    } finally {
      await blocked.close();
    }
  });

  test('creates an organisation, invites a colleague who accepts through the link, removes them', async () => {
    const colleague = await registerUser(server);
    await page.getByRole('link', { name: 'Organisations' }).click();
    await page.getByLabel('Organisation name').fill('Acme Research');
    await page.getByRole('button', { name: 'Create organisation' }).click();
    await page.getByText('Created "Acme Research"').waitFor();
    // The new organisation is now the one worked in, and I am its owner.
    assert.match((await page.locator('#org-select option:checked').textContent()) ?? '', /Acme Research/);
    await page.getByRole('heading', { name: 'Members of Acme Research' }).waitFor();
    await page.locator('.member', { hasText: email }).getByText('Owner').waitFor();

    // An address without an account gets the same answer as any other; its invitation can be revoked.
    const invite = async (address: string, role: string) => {
      await page.getByLabel('E-mail address').fill(address);
      await page.getByLabel('Role').selectOption(role);
      await page.getByRole('button', { name: 'Invite', exact: true }).click();
      await page.getByText(`Invitation for ${address} created`).waitFor();
      return page.getByLabel('Invite link').inputValue();
    };
    await invite('nobody-here@example.com', 'member');
    const stray = page.locator('.invitation', { hasText: 'nobody-here@example.com' });
    await stray.getByRole('button', { name: 'Revoke the invitation for nobody-here@example.com' }).click();
    await stray.waitFor({ state: 'detached' });

    const link = await invite(colleague.email, 'admin');
    assert.match(link, /\/#\/invite\/[^/]+\/[\w-]{43}$/);
    const pending = page.locator('.invitation', { hasText: colleague.email });
    await pending.getByText('Admin').waitFor();
    await screenshot(page, 'organisation');
    assert.equal(await page.locator('.member:not(.invitation)', { hasText: colleague.email }).count(), 0);

    // The colleague opens the link in their own browser, signs in as the invited address and accepts.
    const theirs = await browser.newContext({ viewport: VIEWPORT });
    try {
      const other = await theirs.newPage();
      await other.goto(link);
      await other.getByText('with the e-mail address the invitation was sent to').waitFor();
      assert.equal(new URL(other.url()).hash, '#/org', 'the token leaves the address bar');
      await other.getByLabel('E-mail').fill(colleague.email);
      await other.getByLabel('Password').fill(colleague.password);
      await other.getByRole('button', { name: 'Sign in' }).click();
      await other.getByRole('heading', { name: 'Invitations for you' }).waitFor();
      await screenshot(other, 'invitation');
      await other.getByRole('button', { name: 'Accept the invitation to Acme Research' }).click();
      await other.getByText('You joined "Acme Research"').waitFor();
      assert.match((await other.locator('#org-select option:checked').textContent()) ?? '', /Acme Research/);
      await other.getByRole('heading', { name: 'Members of Acme Research' }).waitFor();
    } finally {
      await theirs.close();
    }

    // The owner sees a member now, and no pending invitation; then removes them.
    await page.reload();
    const row = page.locator('.member:not(.invitation)', { hasText: colleague.email });
    await row.getByText('Admin').waitFor();
    assert.equal(await page.locator('.invitation').count(), 0);
    await row.getByRole('button', { name: `Remove ${colleague.email}` }).click();
    await page.getByRole('dialog', { name: 'Remove member?' }).getByRole('button', { name: 'Remove' }).click();
    await row.waitFor({ state: 'detached' });

    // The list shows the new organisation on request, empty, and says where the recordings are.
    await page.getByRole('link', { name: 'Recordings' }).click();
    const acme = await page.locator('#org-select option', { hasText: 'Acme Research' }).getAttribute('value');
    await page.locator('#list-org').selectOption(acme!);
    await page.getByText(/No recordings in Acme Research yet\. You have recordings in .*\(personal\)\./).waitFor();
    await page.getByRole('button', { name: 'Show all organisations' }).click();
    await listItem('Standup').waitFor();
    // New recordings go to the personal organisation again.
    const personal = await page.locator('#org-select option', { hasText: '(personal)' }).getAttribute('value');
    await page.locator('#org-select').selectOption(personal!);
  });

  test('keeps the session alive: tokens are refreshed before expiry and after a 401', async () => {
    // The suite's access tokens live 30 s; by now the page has refreshed at least once, quietly.
    await page.waitForFunction(
      (first) => JSON.parse(localStorage.getItem('earshot.session') ?? '{}').access_token !== first,
      firstToken,
      { timeout: 30_000 },
    );
    // Another tab (same storage) leaves a token the server rejects: the next request gets a 401,
    // refreshes once and succeeds, without the person noticing.
    const other = await context.newPage();
    await other.goto(`${server.url}/#/org`);
    await other.evaluate(() => {
      const session = JSON.parse(localStorage.getItem('earshot.session')!);
      localStorage.setItem('earshot.session', JSON.stringify({ ...session, access_token: 'not-a-valid-token' }));
    });
    await other.close();
    const statuses: number[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/api/recordings?')) statuses.push(response.status());
    });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForFunction(
      () => JSON.parse(localStorage.getItem('earshot.session')!).access_token !== 'not-a-valid-token',
    );
    await page.waitForFunction(() => document.querySelector('.recordings')?.getAttribute('aria-busy') === 'false');
    assert.deepEqual(statuses, [401, 200]);
    assert.equal(await page.locator('.recordings-card [role=alert]').count(), 0);
    await listItem('Standup').waitFor();
  });

  test('is usable on a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.locator('#recordings-title').waitFor();
    await listItem('Standup').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (overflow ${overflow}px)`);
    await screenshot(page, 'phone', { fullPage: true });
    await page.setViewportSize(VIEWPORT);
  });
});
