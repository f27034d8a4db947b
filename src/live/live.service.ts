/**
 * Live recording service: this node's live recordings and connections, starting and resuming
 * recordings (taking one over from another node when a client resumes here), recovery after a restart,
 * finishing recordings whose node died, and graceful shutdown.
 *
 * A live recording is owned by the node holding its lease. Its audio is acknowledged once on that node's
 * disk and committed once in the shared object store. A client that resumes on another node takes the
 * recording over there (the lease epoch goes up, the old owner is fenced) and re-sends from the
 * committed offset. A recording whose node died and whose client never came back is finished by any node
 * from its committed segments once the grace period has passed.
 */
import { access, stat } from 'node:fs/promises';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import type { Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import { parseInputFormat, serialiseInputFormat } from '../media/input-format.ts';
import type { MediaEngine } from '../media/types.ts';
import type { OrgAccess } from '../orgs/access.ts';
import { filenameFor, type Lifecycle } from '../recordings/lifecycle.ts';
import type { RecordingsRepo } from '../recordings/recordings.repo.ts';
import type { Spool } from '../storage/spool.ts';
import { LiveInput } from './live-input.ts';
import { LiveRecording, type LiveRecordingDeps } from './live-recording.ts';
import { CloseCode, type ResumeMessage, type StartMessage } from './protocol.ts';
import { type AttachedClient, LiveSession, type Transport } from './session.ts';
import { batchWatermarks } from './watermarks.ts';

export const RAW_LOG_FILE = 'input';
export const LIVE_OGG_FILE = 'live.ogg';
export const REMUX_OGG_FILE = 'remux.ogg';
/** How long a stop waits for a processing job when the live transcode was lost. */
const PROCESSING_WAIT_MS = 120_000;

export interface LiveLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LiveServiceDeps {
  live: Config['live'];
  nodeId: string;
  leaseMs: number;
  maxDurationSec: number;
  dialect: 'sqlite' | 'postgres';
  tokens: { validateAccessToken(token: string): Promise<Principal> };
  orgAccess: Pick<OrgAccess, 'require' | 'defaultOrgId'>;
  repo: Pick<RecordingsRepo, 'get' | 'byStatus' | 'abandonedLive'>;
  lifecycle: Lifecycle;
  media: Pick<MediaEngine, 'openLive'>;
  spool: Spool;
  log: LiveLogger;
  metrics?: LiveRecordingDeps['metrics'];
}

export interface LiveService {
  /** A new connection: returns the session the route feeds frames to. */
  connect(transport: Transport): LiveSession;
  /** After a restart: takes back this node's recordings and makes them resumable for the grace period. */
  recover(): Promise<number>;
  /** Housekeeping: finishes recordings whose node died and whose client did not come back in time. */
  finishAbandoned(): Promise<number>;
  /** Saves every live recording and closes every connection with 1001. */
  shutdown(): Promise<void>;
  /** Acknowledged bytes not yet committed: how far the committed watermark lags (metrics). */
  stats(): { connections: number; recordings: number; uncommittedBytes: number };
}

export function createLiveService(deps: LiveServiceDeps): LiveService {
  const { live, log, lifecycle, spool } = deps;
  const recordings = new Map<string, LiveRecording>();
  const sessions = new Set<LiveSession>();
  let closing = false;

  const recordingDeps: LiveRecordingDeps = {
    store: lifecycle,
    watermarks: batchWatermarks(lifecycle),
    cleanup: (id) => spool.remove(id),
    onFinished: (recording) => {
      if (recordings.get(recording.id) === recording) recordings.delete(recording.id);
    },
    log,
    metrics: deps.metrics,
  };

  /**
   * Renews the leases of every live recording here in one transaction, a third of the lease apart: one
   * database commit per interval for the node, not one per recording (on SQLite each is an fsync on the
   * main thread; BENCHMARKS.md, "Live formats"). A recording whose lease is gone was taken over: fenced.
   */
  async function renewLeases(): Promise<void> {
    const live = [...recordings.values()].filter((recording) => recording.live);
    if (live.length === 0) return;
    try {
      const held = await lifecycle.renewMany(live.map(({ id, epoch }) => ({ id, epoch })));
      for (const recording of live) if (!held.has(recording.id)) recording.leaseLost();
    } catch (error) {
      log.warn({ err: error, recordings: live.length }, 'could not renew the leases of live recordings');
    }
  }
  const renewal = setInterval(() => void renewLeases(), deps.leaseMs / 3).unref();

  function refuseWhileClosing(): void {
    if (closing) throw new AppError('busy', 'the server is shutting down; reconnect in a moment');
  }

  /** `transcode`: a live transcoder may be opened (not after a crash or a takeover: a job does it then). */
  function open(row: Recording, transcode: boolean, committed: number): Promise<LiveRecording> {
    const elapsedMs = Date.now() - Date.parse(row.created_at);
    const format = parseInputFormat(row.input_format);
    const oggPath = spool.pathFor(row.id, LIVE_OGG_FILE);
    const remuxPath = spool.pathFor(row.id, REMUX_OGG_FILE);
    // The audio may not run ahead of the time since the recording started (a client cannot push hours
    // of audio through a minute-long connection).
    const pace = { startedAtMs: Date.parse(row.created_at), slackSec: live.maxAudioAheadSec };
    return LiveRecording.open(
      {
        id: row.id,
        userId: row.user_id,
        epoch: row.lease_epoch,
        rawLogPath: spool.pathFor(row.id, RAW_LOG_FILE),
        oggPath,
        remuxPath,
        newInput: () => new LiveInput({ format, remuxPath, maxDurationSec: deps.maxDurationSec, pace }),
        recogniseTimeoutMs: live.recogniseTimeoutMs,
        fsyncIntervalMs: live.fsyncIntervalMs,
        commitIntervalMs: live.commitIntervalMs,
        resumeGraceMs: live.resumeGraceMs,
        maxBytes: live.maxRecordingBytes,
        maxDurationMs: Math.max(1000, deps.maxDurationSec * 1000 - elapsedMs),
        // At shutdown a stop does not wait for a job: it runs later, on this node or another.
        processingWaitMs: () => (closing ? 0 : PROCESSING_WAIT_MS),
        committed,
        openTranscoder: transcode
          ? (input) =>
              deps.media.openLive(oggPath, input, { ...pace, ...(format.kind === 'pcm' ? { pcm: format } : {}) })
          : null,
      },
      recordingDeps,
    );
  }

  async function start(principal: Principal, message: StartMessage, client: AttachedClient) {
    refuseWhileClosing();
    // Without an org_id: a person's personal org, an API key's own org.
    const orgId = message.org_id ?? (await deps.orgAccess.defaultOrgId(principal));
    try {
      await deps.orgAccess.require(principal, orgId, 'record');
    } catch (error) {
      // The seed protocol answers every metadata problem with 1008, a foreign org included.
      if (isAppError(error) && error.code === 'not_found') {
        throw new AppError('forbidden', 'no such organisation, or you are not a member of it');
      }
      throw error;
    }
    const name = message.name || `Live recording ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`;
    const row = await lifecycle.createLive({
      orgId,
      userId: principal.userId,
      name,
      meetingLink: message.meeting_link,
      maxPerUser: live.maxSessionsPerUser,
      dialect: deps.dialect,
      inputFormat: serialiseInputFormat(message.format),
    });
    let recording: LiveRecording;
    try {
      await spool.dirFor(row.id);
      recording = await open(row, true, 0);
    } catch (error) {
      const message = 'the live session could not be set up';
      await lifecycle.fail(row.id, row.lease_epoch, new AppError('internal', message), message).catch(() => {});
      throw error;
    }
    recordings.set(row.id, recording);
    await recording.attach(client);
    return { handle: recording, filename: filenameFor(row.id) };
  }

  async function resume(principal: Principal, message: ResumeMessage, client: AttachedClient) {
    refuseWhileClosing();
    const local = recordings.get(message.resume);
    const attachLocal = async (recording: LiveRecording) => {
      await recording.attach(client);
      return {
        handle: recording,
        bytes: recording.bytes,
        durable: recording.durableBytes,
        committed: recording.committedBytes,
      };
    };
    // A person's recording on this node resumes without reading the database (its session was checked
    // at start). An API key was just checked in the database anyway, and its org needs the row.
    if (principal.kind === 'user' && local && local.userId === principal.userId) {
      if (!local.live) throw new AppError('recording_finished', 'this recording is being finished; start a new one');
      return attachLocal(local);
    }
    const row = await deps.repo.get(message.resume);
    const notFound = () => new AppError('not_found', 'no live recording with this id to resume');
    // Someone else's recording looks exactly like a missing one: ids cannot be probed.
    if (!row || row.user_id !== principal.userId || row.source !== 'live') throw notFound();
    try {
      await deps.orgAccess.require(principal, row.org_id, 'record');
    } catch (error) {
      // A key's creator's recording in another org is as missing as anyone else's.
      if (isAppError(error) && error.code === 'not_found') throw notFound();
      throw error;
    }
    if (local) {
      if (!local.live) throw new AppError('recording_finished', 'this recording is being finished; start a new one');
      return attachLocal(local);
    }
    if (row.status !== 'receiving') {
      throw new AppError('recording_finished', `this recording is already ${row.status}; start a new one`);
    }
    const recording = await takeOver(row);
    await recording.attach(client);
    const bytes = recording.bytes;
    return { handle: recording, bytes, durable: recording.durableBytes, committed: recording.committedBytes };
  }

  /**
   * Takes a recording over from its owner (another node, or this node before a restart): raise the lease
   * epoch (the old owner's writes are refused from now on), rebuild the raw log from what the store has
   * (or this node's own raw log, when it survived), and carry on with the raw log only.
   */
  async function takeOver(row: Recording): Promise<LiveRecording> {
    const leased = await lifecycle.acquire(row.id, { kind: 'takeover', epoch: row.lease_epoch });
    if (!leased) throw new AppError('session_taken_over', 'the recording was just resumed on another connection');
    try {
      await spool.dirFor(row.id);
      const rawLog = spool.pathFor(row.id, RAW_LOG_FILE);
      const committed = await lifecycle.committedLiveBytes(row.id);
      const ownLog = row.lease_owner === deps.nodeId && (await exists(rawLog));
      // Our own raw log (a restart on the same disk) may hold acknowledged bytes not yet committed.
      if (!ownLog || (await sizeOf(rawLog)) < committed) await lifecycle.restoreLiveLog(row.id, rawLog);
      const recording = await open(leased, false, committed);
      recordings.set(row.id, recording);
      log.info(
        { recordingId: row.id, epoch: leased.lease_epoch, from: row.lease_owner, committed, bytes: recording.bytes },
        'live recording taken over',
      );
      return recording;
    } catch (error) {
      await lifecycle.release(row.id, leased.lease_epoch).catch(() => {});
      throw error;
    }
  }

  return {
    connect(transport) {
      if (closing) transport.close(CloseCode.goingAway, 'server shutting down');
      const session: LiveSession = new LiveSession(transport, {
        handshakeTimeoutMs: live.handshakeTimeoutMs,
        idleTimeoutMs: live.idleTimeoutMs,
        maxTextFrameBytes: live.maxTextFrameBytes,
        authenticate: (token) => deps.tokens.validateAccessToken(token),
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
      let recovered = 0;
      for (const row of await deps.repo.byStatus(['receiving'], 'live')) {
        if (row.lease_owner !== deps.nodeId || recordings.has(row.id)) continue;
        try {
          const recording = await takeOver(row);
          recording.startGrace();
          recovered += 1;
        } catch (error) {
          log.warn({ err: error, recordingId: row.id }, 'could not take back a live recording after a restart');
        }
      }
      return recovered;
    },

    async finishAbandoned() {
      const now = new Date();
      const deadOwnerBefore = new Date(now.getTime() - live.resumeGraceMs).toISOString();
      let finished = 0;
      for (const row of await deps.repo.abandonedLive(deadOwnerBefore, now.toISOString())) {
        if (recordings.has(row.id)) continue;
        const leased = await lifecycle.acquire(row.id, { kind: 'free' });
        if (leased?.status !== 'receiving') continue;
        const committed = await lifecycle.committedLiveBytes(row.id);
        if (committed === 0) {
          const message = 'no audio reached storage before the recording node went away';
          await lifecycle.fail(row.id, leased.lease_epoch, new AppError('invalid_media', message), message);
        } else {
          await lifecycle.toProcessing(row.id, leased.lease_epoch);
        }
        log.info(
          { recordingId: row.id, committed, previousOwner: row.lease_owner },
          'finished an abandoned live recording',
        );
        finished += 1;
      }
      return finished;
    },

    async shutdown() {
      closing = true;
      clearInterval(renewal);
      for (const session of sessions) session.goingAway();
      await Promise.allSettled(
        [...recordings.values()].map((recording) =>
          recording.end({ code: CloseCode.goingAway, reason: 'server shutting down; the recording was saved' }),
        ),
      );
    },

    stats: () => ({
      connections: sessions.size,
      recordings: recordings.size,
      uncommittedBytes: [...recordings.values()].reduce(
        (sum, recording) => sum + Math.max(0, recording.durableBytes - recording.committedBytes),
        0,
      ),
    }),
  };
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

const sizeOf = async (file: string) => (await stat(file)).size;
