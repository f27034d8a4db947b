/** Helpers for the live recording suites: a raw `ws` client that records everything it receives. */
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { TestServer, TestUser } from './helpers.ts';
import { longSpeech } from './speech.ts';

export { waitForRecording } from './helpers.ts';
export { decodedSeconds, FIXTURES } from './speech.ts';

/** Opus speech of `seconds` in a streaming container (see speech.ts). */
export const longFixture = (format: 'webm' | 'ogg' | 'mp4', seconds: number) => longSpeech({ format, seconds });

export interface LiveClient {
  ws: WebSocket;
  /** Every JSON message received, in order. */
  messages: any[];
  /** Waits for the next message matching `predicate` (searching already-received ones first). */
  next(predicate?: (message: any) => boolean, timeoutMs?: number): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
  send(data: string | Buffer | object): void;
}

export function openSocket(server: Pick<TestServer, 'wsUrl'>, headers: Record<string, string> = {}): LiveClient {
  const ws = new WebSocket(`${server.wsUrl}/api/ws/record`, { headers });
  const messages: any[] = [];
  let consumed = 0;
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    messages.push(isBinary ? data : JSON.parse(String(data)));
    for (const wake of waiters) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters) wake();
    });
  });
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  return {
    ws,
    messages,
    closed,
    async next(predicate = () => true, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (let i = consumed; i < messages.length; i++) {
          if (predicate(messages[i])) {
            consumed = i + 1;
            return messages[i];
          }
        }
        if (ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed; got ${JSON.stringify(messages)}`);
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, Math.max(1, deadline - Date.now()));
          waiters.add(wake);
        });
      }
    },
    send(data) {
      const payload = typeof data === 'string' || Buffer.isBuffer(data) ? data : JSON.stringify(data);
      if (ws.readyState === WebSocket.CONNECTING) void opened.then(() => ws.send(payload));
      else ws.send(payload);
    },
  };
}

/** Token → authenticated → metadata → recording_started. */
export async function startRecording(
  server: Pick<TestServer, 'wsUrl'>,
  user: TestUser,
  meta: Record<string, unknown> = {},
): Promise<{ client: LiveClient; recordingId: string; started: any }> {
  const client = openSocket(server);
  client.send({ token: user.token });
  await client.next((m) => m.status === 'authenticated');
  client.send({ name: 'Standup', meeting_link: 'https://meet.example.com/abc-defg-hij', org_id: user.orgId, ...meta });
  const started = await client.next((m) => m.status === 'recording_started');
  return { client, recordingId: started.recording_id, started };
}

/** Sends `bytes` in chunks; `bytesPerSecond` paces it (undefined: as fast as possible). */
export async function sendAudio(
  client: LiveClient,
  bytes: Buffer,
  options: { chunkBytes?: number; bytesPerSecond?: number; from?: number; to?: number } = {},
): Promise<void> {
  const chunk = options.chunkBytes ?? 4096;
  const end = options.to ?? bytes.length;
  for (let offset = options.from ?? 0; offset < end; offset += chunk) {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    client.send(bytes.subarray(offset, Math.min(end, offset + chunk)));
    if (options.bytesPerSecond) await sleep((chunk / options.bytesPerSecond) * 1000);
  }
}

/** Downloads the audio and probes it with the ffprobe CLI (an independent check of the server's facts). */
export async function probeAudio(
  server: Pick<TestServer, 'url'>,
  user: TestUser,
  id: string,
): Promise<{ format: string; codec: string; sampleRate: number; channels: number; duration: number }> {
  const res = await fetch(`${server.url}/api/recordings/${id}/audio`, {
    headers: { authorization: `Bearer ${user.token}` },
  });
  if (res.status !== 200) throw new Error(`download failed: ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const file = path.join(tmpdir(), `earshot-probe-${id}.ogg`);
  writeFileSync(file, bytes);
  const out = execFileSync('ffprobe', [
    '-v',
    'error',
    '-show_entries',
    'format=format_name,duration:stream=codec_name,channels',
    '-of',
    'json',
    file,
  ]);
  rmSync(file, { force: true });
  const info = JSON.parse(String(out));
  // Opus always decodes at 48 kHz; the encoder's input rate (16 kHz) is in the OpusHead header, byte 12.
  const head = bytes.indexOf('OpusHead');
  return {
    format: info.format.format_name,
    codec: info.streams[0].codec_name,
    sampleRate: head >= 0 ? bytes.readUInt32LE(head + 12) : 0,
    channels: info.streams[0].channels,
    duration: Number(info.format.duration),
  };
}

/**
 * A longer input than the 5 s fixtures, made once per machine with the ffmpeg CLI (a fixture
 * generator only; the server never runs ffmpeg). `format` is the muxer: webm, ogg or mp4 (fragmented).
 */
/** Duration of a media file per the ffprobe CLI. */
export function durationOf(bytes: Buffer): number {
  const file = path.join(tmpdir(), `earshot-dur-${process.pid}-${Date.now()}`);
  writeFileSync(file, bytes);
  try {
    return Number(
      String(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file])),
    );
  } finally {
    rmSync(file, { force: true });
  }
}
