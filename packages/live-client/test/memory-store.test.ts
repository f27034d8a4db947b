import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryUnackedStore } from '../src/unacked-store.ts';
import { storeContract } from './store-contract.ts';

storeContract('MemoryUnackedStore', () => new MemoryUnackedStore());

describe('MemoryUnackedStore', () => {
  it('keeps the buffers it is given (no copy: the client already gave it its own)', async () => {
    const store = new MemoryUnackedStore();
    const chunk = new Uint8Array([1, 2, 3]);
    await store.append('r1', 0, chunk);
    assert.equal((await store.read('r1', 0))[0]?.bytes, chunk);
  });

  it('stores are independent of each other', async () => {
    const one = new MemoryUnackedStore();
    await one.append('r1', 0, new Uint8Array([1]));
    assert.deepEqual(await new MemoryUnackedStore().sessions(), []);
  });
});
