/**
 * The API documentation page (Swagger UI at /docs) in a real browser, under its Content-Security-Policy:
 * it renders the operations, "Try it out" reaches the API (an upload included, through the documented
 * multipart body), and the browser reports no CSP violation (an upgrade of @fastify/swagger-ui that
 * needs another inline style or script fails here).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { api, registerUser, startTestServer, type TestServer } from '../helpers.ts';
import { type BrowserSession, FIXTURES, longSpeechWav, openBrowserSession } from './browser.ts';

describe('API docs page', () => {
  let server: TestServer;
  let session: BrowserSession;
  let wav: string;
  let page: Page;
  let problems: string[] = [];
  const violations: string[] = [];

  before(async () => {
    wav = await longSpeechWav(1);
    server = await startTestServer();
    session = await openBrowserSession(wav, { timeoutMs: 15_000 });
    ({ page, problems } = session);
    await page.exposeFunction('reportViolation', (text: string) => violations.push(text));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        (window as unknown as { reportViolation(text: string): void }).reportViolation(
          `${event.effectiveDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`,
        );
      });
    });
  });

  after(async () => {
    await session?.close();
    await server?.close();
    if (wav) await rm(wav, { force: true });
  });

  test('renders every operation and runs "Try it out" without a CSP violation', async () => {
    const response = await page.goto(`${server.url}/docs/`);
    assert.match(response?.headers()['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    await page.locator('.opblock').first().waitFor();
    assert.ok((await page.locator('.opblock').count()) >= 15);

    const health = page.locator('.opblock', { hasText: '/healthz' });
    await health.locator('.opblock-summary').click();
    await health.getByRole('button', { name: 'Try it out' }).click();
    await health.getByRole('button', { name: 'Execute' }).click();
    await health.locator('.live-responses-table .response-col_status', { hasText: '200' }).waitFor();

    await page
      .getByRole('button', { name: /Authorize/ })
      .first()
      .click();
    await page.locator('.modal-ux').waitFor();
    // Sign in through the dialog with an access token, then upload a file with "Try it out".
    const user = await registerUser(server);
    await page.locator('.modal-ux input').fill(user.token);
    await page.locator('.modal-ux').getByRole('button', { name: 'Apply credentials' }).click();
    await page.locator('.modal-ux').getByRole('button', { name: 'Close', exact: true }).click();
    const upload = page.locator('.opblock', { hasText: '/api/recordings/upload' });
    await upload.locator('.opblock-summary').click();
    await upload.getByRole('button', { name: 'Try it out' }).click();
    await upload.locator('tr[data-param-name="name"] input').fill('From the docs');
    await upload.locator('input[type=file]').setInputFiles(path.join(FIXTURES, 'speech.ogg'));
    await upload.getByRole('button', { name: 'Execute' }).click();
    await upload.locator('.live-responses-table .response-col_status', { hasText: /^\s*20[12]\s*$/ }).waitFor();
    const listed = await api(server, 'GET', '/api/recordings', { token: user.token });
    assert.deepEqual(
      listed.body.items.map((recording: { name: string }) => recording.name),
      ['From the docs'],
    );
    assert.deepEqual(violations, []);
    assert.deepEqual(
      problems.filter((line) => /Content Security Policy/.test(line)),
      [],
    );
  });
});
