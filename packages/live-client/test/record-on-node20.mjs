/**
 * A whole recording with the built package on Node 20, which has no global WebSocket: the `ws` package's
 * constructor goes in the `WebSocket` option. Plain JavaScript, because Node 20 cannot strip types.
 * test/live-client-node20.test.ts runs it with /usr/bin/node against a real server:
 *
 *   node record-on-node20.mjs <ws url> <access token> <org id> <audio file>
 *
 * Prints one line of JSON: the Node version, whether it had a global WebSocket, and the saved recording.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LIVE_PATH, LiveRecordingClient } from '@earshot/live-client';
import WebSocket from 'ws';

const [url, token, orgId, file] = process.argv.slice(2);
const audio = readFileSync(file);
const client = new LiveRecordingClient({
  url: `${url}${LIVE_PATH}`,
  token,
  metadata: { name: 'from Node 20', meeting_link: null, org_id: orgId },
  WebSocket,
});
await client.start();
for (let at = 0; at < audio.length; at += 4000) {
  client.send(audio.subarray(at, at + 4000));
  await sleep(10);
}
const saved = await client.stop();
console.log(JSON.stringify({ node: process.version, globalWebSocket: typeof globalThis.WebSocket, saved }));
