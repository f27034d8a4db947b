import net from 'node:net';
import { ERRORS } from '../src/errors.ts';
import type { TestServer } from './helpers.ts';

export interface RawResponse {
  /** 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection (after answering, or without). */
  closed: boolean;
}

type Bytes = string | Buffer;

/**
 * Writes `request` byte for byte on a fresh TCP connection (what fetch refuses to send: bad framing,
 * a Content-Length the body never reaches, control characters) and reads until the server answers and
 * closes, or `waitMs` passes. Pieces from an async iterable are written as they come (a slow client).
 * The client never ends its side, so a body can stay open.
 */
export function rawRequest(
  server: Pick<TestServer, 'url'>,
  request: Bytes | Bytes[] | AsyncIterable<Bytes>,
  options: { waitMs?: number } = {},
): Promise<RawResponse> {
  const { port } = new URL(server.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parse(Buffer.concat(chunks)), closed });
    };
    const timer = setTimeout(() => finish(false), options.waitMs ?? 10_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    void (async () => {
      const pieces = typeof request === 'string' || Buffer.isBuffer(request) ? [request] : request;
      for await (const piece of pieces) if (!settled) socket.write(piece);
    })();
  });
}

function parse(bytes: Buffer): Omit<RawResponse, 'closed'> {
  const text = bytes.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  if (!text.startsWith('HTTP/1.1 ') || split < 0) return { status: 0, headers: {}, body: text };
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: bytes.subarray(split + 4).toString('utf8') };
}

/** Asserts an error answer has the table's shape, `{error, message}`, with the table's status for `error`. */
export function tableError(status: number, body: unknown, context = ''): { error: string; message: string } {
  const parsed = (typeof body === 'string' ? JSON.parse(body || 'null') : body) as Record<string, unknown> | null;
  const code = parsed?.error;
  if (typeof code !== 'string' || !(code in ERRORS) || typeof parsed?.message !== 'string') {
    throw new Error(`${context}: ${status} without the table's error shape: ${JSON.stringify(body)}`);
  }
  if (ERRORS[code as keyof typeof ERRORS].http !== status) {
    throw new Error(
      `${context}: "${code}" answered with ${status}, the table says ${ERRORS[code as keyof typeof ERRORS].http}`,
    );
  }
  return parsed as { error: string; message: string };
}
