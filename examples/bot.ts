/**
 * A meeting bot's whole path with `@earshot/live-client` (docs/integrations.md, "A bot's whole path"):
 * record an audio file live, in real-time chunks as a bot hears a meeting, stop, wait until the
 * recording is ready (told by the `recording.ready` webhook, or by polling), ask for its transcript and
 * print it.
 *
 *   EARSHOT_URL=http://127.0.0.1:8000 EARSHOT_KEY=esk_… EARSHOT_ORG_ID=… node examples/bot.ts meeting.wav
 *
 * - EARSHOT_KEY: an API key with the `record` and `read` scopes (docs/integrations.md, API keys), and
 *   EARSHOT_ORG_ID its organisation (`api_key.org_id` in the answer that created it).
 * - The file: a WAV (16-bit PCM: sent as raw PCM, `format: pcm_s16le`) or a file the server recognises
 *   (Ogg/Opus, WebM, MP4: sent as it is), at the pace of its duration (BOT_PACE=10 sends ten times faster).
 * - BOT_WEBHOOK_PORT and EARSHOT_WEBHOOK_SECRET: listen there for the organisation's webhook (an endpoint
 *   registered for http://<this host>:<port>/, with the `whsec_…` secret it was given) instead of polling.
 *
 * It prints one JSON line per step, the last one with the transcript. Node 24 runs it as it is (types
 * are stripped); on Node 20/22 compile it, and pass `WebSocket` from `ws` on Node 20.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { LIVE_PATH, type LiveMetadata, LiveRecordingClient } from '@earshot/live-client';
import { Webhook } from 'standardwebhooks';

const server = required('EARSHOT_URL').replace(/\/$/, '');
const key = required('EARSHOT_KEY');
const orgId = required('EARSHOT_ORG_ID');
const file = process.argv[2] ?? fail('usage: node examples/bot.ts <audio file>');
const pace = Number(process.env.BOT_PACE ?? '1');
const CHUNK_SECONDS = 0.25;

function required(name: string): string {
  return process.env[name] || fail(`${name} is not set`);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const say = (step: string, details: Record<string, unknown> = {}) => console.log(JSON.stringify({ step, ...details }));

async function call(method: string, path: string): Promise<any> {
  const response = await fetch(`${server}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  const body = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** What to send and how fast: a WAV's PCM as raw PCM (its header says the rate), anything else as is. */
function audioOf(bytes: Buffer): { audio: Buffer; format: Partial<LiveMetadata>; bytesPerSecond: number | null } {
  if (bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') {
    return { audio: bytes, format: {}, bytesPerSecond: null };
  }
  const data = bytes.indexOf('data', 12);
  if (data < 0 || bytes.readUInt16LE(20) !== 1 || bytes.readUInt16LE(34) !== 16) fail('only 16-bit PCM WAV files');
  return {
    audio: bytes.subarray(data + 8, data + 8 + bytes.readUInt32LE(data + 4)),
    format: { format: 'pcm_s16le', sample_rate: bytes.readUInt32LE(24), channels: bytes.readUInt16LE(22) },
    bytesPerSecond: bytes.readUInt32LE(28),
  };
}

/** Resolves with the first verified `recording.ready` for this recording that reaches `port`. */
function readyByWebhook(port: number, secret: string, recordingId: () => string | null): Promise<void> {
  const webhook = new Webhook(secret);
  return new Promise((resolve) => {
    const listener = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      try {
        const event = webhook.verify(Buffer.concat(chunks).toString('utf8'), request.headers as Record<string, string>);
        response.writeHead(204).end();
        const { type, data } = event as { type: string; data: { recording?: { id: string } } };
        if (type === 'recording.ready' && data.recording?.id === recordingId()) {
          listener.close();
          resolve();
        }
      } catch {
        response.writeHead(400).end(); // not signed with our secret
      }
    });
    listener.listen(port);
  });
}

async function readyByPolling(recordingId: string): Promise<void> {
  for (;;) {
    const { status } = await call('GET', `/api/recordings/${recordingId}`);
    if (status === 'ready') return;
    if (status === 'failed') throw new Error(`recording ${recordingId} failed`);
    await sleep(500);
  }
}

const { audio, format, bytesPerSecond } = audioOf(await readFile(file));
const client = new LiveRecordingClient({
  url: `${server.replace(/^http/, 'ws')}${LIVE_PATH}`,
  token: key,
  metadata: { name: `Bot recording of ${file.split('/').at(-1)}`, meeting_link: null, org_id: orgId, ...format },
});
client.on('reconnecting', ({ attempt }) => say('reconnecting', { attempt }));

const webhookPort = process.env.BOT_WEBHOOK_PORT;
const ready = webhookPort
  ? readyByWebhook(Number(webhookPort), required('EARSHOT_WEBHOOK_SECRET'), () => client.recordingId)
  : null;

const { recordingId } = await client.start();
say('recording', { recordingId });
// A container's byte rate is unknown here: a 24 kbit/s Opus guess is close enough to look live.
const chunkBytes = Math.max(1, Math.round((bytesPerSecond ?? 3000) * CHUNK_SECONDS));
for (let at = 0; at < audio.length; at += chunkBytes) {
  client.send(audio.subarray(at, at + chunkBytes));
  await sleep((CHUNK_SECONDS * 1000) / pace);
}
const saved = await client.stop();
say('stopped', { ...saved });

if (ready) await ready;
else await readyByPolling(recordingId);
say('ready', { recordingId, by: ready ? 'webhook' : 'polling' });

await call('POST', `/api/recordings/${recordingId}/transcript`);
for (;;) {
  const transcript = await call('GET', `/api/recordings/${recordingId}/transcript`);
  if (transcript.status === 'failed') throw new Error(`transcript failed: ${transcript.error}`);
  if (transcript.status === 'ready') {
    say('transcript', { recordingId, text: transcript.segments.map((s: { text: string }) => s.text.trim()).join(' ') });
    break;
  }
  await sleep(500);
}
