/**
 * Transcripts in the page, in a real browser against the real server and an OpenAI-compatible
 * transcription server written in the test: Transcribe beside the player, clicking a line seeks the
 * player there and highlights it, the search box finds a recording by its transcript, and the
 * organisation's auto-transcription switch.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { type FakeTranscriber, startFakeTranscriber } from '../fake-transcriber.ts';
import { api, eventually, registerUser, startTestServer, type TestServer, type TestUser } from '../helpers.ts';
import { type BrowserSession, FIXTURES, openBrowserSession, screenshot, signIn } from './browser.ts';

describe('transcripts in the web app', () => {
  let fake: FakeTranscriber;
  let server: TestServer;
  let session: BrowserSession;
  let page: Page;
  let user: TestUser;

  async function upload(name: string): Promise<any> {
    const form = new FormData();
    form.append('name', name);
    form.append('file', new Blob([await readFile(path.join(FIXTURES, 'speech.ogg'))]), 'speech.ogg');
    const res = await api(server, 'POST', '/api/recordings/upload?wait=30', { token: user.token, body: form });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  }

  const item = (name: string) =>
    page.locator('li.recording', { has: page.getByRole('heading', { name, exact: true }) });

  before(async () => {
    fake = await startFakeTranscriber();
    server = await startTestServer({ env: { TRANSCRIBE_BASE_URL: fake.baseUrl, TRANSCRIBE_MODEL: 'whisper-1' } });
    user = await registerUser(server);
    session = await openBrowserSession(path.join(FIXTURES, 'speech.wav'), {
      viewport: { width: 1280, height: 860 },
      timeoutMs: 15_000,
    });
    page = session.page;
    await signIn(page, server.url, user);
  });

  after(async () => {
    await session?.close();
    await server?.close();
    await fake?.close();
  });

  test('Transcribe beside the player; a line seeks the player and is highlighted', async () => {
    await upload('Budget review');
    await upload('Hiring plan');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await item('Budget review').getByRole('button', { name: 'Play Budget review' }).click();
    const panel = item('Budget review').getByRole('region', { name: 'Transcript' });
    await panel.getByText('No transcript yet.').waitFor();
    await panel.getByRole('button', { name: 'Transcribe' }).click();
    const second = panel.getByRole('button', { name: /Réunion budgétaire, deuxième partie\./ });
    await second.waitFor();
    await panel.getByRole('button', { name: /Hello & welcome to the <budget> meeting\./ }).waitFor();
    await panel.getByRole('button', { name: 'Transcribe again' }).waitFor();

    await second.click();
    const audio = item('Budget review').locator('audio');
    await eventually(async () => {
      const at = await audio.evaluate((element: HTMLAudioElement) => element.currentTime);
      assert.ok(at >= 2.4 - 0.05, `the player is at ${at} s, the line starts at 2.4 s`);
    }, 10_000);
    await eventually(async () => assert.equal(await second.getAttribute('aria-current'), 'true'), 10_000);
    await audio.evaluate((element: HTMLAudioElement) => element.pause());
    await screenshot(page, 'transcript');
  });

  test('the search box finds a recording by what was said', async () => {
    const search = page.getByRole('searchbox', { name: 'Search recordings' });
    await search.fill('RÉUNION');
    await search.press('Enter');
    await eventually(async () => assert.equal(await page.locator('li.recording').count(), 1), 10_000);
    await item('Budget review').waitFor();
    await search.fill('nothing like this');
    await search.press('Enter');
    await page.getByText('No recordings match "nothing like this".').waitFor();
    await search.fill('');
    await search.press('Enter');
    await eventually(async () => assert.equal(await page.locator('li.recording').count(), 2), 10_000);
  });

  test("an owner turns the organisation's auto-transcription on", async () => {
    await page.getByRole('link', { name: 'Organisations' }).click();
    const toggle = page.getByRole('checkbox', { name: 'Transcribe new recordings automatically' });
    assert.equal(await toggle.isChecked(), false);
    await toggle.check();
    await page.getByText('New recordings will be transcribed when they are ready.').waitFor();
    const settings = await api(server, 'GET', `/api/orgs/${user.orgId}/settings`, { token: user.token });
    assert.deepEqual(settings.body, { auto_transcribe: true, trash_retention_days: 30 });

    const later = await upload('Transcribed by itself');
    await eventually(async () => {
      const res = await api(server, 'GET', `/api/recordings/${later.id}/transcript`, { token: user.token });
      assert.equal(res.body.status, 'ready');
    }, 20_000);
  });
});
