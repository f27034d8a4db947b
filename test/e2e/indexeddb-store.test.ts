/**
 * The UnackedStore contract (packages/live-client/test/store-contract.ts, the same cases the memory store
 * passes) run against IndexedDbUnackedStore in Chromium, as published: the package's built dist/ is
 * served to a page of the real server and imported there. Each store call from the contract crosses
 * into the page (bytes as arrays, a RangeError as a RangeError).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before } from 'node:test';
import type { UnackedChunk, UnackedSession, UnackedStore } from '@earshot/live-client';
import type { Page } from 'playwright-core';
import { storeContract } from '../../packages/live-client/test/store-contract.ts';
import { startTestServer, type TestServer } from '../helpers.ts';
import { type BrowserSession, FIXTURES, openBrowserSession } from './browser.ts';

const DIST = path.resolve(import.meta.dirname, '../../packages/live-client/dist');
/** Where the page finds the package's dist/ (served by the test, not the server). */
const PACKAGE_URL = '/__live-client/';

type Call = { store: string; method: keyof UnackedStore; args: unknown[] };
type Outcome = { value: unknown } | { error: string; message: string };

let server: TestServer;
let session: BrowserSession;
let page: Page;

before(async () => {
  // npm ci (the package's prepare script) and npm test build it; without it the page's import would hang.
  if (!existsSync(path.join(DIST, 'index.js'))) {
    throw new Error(`${DIST} is missing: build the package (npm run build -w @earshot/live-client)`);
  }
  server = await startTestServer();
  session = await openBrowserSession(path.join(FIXTURES, 'speech.wav'));
  page = session.page;
  await page.route(`**${PACKAGE_URL}*.js`, async (route) => {
    const file = path.join(DIST, path.basename(new URL(route.request().url()).pathname));
    await route.fulfill({ body: await readFile(file, 'utf8'), contentType: 'text/javascript' });
  });
  await page.goto(server.url);
});

after(async () => {
  await session?.close();
  await server?.close();
});

/** Runs one store method in the page, on the store of that name (made on first use). */
async function callInPage(call: Call): Promise<unknown> {
  const outcome = await page.evaluate(
    async ({ call, moduleUrl }): Promise<Outcome> => {
      const { IndexedDbUnackedStore } = await import(moduleUrl);
      const page = window as unknown as { __stores?: Map<string, UnackedStore> };
      page.__stores ??= new Map();
      const stores = page.__stores;
      if (!stores.has(call.store)) stores.set(call.store, new IndexedDbUnackedStore(call.store));
      // Typed loosely on purpose: the page gets each method's arguments as the contract passed them.
      const store = stores.get(call.store) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      const args =
        call.method === 'append' ? [call.args[0], call.args[1], new Uint8Array(call.args[2] as number[])] : call.args;
      try {
        const value = await store[call.method]!(...args);
        if (call.method !== 'read') return { value };
        return { value: (value as UnackedChunk[]).map((chunk) => ({ offset: chunk.offset, bytes: [...chunk.bytes] })) };
      } catch (error) {
        return { error: (error as Error).name, message: (error as Error).message };
      }
    },
    { call, moduleUrl: `${PACKAGE_URL}indexeddb-store.js` },
  );
  if ('error' in outcome)
    throw outcome.error === 'RangeError' ? new RangeError(outcome.message) : new Error(outcome.message);
  return outcome.value;
}

let databases = 0;

/** A fresh IndexedDB database in the page, behind the UnackedStore interface. */
function storeInPage(): UnackedStore {
  databases += 1;
  const store = `contract-${databases}`;
  const call = (method: keyof UnackedStore, ...args: unknown[]) => callInPage({ store, method, args });
  return {
    append: async (recordingId, offset, bytes) => void (await call('append', recordingId, offset, [...bytes])),
    drop: async (recordingId, upTo) => void (await call('drop', recordingId, upTo)),
    read: async (recordingId, from) =>
      ((await call('read', recordingId, from)) as { offset: number; bytes: number[] }[]).map((chunk) => ({
        offset: chunk.offset,
        bytes: new Uint8Array(chunk.bytes),
      })),
    sessions: async () => (await call('sessions')) as UnackedSession[],
    clear: async (recordingId) => void (await call('clear', recordingId)),
  };
}

storeContract('IndexedDbUnackedStore in Chromium (built dist/)', storeInPage);
