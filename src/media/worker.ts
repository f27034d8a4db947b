/**
 * Media worker process entry (forked by pool.ts). All FFmpeg work on untrusted bytes happens here, so a
 * decoder crash or hang takes down this process, not the API. One file job (normalize, probe,
 * transcribe) runs at a time, in slices that yield to the event loop so live sessions pinned here keep
 * flowing.
 */
import { rmSync } from 'node:fs';
import { AV_LOG_FATAL } from 'node-av/constants';
import { Log } from 'node-av/lib';
import { LiveSession } from './live-session.ts';
import type { Reply, Request } from './protocol.ts';
import { toWire } from './protocol.ts';
import { probeFile, transcodeFile } from './transcode-file.ts';
import { transcribeWithWhisper } from './whisper.ts';

if (!process.send) throw new Error('media worker must be started with child_process.fork');
// FFmpeg's complaints about damaged or hostile input would flood the server log (any uploader can
// trigger them); failures reach the caller as AppErrors with a clear message instead.
Log.setLevel(AV_LOG_FATAL);

const send = (msg: Reply): void => {
  process.send?.(msg);
};
const sessions = new Map<number, LiveSession>();
const cancelled = new Set<number>();
const PROGRESS_INTERVAL_MS = 250;

async function handle(msg: Request): Promise<Reply> {
  switch (msg.type) {
    case 'normalize': {
      let last = 0;
      await transcodeFile(msg.input, msg.output, msg.limits, msg.encoder, {
        progress: (fraction) => {
          const now = Date.now();
          if (now - last < PROGRESS_INTERVAL_MS) return;
          last = now;
          send({ type: 'progress', id: msg.id, fraction });
        },
        cancelled: () => cancelled.has(msg.id),
        ...(msg.pcm ? { pcm: msg.pcm } : {}),
      }).catch((err: unknown) => {
        rmSync(msg.output, { force: true }); // no half-written recording left behind
        throw err;
      });
      return { type: 'done', id: msg.id, result: probeFile(msg.output, msg.limits) };
    }
    case 'probe':
      return { type: 'done', id: msg.id, result: probeFile(msg.path, msg.limits) };
    case 'transcribe':
      return { type: 'done', id: msg.id, result: await transcribeWithWhisper(msg.job, () => cancelled.has(msg.id)) };
    case 'cancel':
      cancelled.add(msg.target);
      return { type: 'done', id: msg.id };
    case 'live-open':
      sessions.set(
        msg.sid,
        new LiveSession(msg.output, msg.input, msg.limits.maxDurationSec, msg.encoder, msg.pace, msg.pcm),
      );
      return { type: 'done', id: msg.id };
    case 'live-advance':
      await session(msg.sid).advance(msg.bytes);
      return { type: 'done', id: msg.id };
    case 'live-finish': {
      const s = session(msg.sid);
      try {
        await s.finish();
      } finally {
        sessions.delete(msg.sid);
      }
      // The output is our own file: probing it reports what was actually written.
      return {
        type: 'done',
        id: msg.id,
        result: probeFile(s.outputPath, { maxDurationSec: Infinity, maxProbeBytes: 1 << 20 }),
      };
    }
    case 'live-abort':
      await sessions.get(msg.sid)?.abort();
      sessions.delete(msg.sid);
      return { type: 'done', id: msg.id };
  }
}

function session(sid: number): LiveSession {
  const s = sessions.get(sid);
  if (!s) throw new Error(`unknown live session ${sid}`);
  return s;
}

process.on('message', (msg: Request) => {
  handle(msg)
    .then(
      (reply) => send(reply),
      (err: unknown) => send({ type: 'error', id: msg.id, error: toWire(err) }),
    )
    .finally(() => {
      if (msg.type === 'normalize' || msg.type === 'transcribe') cancelled.delete(msg.id);
    });
});
// The parent going away (crash, SIGKILL) closes the IPC channel: don't linger as an orphan. Not
// process.exit(): native work parked in a libuv pool thread can deadlock the normal exit path (seen
// with an earlier live demuxer that read through async JS callbacks: orphans stuck in futex waits). Nothing
// here needs a clean shutdown (the parent is gone, output files are already on disk), so die at once.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
send({ type: 'ready' });
