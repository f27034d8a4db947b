/**
 * Webhooks on the page, in a real browser: an owner adds an endpoint (a receiver in this process) and
 * copies its secret, a recording made ready through the API is delivered and shows in the endpoint's
 * delivery log, and "Send again" sends the same message (same webhook-id) once more.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import {
  api,
  eventually,
  registerUser,
  startTestServer,
  type TestServer,
  type TestUser,
  waitForRecording,
} from '../helpers.ts';
import { type Receiver, startReceiver, verify } from '../webhook-receiver.ts';
import { type BrowserSession, FIXTURES, longSpeechWav, openBrowserSession, screenshot, signIn } from './browser.ts';

describe('webhooks on the page', () => {
  let server: TestServer;
  let receiver: Receiver;
  let session: BrowserSession;
  let page: Page;
  let user: TestUser;
  let wav: string;

  before(async () => {
    receiver = await startReceiver();
    // The receiver is on loopback, which deliveries may only reach when private targets are allowed.
    server = await startTestServer({
      env: { WEBHOOK_ALLOW_PRIVATE: 'true', PUBLIC_URL: 'https://earshot.example.test' },
    });
    user = await registerUser(server);
    wav = await longSpeechWav(1);
    session = await openBrowserSession(wav, { viewport: { width: 1280, height: 900 }, timeoutMs: 10_000 });
    page = session.page;
  });

  after(async () => {
    await session?.close();
    await server?.close();
    await receiver?.close();
    if (wav) await rm(wav, { force: true });
  });

  test('add an endpoint, see a recording delivered in its log, and send it again', async () => {
    await signIn(page, server.url, user);
    await page.getByRole('link', { name: 'Organisations' }).click();

    const panel = page.getByRole('region', { name: 'Webhooks' });
    await panel.getByText('No endpoints yet.').waitFor();
    const url = `${receiver.url}/page`;
    await panel.getByLabel('Endpoint URL').fill(url);
    await panel.getByLabel('Description (optional)').fill('Meeting notes bot');
    await panel.getByRole('checkbox', { name: 'transcript.ready' }).uncheck();
    await panel.getByRole('button', { name: 'Add endpoint' }).click();
    const secretField = panel.getByLabel('Signing secret');
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    assert.match(secret, /^whsec_/);
    await panel.getByText(url, { exact: true }).waitFor();
    await panel
      .getByText(
        'Events: recording.started, recording.ready, recording.failed, recording.trashed, recording.restored, recording.deleted',
      )
      .waitFor();

    // A recording made ready through the API reaches the receiver, signed with the secret the page showed.
    const form = new FormData();
    form.append('file', new Blob([await readFile(path.join(FIXTURES, 'speech.ogg'))]), 'speech.ogg');
    const uploaded = await api(server, 'POST', '/api/recordings/upload', { token: user.token, body: form });
    const recording = await waitForRecording(server, user, uploaded.body.id);
    const received = await eventually(() => {
      assert.equal(receiver.at('/page').length, 2);
      return receiver.at('/page');
    }, 20_000);
    for (const delivery of received) verify(delivery, secret);
    const ready = received.find((delivery) => delivery.payload.type === 'recording.ready')!;
    assert.equal(ready.payload.data.recording.id, recording.id);

    await panel.getByRole('button', { name: `Delivery log: ${url}` }).click();
    const rows = panel.locator('.delivery-log tbody tr');
    await eventually(async () => assert.equal(await rows.count(), 2), 10_000);
    const readyRow = rows.filter({ hasText: 'recording.ready' });
    await readyRow.getByText('delivered').waitFor();
    await readyRow.getByText('HTTP 204').waitFor();
    await screenshot(page, 'webhooks');

    await readyRow.getByRole('button', { name: 'Send again' }).click();
    await eventually(() => assert.equal(receiver.at('/page').length, 3), 20_000);
    const again = receiver.at('/page')[2]!;
    assert.equal(again.id, ready.id, 'sent again with the same webhook-id');
    verify(again, secret);
    // The log refreshes itself while a delivery is pending: the new entry ends up delivered.
    await eventually(async () => {
      assert.equal(await rows.count(), 3);
      assert.equal(
        await panel.locator(`.delivery-log tr[data-message-id="${ready.id}"][data-status="delivered"]`).count(),
        2,
      );
    }, 20_000);
  });
});
