/**
 * Live recording service: the registry of live recordings and connections, starting and resuming
 * recordings, crash recovery at start and graceful shutdown.
 *
 * Single-instance by design: live recordings are held in this process. On start, recordings the
 * database still has as `receiving` were cut by a crash; they are made resumable again for the grace
 * period (raw log only: the live transcoder died with the process), then re-transcoded from their raw
 * log. A client that kept its unacknowledged audio can therefore resume across a server restart.
 */
import { existsSync } from 'node:fs';
import type { TokenService } from '../auth/tokens.ts';
import type { Config } from '../config.ts';
import { AppError, isAppError } from '../errors.ts';
import type { LiveTranscoder, MediaEngine } from '../media/types.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { RecordingsRepo } from '../recordings/recordings.repo.ts';
import type { Spool } from '../storage/spool.ts';
import { LiveRecording, type LiveRecordingDeps, type RecordingSink } from './live-recording.ts';
import { CloseCode, filenameFor, type ResumeMessage, type StartMessage } from './protocol.ts';
import { type AttachedClient, LiveSession, type Transport } from './session.ts';

export const RAW_LOG_FILE = 'input';
export const LIVE_OGG_FILE = 'live.ogg';
/** Re-transcodes from raw logs (fallback, recovery) run at most this many at a time. */
const FALLBACK_CONCURRENCY = 2;

export interface LiveLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LiveServiceDeps {
  live: Config['live'];
  maxDurationSec: number;
  tokens: Pick<TokenService, 'validateAccessToken'>;
  orgAccess: Pick<OrgAccess, 'require' | 'personalOrgId'>;
  repo: Pick<RecordingsRepo, 'create' | 'get' | 'update' | 'byStatus'>;
  recordings: RecordingSink;
  media: Pick<MediaEngine, 'openLive'>;
  spool: Spool;
  log: LiveLogger;
}

export interface LiveService {
  /** A new connection: returns the session the route feeds frames to. */
  connect(transport: Transport): LiveSession;
  /** Makes recordings cut by a crash resumable, then finalises them after the grace period. */
  recover(): Promise<number>;
  /** Saves every live recording and closes every connection with 1001. */
  shutdown(): Promise<void>;
  stats(): { connections: number; recordings: number };
}

export function createLiveService(deps: LiveServiceDeps): LiveService {
  const { live, log } = deps;
  const recordings = new Map<string, LiveRecording>();
  const sessions = new Set<LiveSession>();
  /** Per user: recordings being created right now, so racing starts cannot pass the limit together. */
  const starting = new Map<string, number>();
  let closing = false;
  const fallbackSlot = limiter(FALLBACK_CONCURRENCY);

  const recordingDeps: LiveRecordingDeps = {
    sink: deps.recordings,
    load: (id) => deps.repo.get(id),
    saveReceived: (id, bytes) => deps.repo.update(id, { received_bytes: bytes }),
    fallbackSlot,
    cleanup: (id) => deps.spool.remove(id),
    onFinished: (recording) => {
      if (recordings.get(recording.id) === recording) recordings.delete(recording.id);
    },
    log,
  };

  const sessionsOf = (userId: string) =>
    [...recordings.values()].filter((r) => r.userId === userId && r.live).length + (starting.get(userId) ?? 0);

  function refuseWhileClosing(): void {
    if (closing) throw new AppError('busy', 'the server is shutting down; reconnect in a moment');
  }

  async function start(userId: string, message: StartMessage, client: AttachedClient) {
    refuseWhileClosing();
    if (sessionsOf(userId) >= live.maxSessionsPerUser) {
      throw new AppError('too_many_sessions', `at most ${live.maxSessionsPerUser} live recordings at a time per user`);
    }
    starting.set(userId, (starting.get(userId) ?? 0) + 1);
    try {
      const orgId = message.org_id ?? (await deps.orgAccess.personalOrgId(userId));
      try {
        await deps.orgAccess.require(userId, orgId);
      } catch (error) {
        // The seed protocol answers every metadata problem with 1008, a foreign org included.
        if (isAppError(error) && error.code === 'not_found') {
          throw new AppError('forbidden', 'no such organisation, or you are not a member of it');
        }
        throw error;
      }
      const name = message.name || `Live recording ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`;
      const row = await deps.repo.create({
        orgId,
        userId,
        name,
        source: 'live',
        status: 'receiving',
        meetingLink: message.meeting_link,
      });
      let recording: LiveRecording;
      try {
        await deps.spool.dirFor(row.id);
        const transcoder = deps.media.openLive(
          deps.spool.pathFor(row.id, LIVE_OGG_FILE),
          deps.spool.pathFor(row.id, RAW_LOG_FILE),
        );
        transcoder.catch(() => {}); // handled (logged, fallback) by the recording
        recording = await open(row.id, userId, transcoder, live.maxRecordingBytes, deps.maxDurationSec * 1000);
      } catch (error) {
        await deps.recordings.fail(row.id, 'the live session could not be set up').catch(() => {});
        throw error;
      }
      recordings.set(row.id, recording);
      recording.attach(client);
      return { handle: recording, filename: filenameFor(row.id) };
    } finally {
      const left = (starting.get(userId) ?? 1) - 1;
      if (left > 0) starting.set(userId, left);
      else starting.delete(userId);
    }
  }

  async function resume(userId: string, message: ResumeMessage, client: AttachedClient) {
    refuseWhileClosing();
    const recording = recordings.get(message.resume);
    // Someone else's recording looks exactly like a missing one: ids cannot be probed.
    if (!recording || recording.userId !== userId || !recording.live) {
      throw new AppError('not_found', 'no live recording with this id to resume');
    }
    recording.attach(client);
    return { handle: recording, bytes: recording.bytes, durable: recording.durableBytes };
  }

  function open(
    id: string,
    userId: string,
    transcoder: Promise<LiveTranscoder> | null,
    maxBytes: number,
    maxDurationMs: number,
  ): Promise<LiveRecording> {
    return LiveRecording.open(
      {
        id,
        userId,
        rawLogPath: deps.spool.pathFor(id, RAW_LOG_FILE),
        oggPath: deps.spool.pathFor(id, LIVE_OGG_FILE),
        fsyncIntervalMs: live.fsyncIntervalMs,
        resumeGraceMs: live.resumeGraceMs,
        maxBytes,
        maxDurationMs,
        transcoder,
      },
      recordingDeps,
    );
  }

  return {
    connect(transport) {
      if (closing) {
        transport.close(CloseCode.goingAway, 'server shutting down');
      }
      const session: LiveSession = new LiveSession(transport, {
        handshakeTimeoutMs: live.handshakeTimeoutMs,
        idleTimeoutMs: live.idleTimeoutMs,
        maxTextFrameBytes: live.maxTextFrameBytes,
        authenticate: async (token) => (await deps.tokens.validateAccessToken(token)).userId,
        start,
        resume,
        onError: (error, context) => log.error({ err: error }, context),
        onClosed: () => sessions.delete(session),
      });
      if (closing) session.onClose(1001);
      else sessions.add(session);
      return session;
    },

    async recover() {
      const rows = await deps.repo.byStatus(['receiving'], 'live');
      let recovered = 0;
      for (const row of rows) {
        if (recordings.has(row.id)) continue;
        const rawLogPath = deps.spool.pathFor(row.id, RAW_LOG_FILE);
        if (!existsSync(rawLogPath)) {
          await deps.recordings.fail(row.id, 'the server stopped before any audio was stored');
          continue;
        }
        const elapsedMs = Date.now() - Date.parse(row.created_at);
        const maxDurationMs = Math.max(1000, deps.maxDurationSec * 1000 - elapsedMs);
        const recording = await open(row.id, row.user_id, null, live.maxRecordingBytes, maxDurationMs);
        recordings.set(row.id, recording);
        recording.startGrace();
        recovered += 1;
        log.info(
          { recordingId: row.id, bytes: recording.bytes },
          'live recording cut by a restart: resumable for the grace period',
        );
      }
      // Cut while re-transcoding from the raw log (the recordings service leaves live ones to us).
      for (const row of await deps.repo.byStatus(['processing'], 'live')) {
        const rawLogPath = deps.spool.pathFor(row.id, RAW_LOG_FILE);
        if (!existsSync(rawLogPath)) {
          await deps.recordings.fail(row.id, 'the server stopped while processing and the audio was lost');
          continue;
        }
        void fallbackSlot(() => deps.recordings.processInput(row.id, rawLogPath)).catch((error: unknown) =>
          log.error({ err: error, recordingId: row.id }, 'reprocessing a live recording failed'),
        );
        recovered += 1;
      }
      return recovered;
    },

    async shutdown() {
      closing = true;
      for (const session of sessions) session.goingAway();
      await Promise.allSettled(
        [...recordings.values()].map((recording) =>
          recording.end({ code: CloseCode.goingAway, reason: 'server shutting down; the recording was saved' }),
        ),
      );
    },

    stats: () => ({ connections: sessions.size, recordings: recordings.size }),
  };
}

/** At most `concurrency` tasks at once; the rest wait in order. */
function limiter(concurrency: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active += 1;
    try {
      return await task();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}
