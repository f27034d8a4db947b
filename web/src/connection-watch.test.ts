import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionWatcher } from './connection-watch.ts';

describe('connection watcher', () => {
  it('is connected while acknowledgements keep up with the chunks', () => {
    const watch = connectionWatcher();
    assert.equal(watch.report(0, true).state, 'connected', 'nothing sent yet');
    for (let t = 0; t < 20_000; t += 500) {
      watch.sent((t / 500 + 1) * 1000, t);
      watch.acked((t / 500) * 1000, t + 400); // each chunk acknowledged within a second
      assert.equal(watch.report(t + 450, true).state, 'connected', `at ${t} ms`);
    }
  });

  it('turns slow, then offline, as the oldest unacknowledged chunk waits; text says audio is kept', () => {
    const watch = connectionWatcher({ slowAfterMs: 4000, offlineAfterMs: 10_000 });
    watch.sent(1000, 0);
    watch.acked(1000, 300);
    // From here on nothing is acknowledged (a browser offline keeps its socket open).
    for (let t = 500; t <= 12_000; t += 500) watch.sent(1000 + t * 2, t);
    assert.equal(watch.report(4400, true).state, 'connected', 'the oldest waits 3.9 s');
    const slow = watch.report(4500, true);
    assert.equal(slow.state, 'slow');
    assert.match(slow.text, /slow.*kept in this browser/);
    const offline = watch.report(10_500, true);
    assert.equal(offline.state, 'offline');
    assert.match(offline.text, /Connection lost: audio is kept in this browser until the connection returns/);
    assert.equal(offline.waitingMs, 10_000);
    assert.equal(offline.unconfirmedBytes, 1000 + 12_000 * 2 - 1000);
  });

  it('is connected again once the server has caught up after a reconnect', () => {
    const watch = connectionWatcher();
    for (let t = 0; t <= 15_000; t += 500) watch.sent(t + 500, t);
    assert.equal(watch.report(15_000, true).state, 'offline');
    watch.acked(10_000, 15_100); // the resumed session acknowledges part of the backlog
    assert.equal(watch.report(15_100, true).state, 'slow', 'what is left has waited 5.1 s');
    watch.acked(15_500, 15_200);
    const report = watch.report(15_200, true);
    assert.deepEqual([report.state, report.unconfirmedBytes, report.waitingMs], ['connected', 0, 0]);
  });

  it('believes the browser when it says it is offline, before any chunk has had time to wait', () => {
    const watch = connectionWatcher();
    watch.sent(500, 0);
    assert.equal(watch.report(100, false).state, 'offline');
    assert.equal(watch.report(200, true).state, 'connected');
  });

  it('ignores acknowledgements that go backwards and chunks it already counted', () => {
    const watch = connectionWatcher({ slowAfterMs: 1000, offlineAfterMs: 2000 });
    watch.sent(100, 0);
    watch.sent(200, 100);
    watch.acked(200, 150);
    watch.acked(50, 160);
    watch.sent(200, 170); // the same offset again (a resend) is not a new chunk
    const report = watch.report(5000, true);
    assert.deepEqual([report.state, report.unconfirmedBytes], ['connected', 0]);
  });
});
