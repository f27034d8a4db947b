import net from 'node:net';

/**
 * A TCP proxy on a loopback port that can fail on demand, for tests of what a server does when a
 * peer (a database, another node) goes away or stops answering:
 *
 * - `cut()` resets every open connection now (RST, so the client sees ECONNRESET) and resets every new
 *   one as soon as it is accepted, until `restore()`: a crashed or unreachable peer.
 * - `freeze()` stops moving bytes in both directions; connections stay open and new ones are accepted,
 *   but nothing is forwarded until `thaw()`: a peer that hangs, or a network that drops packets.
 *
 * The two are independent: a connection accepted while frozen is forwarded once thawed.
 */
export interface TcpProxy {
  /** The loopback port clients connect to (the proxy listens on 127.0.0.1). */
  readonly port: number;
  cut(): void;
  restore(): void;
  freeze(): void;
  thaw(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/**
 * Closes with an RST, so the peer sees ECONNRESET rather than an orderly end. A socket that already
 * sent its FIN is only destroyed: on Node 24, resetAndDestroy() after end() leaves the event loop
 * spinning and the process never exits (seen while writing this proxy).
 */
function reset(socket: net.Socket): void {
  if (socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const links = new Set<Link>();
  let isCut = false;
  let isFrozen = false;

  const each = (fn: (socket: net.Socket) => void) => {
    for (const link of links) {
      fn(link.client);
      fn(link.upstream);
    }
  };

  /** Copies `from` into `to`, honouring backpressure; a paused socket (frozen) emits nothing. */
  const forward = (from: net.Socket, to: net.Socket) => {
    from.on('data', (chunk) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => {
          if (!isFrozen) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  };

  const server = net.createServer((client) => {
    // Errors (ECONNRESET and the like) are the point of this proxy; closing is handled by 'close'.
    client.on('error', () => {});
    if (isCut) {
      reset(client);
      return;
    }
    const upstream = net.connect(target);
    upstream.on('error', () => {});
    const link = { client, upstream };
    links.add(link);
    forward(client, upstream);
    forward(upstream, client);
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    // Events are delivered asynchronously, so pausing now (same tick) lets no byte through.
    if (isFrozen) {
      client.pause();
      upstream.pause();
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('tcp proxy has no TCP address');

  return {
    port: address.port,
    cut() {
      isCut = true;
      each(reset);
    },
    restore() {
      isCut = false;
    },
    freeze() {
      isFrozen = true;
      each((socket) => {
        socket.pause();
      });
    },
    thaw() {
      isFrozen = false;
      each((socket) => {
        socket.resume();
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      each((socket) => {
        socket.destroy();
      });
      await closed;
    },
  };
}
