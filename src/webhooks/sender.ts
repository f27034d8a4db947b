/**
 * One delivery attempt: an HTTP POST of the signed body, to the addresses the guard checked, within
 * one time limit from the DNS lookup to the response's status line. A receiver that accepts the
 * connection and never answers is a failed attempt like any other. Redirects are not followed (node:http
 * never does): a 3xx is an answer like any other non-2xx, so a URL cannot bounce a delivery to a
 * private address. The response body is not read: only the status counts.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { AddressGuard, ResolvedAddress } from './address-guard.ts';

export type AttemptResult =
  | { kind: 'response'; statusCode: number; durationMs: number }
  /** The guard refused the target's address (retrying will not help). */
  | { kind: 'refused'; error: string; durationMs: number }
  /** No answer: DNS, connection, TLS or the time limit. */
  | { kind: 'error'; error: string; durationMs: number };

export interface SendRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Aborts the attempt (the server is shutting down). */
  signal: AbortSignal;
}

export type Sender = (request: SendRequest) => Promise<AttemptResult>;

const USER_AGENT = 'Earshot-Webhooks/1';

/** Answers every lookup with the checked addresses: the connection cannot go anywhere a second lookup says. */
const pinned =
  (addresses: ResolvedAddress[]): LookupFunction =>
  (_hostname, options, callback) => {
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

function post(target: URL, addresses: ResolvedAddress[], request: SendRequest, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = target.protocol === 'https:' ? https : http;
    const outgoing = client.request(
      {
        method: 'POST',
        protocol: target.protocol,
        // node:http wants IPv6 literals without brackets (it adds them back in the Host header).
        hostname: target.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: target.port || undefined,
        path: `${target.pathname}${target.search}`,
        headers: {
          ...request.headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(request.body)),
          'user-agent': USER_AGENT,
        },
        // A connection of its own: nothing pooled from another attempt, possibly to another address.
        agent: false,
        lookup: pinned(addresses),
        signal,
      },
      (response) => {
        resolve(response.statusCode ?? 0);
        response.destroy();
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

export function createSender(options: { guard: AddressGuard; timeoutMs: number }): Sender {
  const { guard, timeoutMs } = options;
  return async (request) => {
    const started = performance.now();
    const durationMs = () => Math.round(performance.now() - started);
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([request.signal, timeout]);
    try {
      const target = new URL(request.url);
      const resolution = await Promise.race([guard.resolve(target.hostname), rejectOnAbort(signal)]);
      if (!resolution.ok) {
        return {
          kind: resolution.kind === 'refused' ? 'refused' : 'error',
          error: resolution.reason,
          durationMs: durationMs(),
        };
      }
      const statusCode = await post(target, resolution.addresses, request, signal);
      return { kind: 'response', statusCode, durationMs: durationMs() };
    } catch (error) {
      const why = timeout.aborted
        ? `no response within ${timeoutMs / 1000} s`
        : error instanceof Error
          ? error.message
          : String(error);
      return { kind: 'error', error: why, durationMs: durationMs() };
    }
  };
}
