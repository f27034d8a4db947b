/**
 * A real HTTP receiver for webhook tests, on a loopback port: it keeps every request it gets (path,
 * headers, raw body) and answers as the test says, per request: a status code, or `hang` (never answer:
 * a timeout for the sender). Tests verify each delivery with the `standardwebhooks` library.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedDelivery {
  path: string;
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The parsed body. */
  payload: any;
  headers: http.IncomingHttpHeaders;
}

export type Answer = number | 'hang';

export interface Receiver {
  /** `http://127.0.0.1:<port>` */
  url: string;
  received: ReceivedDelivery[];
  /** What was received on `path`. */
  at(path: string): ReceivedDelivery[];
  /** How to answer requests to `path` from now on (default 204); `answers` are used in turn, the last one repeats. */
  answer(path: string, ...answers: Answer[]): void;
  close(): Promise<void>;
}

/**
 * The Standard Webhooks check, with the library receivers use and with the documented recipe by hand:
 * throws unless a signature matches `secret`.
 */
export function verify(delivery: ReceivedDelivery, secret: string): unknown {
  const headers = {
    'webhook-id': delivery.id,
    'webhook-timestamp': delivery.timestamp,
    'webhook-signature': delivery.signature,
  };
  const parsed = new Webhook(secret).verify(delivery.body, headers);
  verifyByHand(secret, headers, delivery.body);
  return parsed;
}

/** The raw HMAC recipe of docs/integrations.md ("By hand"), so the documented recipe is tested. */
export function verifyByHand(secret: string, headers: Record<string, string>, body: string): unknown {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key)
    .update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`)
    .digest();
  const fresh = Math.abs(Date.now() / 1000 - Number(headers['webhook-timestamp'])) <= 300;
  const signed = headers['webhook-signature']!.split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    const given = Buffer.from(signature ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!fresh || !signed) throw new Error('not a genuine Earshot webhook');
  return JSON.parse(body);
}

export async function startReceiver(): Promise<Receiver> {
  const received: ReceivedDelivery[] = [];
  const plans = new Map<string, Answer[]>();
  const server = http.createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = request.url ?? '/';
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      payload = undefined;
    }
    received.push({
      path,
      id: String(request.headers['webhook-id'] ?? ''),
      timestamp: String(request.headers['webhook-timestamp'] ?? ''),
      signature: String(request.headers['webhook-signature'] ?? ''),
      body,
      payload,
      headers: request.headers,
    });
    const plan = plans.get(path) ?? [204];
    const answer = plan.length > 1 ? plan.shift()! : plan[0]!;
    if (answer === 'hang') return;
    if (answer >= 300 && answer < 400) response.setHeader('location', '/redirected');
    response.writeHead(answer).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    at: (path) => received.filter((delivery) => delivery.path === path),
    answer: (path, ...answers) => plans.set(path, answers),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
