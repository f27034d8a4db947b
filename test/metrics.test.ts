/**
 * GET /metrics: off without METRICS_TOKEN, refused without the token, and in Prometheus' text format
 * with it; the numbers move when an upload is processed, a live session records and a media worker dies.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, eventually, registerUser, startTestServer, type TestServer, type TestUser } from './helpers.ts';
import { FIXTURES, sendAudio, startRecording, waitForRecording } from './live-helpers.ts';

const TOKEN = 'metrics-token-0123456789abcdef0123456789';

/** The value of one sample of Prometheus' text format (labels in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe('metrics', () => {
  let server: TestServer;
  let user: TestUser;

  const scrape = async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    return res.text();
  };

  before(async () => {
    server = await startTestServer({ env: { METRICS_TOKEN: TOKEN } });
    user = await registerUser(server);
  });
  after(() => server.close());

  it('refuses a scrape without the token, or with another, as the error table says', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer not-the-token' },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      const res = await api(server, 'GET', '/metrics', { headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.body.error, 'unauthenticated');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    }
  });

  it('answers the token in Prometheus’ text format, with every metric named', async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      'earshot_http_request_duration_seconds',
      'earshot_live_sessions_open',
      'earshot_live_recordings_open',
      'earshot_live_received_bytes_total',
      'earshot_live_ack_latency_seconds',
      'earshot_live_uncommitted_bytes',
      'earshot_queue_jobs',
      'earshot_queue_wait_seconds',
      'earshot_transcode_realtime_factor',
      'earshot_media_worker_restarts_total',
      'earshot_object_store_requests_total',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.equal(sample(text, 'earshot_queue_jobs', { state: 'queued' }), 0);
    // No node id on any series: Prometheus labels each scrape with its instance.
    assert.doesNotMatch(text, new RegExp(server.config.nodeId));
  });

  it('times requests by route pattern and status, never by raw URL', async () => {
    await api(server, 'GET', '/api/recordings/no-such-recording', { token: user.token });
    const text = await scrape();
    const labels = { method: 'GET', route: '/api/recordings/:id', status_code: '404' };
    assert.ok((sample(text, 'earshot_http_request_duration_seconds_count', labels) ?? 0) >= 1);
    assert.doesNotMatch(text, /no-such-recording/);
  });

  it('counts an upload: its queue wait, its real-time factor, its object-store writes', async () => {
    const before = await scrape();
    const form = new FormData();
    form.append('file', new Blob([await readFile(path.join(FIXTURES, 'speech.ogg'))]), 'speech.ogg');
    const uploaded = await api(server, 'POST', '/api/recordings/upload', { token: user.token, body: form });
    assert.ok([201, 202].includes(uploaded.status), JSON.stringify(uploaded.body));
    await waitForRecording(server, user, uploaded.body.id);
    const text = await scrape();
    const moved = (name: string, labels: Record<string, string> = {}) =>
      (sample(text, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
    assert.equal(moved('earshot_queue_wait_seconds_count', { kind: 'process' }), 1);
    assert.equal(moved('earshot_transcode_realtime_factor_count'), 1);
    assert.ok((sample(text, 'earshot_transcode_realtime_factor_sum') ?? 0) > 0);
    assert.ok(moved('earshot_object_store_requests_total', { operation: 'put', outcome: 'ok' }) >= 2);
    const route = { method: 'POST', route: '/api/recordings/upload', status_code: String(uploaded.status) };
    assert.equal(moved('earshot_http_request_duration_seconds_count', route), 1);
  });

  it('follows a live session: open, bytes received, acknowledged, then closed', async () => {
    const audio = await readFile(path.join(FIXTURES, 'speech.webm'));
    const before = await scrape();
    const { client, recordingId } = await startRecording(server, user, { ack: true });
    await sendAudio(client, audio);
    await client.next((m) => m.status === 'ack' && m.bytes === audio.length);
    const during = await scrape();
    assert.equal(sample(during, 'earshot_live_sessions_open'), 1);
    assert.equal(sample(during, 'earshot_live_recordings_open'), 1);
    const received = sample(during, 'earshot_live_received_bytes_total') ?? 0;
    assert.equal(received - (sample(before, 'earshot_live_received_bytes_total') ?? 0), audio.length);
    const acked = sample(during, 'earshot_live_ack_latency_seconds_count') ?? 0;
    assert.ok(acked >= 1, `${acked} chunks acknowledged`);
    assert.ok(acked <= Math.ceil(audio.length / 4096), 'one observation per chunk at most');

    client.send({ action: 'stop' });
    await client.next((m) => m.status === 'recording_saved');
    await client.closed;
    await waitForRecording(server, user, recordingId);
    await eventually(async () => {
      const text = await scrape();
      assert.equal(sample(text, 'earshot_live_sessions_open'), 0);
      assert.equal(sample(text, 'earshot_live_recordings_open'), 0);
      assert.equal(sample(text, 'earshot_live_uncommitted_bytes'), 0);
    });
  });

  it('counts a media worker that died and was replaced', async () => {
    // The server runs in this process: its media workers are this process's children.
    const workers = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('media/worker.ts'))
      .map((line) => Number.parseInt(line, 10));
    assert.ok(workers.length >= 1, 'no media worker found');
    const before = sample(await scrape(), 'earshot_media_worker_restarts_total') ?? 0;
    process.kill(workers[0]!, 'SIGKILL');
    await eventually(async () => {
      assert.equal(sample(await scrape(), 'earshot_media_worker_restarts_total'), before + 1);
    });
  });
});

describe('metrics without METRICS_TOKEN', () => {
  it('are off, and say how to turn them on', async () => {
    const server = await startTestServer();
    try {
      const res = await api(server, 'GET', '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 404);
      assert.equal(res.body.error, 'not_found');
      assert.match(res.body.message, /METRICS_TOKEN/);
    } finally {
      await server.close();
    }
  });
});
