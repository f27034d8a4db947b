import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { eventually } from './helpers.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/** An echo server that also counts the bytes it received, so a test can see what got through. */
async function startEchoServer(): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      received += chunk.length;
      socket.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    received: () => received,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client connection that collects what it reads and how it ended. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let text = '';
  let error: NodeJS.ErrnoException | undefined;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  socket.on('error', (caught) => {
    error = caught;
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await once(socket, 'connect');
  return { socket, text: () => text, error: () => error, closed };
}

describe('tcp proxy', () => {
  let echo: Awaited<ReturnType<typeof startEchoServer>>;
  let proxy: TcpProxy;
  before(async () => {
    echo = await startEchoServer();
    proxy = await startTcpProxy({ host: '127.0.0.1', port: echo.port });
  });
  after(async () => {
    await proxy.close();
    await echo.close();
  });

  it('forwards bytes both ways on each connection', async () => {
    const a = await connect(proxy.port);
    const b = await connect(proxy.port);
    a.socket.write('hello');
    b.socket.write('world');
    await eventually(() => assert.deepEqual([a.text(), b.text()], ['hello', 'world']));
    a.socket.destroy();
    b.socket.destroy();
  });

  it('cut resets open connections and new ones until restore', async () => {
    const open = await connect(proxy.port);
    proxy.cut();
    await open.closed;
    assert.equal(open.error()?.code, 'ECONNRESET');

    const during = net.connect(proxy.port, '127.0.0.1');
    const [failure] = (await once(during, 'error')) as [NodeJS.ErrnoException];
    assert.equal(failure.code, 'ECONNRESET');

    proxy.restore();
    const later = await connect(proxy.port);
    later.socket.write('back');
    await eventually(() => assert.equal(later.text(), 'back'));
    later.socket.destroy();
  });

  it('freeze holds every byte, on open and new connections, until thaw', async () => {
    const open = await connect(proxy.port);
    open.socket.write('one');
    await eventually(() => assert.equal(open.text(), 'one'));
    const receivedBefore = echo.received();

    proxy.freeze();
    open.socket.write('two');
    // A new connection is accepted (the port answers) but moves nothing either.
    const fresh = await connect(proxy.port);
    fresh.socket.write('three');
    // Nothing can be seen to "not happen" without waiting a little; a broken freeze shows up at once.
    await sleep(300);
    assert.equal(echo.received(), receivedBefore, 'the target received nothing while frozen');
    assert.equal(open.text(), 'one');
    assert.equal(fresh.text(), '');
    assert.equal(open.error(), undefined);

    proxy.thaw();
    await eventually(() => assert.deepEqual([open.text(), fresh.text()], ['onetwo', 'three']));
    open.socket.destroy();
    fresh.socket.destroy();
  });

  it('close stops listening and ends open connections', async () => {
    const spare = await startTcpProxy({ host: '127.0.0.1', port: echo.port });
    const open = await connect(spare.port);
    await spare.close();
    await open.closed;
    const refused = net.connect(spare.port, '127.0.0.1');
    const [failure] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(failure.code, 'ECONNREFUSED');
  });
});
