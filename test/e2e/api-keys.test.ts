/**
 * API keys on the web page (Chromium against the real server): an owner creates a key, which is shown
 * once; the test uses it with fetch; the owner revokes it after the confirmation, and the same key is
 * refused from then on.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from '../helpers.ts';
import { type BrowserSession, FIXTURES, openBrowserSession, screenshot, signIn } from './browser.ts';

describe('web app: API keys', () => {
  let server: TestServer;
  let session: BrowserSession;
  let page: Page;
  let user: TestUser;
  let problems: string[] = [];

  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
    session = await openBrowserSession(path.join(FIXTURES, 'speech.wav'), {
      viewport: { width: 1280, height: 860 },
      timeoutMs: 10_000,
    });
    ({ page, problems } = session);
  });

  after(async () => {
    await session?.close();
    await server?.close();
  });

  test('create a key (shown once), use it, revoke it: the same key is refused', async () => {
    await signIn(page, server.url, user);
    await page.getByRole('link', { name: 'Organisations' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByText('No API keys yet.').waitFor();

    await page.getByLabel('Key name').fill('Meeting bot');
    // Read and record are chosen by default; admin is not.
    assert.equal(await page.getByRole('checkbox', { name: /^Read/ }).isChecked(), true);
    assert.equal(await page.getByRole('checkbox', { name: /^Record/ }).isChecked(), true);
    assert.equal(await page.getByRole('checkbox', { name: /^Admin/ }).isChecked(), false);
    await page.getByLabel('Expires').selectOption('30');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByText('Created "Meeting bot"').waitFor();
    await page.getByText('it is shown only once').waitFor();
    const key = await page.getByLabel('New API key').inputValue();
    assert.match(key, /^esk_[0-9a-f-]{36}_[\w-]{43}$/);

    const row = page.locator('li.api-key', { hasText: 'Meeting bot' });
    await row.getByText('Never used').waitFor();
    assert.match((await row.textContent()) ?? '', new RegExp(`${key.slice(0, 40)}_…`), 'the prefix is shown');
    assert.ok(!((await row.textContent()) ?? '').includes(key.slice(41)), 'the secret is not in the list');
    await row.getByText('read', { exact: true }).waitFor();
    await row.getByText('record', { exact: true }).waitFor();
    await screenshot(page, 'api-keys', { fullPage: true });

    // A bot uses it: it records into and reads the org it was made in.
    const listed = await api(server, 'GET', '/api/recordings', { token: key });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    // The page shows the use after a reload (the list is read again).
    await page.reload();
    await page
      .locator('li.api-key', { hasText: 'Meeting bot' })
      .getByText(/Last used/)
      .waitFor();

    // Revoking asks first; cancelling keeps the key.
    const revoke = page.getByRole('button', { name: 'Revoke the API key Meeting bot' });
    await revoke.click();
    await page.getByRole('dialog', { name: 'Revoke API key?' }).getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api(server, 'GET', '/api/recordings', { token: key })).status, 200);
    await revoke.click();
    await page.getByRole('dialog', { name: 'Revoke API key?' }).getByRole('button', { name: 'Revoke' }).click();
    await page.locator('li.api-key', { hasText: 'Meeting bot' }).waitFor({ state: 'detached' });
    await page.getByText('No API keys yet.').waitFor();

    const refused = await api(server, 'GET', '/api/recordings', { token: key });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'invalid_token');
    assert.deepEqual(problems, []);
  });
});
