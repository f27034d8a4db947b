/**
 * The page's layout and accessibility, the organisation filter of the list, the trash with undo, and
 * the cross-tab warning before a sign-out that ends a recording (Chromium against the real server).
 * axe-core checks the main views in the light and the dark scheme.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import {
  api,
  eventually,
  registerUser,
  startTestServer,
  type TestServer,
  type TestUser,
  waitForRecording,
} from '../helpers.ts';
import { axeViolations } from './axe.ts';
import { type BrowserSession, FIXTURES, openBrowserSession, screenshot, signIn, watchConsole } from './browser.ts';

const WIDTHS = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'tablet', width: 768, height: 1024 },
  { name: 'desktop', width: 1280, height: 860 },
] as const;

describe('web app: layout, organisations in the list, trash, accessibility, tabs', () => {
  let server: TestServer;
  let session: BrowserSession;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let user: TestUser;
  let acmeId: string;
  let problems: string[] = [];

  async function upload(name: string, orgId: string): Promise<string> {
    const form = new FormData();
    form.append('name', name);
    form.append('org_id', orgId);
    form.append('file', new Blob([await readFile(path.join(FIXTURES, 'speech.ogg'))]), 'speech.ogg');
    const res = await api(server, 'POST', '/api/recordings/upload', { token: user.token, body: form });
    assert.ok(res.status === 201 || res.status === 202, JSON.stringify(res.body));
    await waitForRecording(server, user, res.body.id);
    return res.body.id;
  }

  const item = (name: string, on: Page = page) =>
    on.locator('li.recording', { has: on.getByRole('heading', { name, exact: true }) });

  /** No violations at all, with each one spelled out when there are. */
  async function assertAccessible(what: string): Promise<void> {
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], `${what}: ${JSON.stringify(violations, null, 2)}`);
  }

  before(async () => {
    server = await startTestServer();
    user = await registerUser(server);
    acmeId = (await api(server, 'POST', '/api/orgs', { token: user.token, json: { name: 'Acme Sales' } })).body.id;
    await upload('Acme pipeline review', acmeId);
    session = await openBrowserSession(path.join(FIXTURES, 'speech.wav'), {
      viewport: { width: 1280, height: 860 },
      timeoutMs: 10_000,
    });
    ({ browser, context, page, problems } = session);
  });

  after(async () => {
    await session?.close();
    await server?.close();
  });

  test('sign-in moves the focus to the field in error, then to the page heading', async () => {
    await page.goto(server.url);
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password.' }).waitFor();
    const password = page.getByLabel('Password');
    await eventually(async () => assert.equal(await password.evaluate((el) => el === document.activeElement), true));
    assert.equal(await password.getAttribute('aria-invalid'), 'true');
    const described = (await password.getAttribute('aria-describedby')) ?? '';
    assert.equal(
      await page.locator(`[id="${described.split(' ').at(-1)}"]`).textContent(),
      'Wrong email or password.',
      'the field is described by the message',
    );
    await password.fill(user.password);
    assert.equal(await password.getAttribute('aria-invalid'), null, 'editing the field clears the mark');

    // An address that is already registered: the focus goes to the e-mail field.
    await page.getByRole('button', { name: 'New here? Create an account' }).click();
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill('a long enough passphrase 42');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('alert').filter({ hasText: 'already exists' }).waitFor();
    await eventually(async () =>
      assert.equal(await page.getByLabel('E-mail').evaluate((el) => el === document.activeElement), true),
    );

    await page.getByRole('button', { name: 'Have an account? Sign in' }).click();
    await signIn(page, server.url, user);
    const focused = await page.evaluate(() => document.activeElement?.id);
    assert.equal(focused, 'page-title', 'after signing in, the focus is on the view heading');
    assert.equal(await page.locator('#page-title').textContent(), 'Recordings');
  });

  test('the record button and the recordings come first, on a phone, a tablet and a desktop', async () => {
    for (const { name, width, height } of WIDTHS) {
      await page.setViewportSize({ width, height });
      await page.reload();
      await item('Acme pipeline review').waitFor();
      const record = page.getByRole('button', { name: 'Start recording' });
      const box = await record.boundingBox();
      assert.ok(
        box && box.y >= 0 && box.y + box.height <= height,
        `${name}: the record button is on screen (${box?.y})`,
      );
      const list = await page.locator('#recordings-title').boundingBox();
      const uploadTitle = await page.getByRole('heading', { name: 'Upload' }).boundingBox();
      assert.ok(list && uploadTitle, name);
      if (width >= 960) {
        assert.ok(list.y < height, `${name}: the list starts on screen`);
        assert.ok(list.x < box.x, `${name}: the list is beside the record panel, on its left`);
      } else {
        assert.ok(list.y > box.y, `${name}: the list follows the record panel`);
      }
      assert.ok(uploadTitle.y > list.y || uploadTitle.x > list.x, `${name}: the upload form comes after the list`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${name}: no sideways scrolling (${overflow}px)`);
      await screenshot(page, `home-${name}`);
    }
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  test('lists every organisation’s recordings with their organisation, or the one chosen, remembered', async () => {
    await page.reload();
    const recording = item('Acme pipeline review');
    await recording.getByText('Acme Sales', { exact: true }).waitFor();
    assert.equal(await page.getByLabel('Show').first().inputValue(), 'all');
    assert.equal(await page.locator('#recordings-title').textContent(), 'Recordings in all organisations');

    // The personal organisation has none: the list says where the recordings are.
    await page.locator('#list-org').selectOption(user.orgId);
    await page.getByText(/No recordings in .* yet\. You have recordings in Acme Sales\./).waitFor();
    assert.equal(await recording.count(), 0);
    await page.reload();
    await page.getByText(/You have recordings in Acme Sales\./).waitFor();
    assert.equal(await page.locator('#list-org').inputValue(), user.orgId, 'the choice is remembered');
    await page.getByRole('button', { name: 'Show all organisations' }).click();
    await recording.waitFor();

    await page.locator('#list-org').selectOption(acmeId);
    await recording.waitFor();
    // One organisation: no label needed (once the list is drawn again for it).
    await recording.locator('.org-label').waitFor({ state: 'detached' });
    await page.reload();
    await recording.waitFor();
    assert.equal(await page.locator('#list-org').inputValue(), acmeId);
    await page.locator('#list-org').selectOption('all');
  });

  test('delete shows "Undo"; undo brings the recording back where it was', async () => {
    await upload('Undo me', user.orgId);
    await page.reload();
    const row = item('Undo me');
    await row.getByRole('button', { name: 'Delete Undo me' }).click();
    const toast = page.getByRole('status').filter({ hasText: 'Deleted "Undo me". It is in the trash.' });
    await toast.waitFor();
    await row.waitFor({ state: 'detached' });
    const undo = toast.getByRole('button', { name: 'Undo' });
    await eventually(async () => assert.equal(await undo.evaluate((el) => el === document.activeElement), true));
    await screenshot(page, 'undo');
    await undo.click();
    await page.getByRole('status').filter({ hasText: 'Restored "Undo me".' }).waitFor();
    await row.waitFor();
    const names = await page.locator('li.recording h3').allTextContents();
    assert.deepEqual(names.slice(0, 2), ['Undo me', 'Acme pipeline review'], 'newest first, as before');
    const id = await row.getAttribute('data-id');
    assert.equal((await api(server, 'GET', `/api/recordings/${id}`, { token: user.token })).status, 200);
  });

  test('the Trash lists deleted recordings with their purge date: restore, delete forever, empty', async () => {
    const settings = await api(server, 'PATCH', `/api/orgs/${user.orgId}/settings`, {
      token: user.token,
      json: { trash_retention_days: 7 },
    });
    assert.equal(settings.status, 200);
    for (const name of ['Keep me', 'Forget me', 'Empty me']) {
      await upload(name, user.orgId);
    }
    await page.reload();
    for (const name of ['Keep me', 'Forget me', 'Empty me']) {
      await item(name)
        .getByRole('button', { name: `Delete ${name}` })
        .click();
      await item(name).waitFor({ state: 'detached' });
    }
    await page.getByRole('link', { name: 'Trash' }).click();
    await page.getByRole('heading', { name: 'Trash', level: 1 }).waitFor();
    const kept = item('Keep me');
    await kept.getByText(/Deleted .* by you/).waitFor();
    const purge = (await kept.getByText(/Deleted for good on/).textContent()) ?? '';
    const listed = await api(server, 'GET', '/api/trash', { token: user.token });
    const purgeAt = listed.body.items.find((i: any) => i.name === 'Keep me').purge_at;
    assert.equal(
      Date.parse(purgeAt) - Date.parse(listed.body.items.find((i: any) => i.name === 'Keep me').deleted_at),
      7 * 86_400_000,
    );
    assert.match(purge, new RegExp(String(new Date(purgeAt).getDate())));
    await screenshot(page, 'trash');

    await kept.getByRole('button', { name: 'Restore Keep me' }).click();
    await page.getByRole('status').filter({ hasText: 'Restored "Keep me"' }).waitFor();
    await kept.waitFor({ state: 'detached' });

    const forget = item('Forget me');
    await forget.getByRole('button', { name: 'Delete Forget me forever' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete forever?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await forget.count(), 1, 'cancel keeps it');
    await forget.getByRole('button', { name: 'Delete Forget me forever' }).click();
    await dialog.getByRole('button', { name: 'Delete forever' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted "Forget me" for good.' }).waitFor();
    await forget.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Empty trash' }).click();
    await page.getByRole('dialog', { name: 'Empty the trash?' }).getByRole('button', { name: 'Empty trash' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted 1 recording for good.' }).waitFor();
    await page.getByText('The trash is empty.').waitFor();
    const trash = await api(server, 'GET', '/api/trash', { token: user.token });
    assert.deepEqual(trash.body.items, []);

    await page.getByRole('link', { name: 'Recordings' }).click();
    await item('Keep me').waitFor();
  });

  test('the organisation settings show and change the trash retention', async () => {
    await page.getByRole('link', { name: 'Organisations' }).click();
    const days = page.getByLabel('Keep deleted recordings in the trash for (days)');
    await eventually(async () => assert.equal(await days.inputValue(), '7'));
    await days.fill('0');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Enter a whole number of days from 1 to 3650.').waitFor();
    assert.equal(await days.evaluate((el) => el === document.activeElement), true, 'the field in error has the focus');
    await days.fill('14');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Deleted recordings are now kept for 14 days').waitFor();
    const settings = await api(server, 'GET', `/api/orgs/${user.orgId}/settings`, { token: user.token });
    assert.equal(settings.body.trash_retention_days, 14);
    await page.getByRole('link', { name: 'Recordings' }).click();
  });

  test('axe finds nothing on the main views, in the light and the dark scheme', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.goto(`${server.url}/#/`);
      await page.reload(); // a fresh list, the player closed
      await item('Acme pipeline review').waitFor();
      await assertAccessible(`${scheme}: recordings`);
      await item('Acme pipeline review').getByRole('button', { name: 'Play Acme pipeline review' }).click();
      await item('Acme pipeline review').locator('audio').waitFor();
      await assertAccessible(`${scheme}: the player`);
      await item('Keep me').getByRole('button', { name: 'Delete Keep me' }).click();
      await page.getByRole('button', { name: 'Undo', exact: true }).waitFor();
      await assertAccessible(`${scheme}: the undo toast`);
      await page.getByRole('button', { name: 'Undo', exact: true }).click();
      await page.getByRole('status').filter({ hasText: 'Restored "Keep me".' }).waitFor();
      await page.getByRole('link', { name: 'Trash' }).click();
      await page.getByRole('heading', { name: 'Deleted recordings' }).waitFor();
      await assertAccessible(`${scheme}: trash`);
      await page.getByRole('link', { name: 'Organisations' }).click();
      await page.getByRole('heading', { name: /Members of/ }).waitFor();
      await assertAccessible(`${scheme}: organisations`);
      if (scheme === 'dark') await screenshot(page, 'dark', { fullPage: true });

      const other = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: scheme });
      try {
        const signedOut = await other.newPage();
        await signedOut.goto(server.url);
        await signedOut.getByRole('heading', { name: 'Sign in' }).waitFor();
        const violations = await axeViolations(signedOut);
        assert.deepEqual(violations, [], `${scheme}: sign in: ${JSON.stringify(violations, null, 2)}`);
      } finally {
        await other.close();
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('signing out in one tab warns when another tab is recording; confirmed, that recording is saved', async () => {
    const recording = await context.newPage();
    problems.push(...watchConsole(recording));
    await recording.goto(server.url);
    await recording.locator('#recordings-title').waitFor();
    await recording.getByLabel('Name (optional)').first().fill('Two tabs');
    await recording.getByRole('button', { name: 'Start recording' }).click();
    await recording.locator('.live[data-state="recording"]').waitFor();
    await recording.waitForFunction(() => /up to 0:0[1-9]/.test(document.querySelector('.saved')?.textContent ?? ''));

    await page.goto(`${server.url}/#/`);
    await page.locator('#recordings-title').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    const dialog = page.getByRole('dialog', { name: 'Sign out and end the recording?' });
    await dialog.getByText('A recording is in progress in another tab; signing out ends it.').waitFor();
    await screenshot(page, 'sign-out-warning');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.locator('#recordings-title').count(), 1, 'still signed in');
    assert.equal(await recording.locator('.live[data-state="recording"]').count(), 1, 'still recording');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await dialog.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    await recording.getByText('You signed out in another tab. The recording in this tab was stopped').waitFor();
    const token = (
      await api(server, 'POST', '/api/auth/login', { json: { email: user.email, password: user.password } })
    ).body.access_token;
    await eventually(async () => {
      const list = await api(server, 'GET', `/api/recordings?org_id=${user.orgId}`, { token });
      const saved = list.body.items.find((r: any) => r.name === 'Two tabs');
      assert.equal(saved?.status, 'ready');
      assert.ok(saved.duration_sec > 0.5);
    }, 20_000);

    // With no tab recording, signing out asks nothing.
    await signIn(page, server.url, user);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    await recording.close();
    assert.deepEqual(
      problems.filter((line) => line.startsWith('pageerror')),
      [],
    );
  });
});
