import { createServer } from 'node:net';

/**
 * A loopback port nobody listens on now (for a process the caller starts). Another process may take it
 * before the caller binds it: callers that cannot tell check who answers (test/cluster/cluster.ts).
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}
