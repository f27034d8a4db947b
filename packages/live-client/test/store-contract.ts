/**
 * What every UnackedStore must do, as node:test cases: run `storeContract(name, makeStore)` for each
 * implementation. The client relies on exactly this: chunks appended at the session's end, dropped up to
 * an acknowledged offset (whole chunks only), read from an offset, listed and cleared per recording.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UnackedStore } from '../src/unacked-store.ts';

const bytes = (...values: number[]): Uint8Array<ArrayBuffer> => new Uint8Array(values);

export function storeContract(name: string, makeStore: () => UnackedStore | Promise<UnackedStore>): void {
  describe(`${name} (UnackedStore contract)`, () => {
    it('reads back what was appended, from any offset, in order', async () => {
      const store = await makeStore();
      await store.append('r1', 0, bytes(1, 2, 3));
      await store.append('r1', 3, bytes(4, 5));
      await store.append('r1', 5, bytes(6));
      const all = await store.read('r1', 0);
      assert.deepEqual(
        all.map((chunk) => [chunk.offset, [...chunk.bytes]]),
        [
          [0, [1, 2, 3]],
          [3, [4, 5]],
          [5, [6]],
        ],
      );
      // From the middle of a chunk: that chunk (whole) and the ones after it.
      assert.deepEqual(
        (await store.read('r1', 4)).map((chunk) => chunk.offset),
        [3, 5],
      );
      assert.deepEqual(await store.read('r1', 6), []);
      assert.deepEqual(await store.read('unknown', 0), []);
    });

    it('drops whole chunks up to an acknowledged offset, keeping a partly acknowledged one', async () => {
      const store = await makeStore();
      await store.append('r1', 0, bytes(1, 2, 3));
      await store.append('r1', 3, bytes(4, 5));
      await store.drop('r1', 4);
      assert.deepEqual(
        (await store.read('r1', 0)).map((chunk) => chunk.offset),
        [3],
      );
      await store.drop('r1', 5);
      assert.deepEqual(await store.read('r1', 0), []);
      // The session remembers where it ends, so the next chunk still follows on.
      const [session] = await store.sessions();
      assert.equal(session?.recordingId, 'r1');
      assert.equal(session?.start, 5);
      assert.equal(session?.end, 5);
      await store.append('r1', 5, bytes(7));
      assert.deepEqual(
        (await store.read('r1', 0)).map((chunk) => [...chunk.bytes]),
        [[7]],
      );
    });

    it('refuses a chunk that would leave a gap or overlap', async () => {
      const store = await makeStore();
      await store.append('r1', 0, bytes(1, 2));
      await assert.rejects(store.append('r1', 3, bytes(3)), RangeError);
      await assert.rejects(store.append('r1', 1, bytes(3)), RangeError);
      assert.equal((await store.sessions())[0]?.end, 2);
    });

    it('a recording first stored after some audio was acknowledged starts at that offset', async () => {
      const store = await makeStore();
      await store.append('r1', 1000, bytes(9));
      assert.deepEqual(
        (await store.sessions()).map(({ start, end }) => ({ start, end })),
        [{ start: 1000, end: 1001 }],
      );
    });

    it('lists sessions per recording and clears one without touching the others', async () => {
      const store = await makeStore();
      const before = Date.now();
      await store.append('r1', 0, bytes(1));
      await store.append('r2', 0, bytes(2, 2));
      const sessions = (await store.sessions()).sort((a, b) => a.recordingId.localeCompare(b.recordingId));
      assert.deepEqual(
        sessions.map(({ recordingId, start, end }) => ({ recordingId, start, end })),
        [
          { recordingId: 'r1', start: 0, end: 1 },
          { recordingId: 'r2', start: 0, end: 2 },
        ],
      );
      assert.ok(sessions.every((session) => session.updatedAt >= before && session.updatedAt <= Date.now()));
      await store.clear('r1');
      assert.deepEqual(
        (await store.sessions()).map((session) => session.recordingId),
        ['r2'],
      );
      assert.deepEqual(await store.read('r1', 0), []);
      assert.equal((await store.read('r2', 0)).length, 1);
    });
  });
}
