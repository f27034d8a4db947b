import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AckLatency } from './ack-latency.ts';

describe('ack latency', () => {
  /** An AckLatency on a clock the test moves, and what it observed (in ms). */
  function tracker() {
    let now = 0;
    const observed: number[] = [];
    const acks = new AckLatency(
      (seconds) => observed.push(Math.round(seconds * 1000)),
      () => now,
    );
    return { acks, observed, at: (ms: number) => (now = ms) };
  }

  it('times each chunk from its arrival to the first ack that covers its last byte', () => {
    const { acks, observed, at } = tracker();
    at(0);
    acks.received(100);
    at(50);
    acks.received(200);
    at(120);
    acks.acknowledged(150); // the first chunk only
    assert.deepEqual(observed, [120]);
    at(200);
    acks.acknowledged(200);
    acks.acknowledged(200); // a repeated ack settles nothing more
    assert.deepEqual(observed, [120, 150]);
  });

  it('forgets chunks past a log cut back to its durable length', () => {
    const { acks, observed, at } = tracker();
    at(0);
    acks.received(100);
    acks.received(300); // lost: the disk failed
    at(1000);
    acks.received(250); // resumed from the durable 100
    at(1100);
    acks.acknowledged(250);
    assert.deepEqual(observed, [100]);
  });
});
