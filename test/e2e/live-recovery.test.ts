/**
 * The page keeps what the server has not acknowledged (IndexedDB, through `@earshot/live-client`) and
 * says so: a reload in the middle of a recording loses nothing (the next page load finishes it), and a
 * browser gone offline shows "connection lost, kept in this browser" until acks come back, then records on
 * into one whole recording. Chromium against the real server, the fake microphone playing speech.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { api, registerUser, startTestServer, type TestServer, type TestUser, waitForRecording } from '../helpers.ts';
import { type BrowserSession, lastRecorded, longSpeechWav, openBrowserSession, signIn } from './browser.ts';

describe('web app: audio kept in the browser across a reload and while offline', () => {
  let server: TestServer;
  let user: TestUser;
  let session: BrowserSession;
  let context: BrowserContext;
  let page: Page;
  let wav: string;

  before(async () => {
    wav = await longSpeechWav();
    server = await startTestServer();
    user = await registerUser(server);
    session = await openBrowserSession(wav, { viewport: { width: 1280, height: 860 }, timeoutMs: 10_000, tap: true });
    ({ context, page } = session);
    await signIn(page, server.url, user);
  });

  after(async () => {
    await session?.close();
    await server?.close();
    if (wav) await rm(wav, { force: true });
  });

  /** The one recording of this name (a resumed session must not have made a second one). */
  async function recordingNamed(name: string): Promise<any> {
    const list = await api(server, 'GET', `/api/recordings?org_id=${user.orgId}&limit=50`, { token: user.token });
    const found = list.body.items.filter((r: any) => r.name === name);
    assert.equal(found.length, 1, `exactly one recording "${name}"`);
    return waitForRecording(server, user, found[0].id);
  }

  /** Starts recording from the microphone; resolves when the clock starts (Date.now()). */
  async function startRecording(name: string): Promise<number> {
    await page.getByLabel('Name (optional)').first().fill(name);
    await page.getByRole('button', { name: 'Start recording' }).click();
    await page.locator('.live[data-state="recording"]').waitFor();
    return Date.now();
  }

  test('a reload mid-recording: the next page load sends what the server missed and saves it whole', async () => {
    const name = 'Interrupted by a reload';
    const clickedAt = Date.now();
    const startedAt = await startRecording(name);
    await page.waitForTimeout(3000);
    // The last seconds before the reload exist only in the page: the browser is offline and the server
    // has lost its end of the socket, so nothing more is acknowledged.
    await context.setOffline(true);
    for (const client of (server.app as any).websocketServer.clients) client.terminate();
    await page.locator('.live[data-connection="offline"]').waitFor();
    await page.waitForTimeout(3000);
    const unconfirmed = await page.evaluate(async () => {
      const databases = await indexedDB.databases();
      return databases.map((database) => database.name).filter((n) => n?.startsWith('earshot-unacked-'));
    });
    assert.equal(unconfirmed.length, 1, 'the page keeps its unacknowledged audio in IndexedDB');
    // Reloaded while still offline (the browser shows its error page), so the recording page is gone
    // before the network is back: only the next page load, from IndexedDB, can send what it kept.
    const reloadedAt = Date.now();
    await page.reload().catch(() => {});
    const unloadedBy = Date.now();
    await context.setOffline(false);
    await page.goto(server.url);

    await page.getByText('A recording was interrupted').or(page.getByText('Recovered the interrupted')).waitFor();
    await page.getByText(/Recovered the interrupted recording: nothing was lost/).waitFor({ timeout: 30_000 });
    const recording = await recordingNamed(name);
    assert.equal(recording.status, 'ready');
    // Capture runs from about the click to about the unload; on a loaded machine both take a while, so
    // the bounds are the widest the page could have recorded and the narrowest.
    const [atLeast, atMost] = [(reloadedAt - startedAt) / 1000, (unloadedBy - clickedAt) / 1000];
    // The encoder hands over a chunk every 500 ms: the one in progress at the reload is all that is lost.
    assert.ok(
      recording.duration_sec > atLeast - 1.2 && recording.duration_sec < atMost + 0.5,
      `duration ${recording.duration_sec} s, recorded for ${atLeast}–${atMost} s before the reload`,
    );
    const left = await page.evaluate(async () => {
      const databases = await indexedDB.databases();
      const name = databases.find((database) => database.name?.startsWith('earshot-unacked-'))?.name as string;
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(name);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const count = await new Promise<number>((resolve) => {
        const request = db.transaction('sessions').objectStore('sessions').count();
        request.onsuccess = () => resolve(request.result);
      });
      db.close();
      return count;
    });
    assert.equal(left, 0, 'a finished recording leaves nothing in the browser');
  });

  test('offline while recording: "connection lost, kept in this browser", cleared when acks resume; whole', async () => {
    const name = 'Through offline mode';
    await startRecording(name);
    const connection = page.locator('.live .connection');
    await page.waitForTimeout(3000);
    assert.equal(await connection.isVisible(), false, 'nothing to say while acks arrive');

    await context.setOffline(true);
    await page.locator('.live[data-connection="offline"]').waitFor();
    assert.match((await connection.textContent()) ?? '', /Connection lost: audio is kept in this browser/);
    await page.waitForTimeout(3000);
    await context.setOffline(false);
    await page.locator('.live[data-connection="connected"]').waitFor({ timeout: 20_000 });
    assert.equal(await connection.isVisible(), false, 'the warning is gone once acks resume');

    await page.waitForTimeout(2000);
    await page.getByRole('button', { name: 'Stop and save' }).click();
    await page.getByText(`Saved "${name}"`).waitFor({ timeout: 20_000 });
    const recorded = await lastRecorded(page);
    const recording = await recordingNamed(name);
    assert.equal(recording.status, 'ready');
    assert.equal(recording.received_bytes, recorded.bytes.length, 'every encoded byte arrived once');
    assert.ok(
      Math.abs(recording.duration_sec - recorded.decoded) < 0.1,
      `duration ${recording.duration_sec} s ≈ the ${recorded.decoded} s the page encoded`,
    );
  });
});
