/**
 * The recording lifecycle: the one module that changes a recording's status, its lease and its files.
 * Uploads, chunked streams, live sessions and processing jobs all call it.
 *
 *   upload ───────────────────────────────┐
 *   stream / live: receiving ─(finish)─→ processing ─(job)─→ ready
 *                      │                     │        └──────→ failed ─(process again)─→ processing
 *                      └── any state ─(delete)─→ gone
 *
 * The trash is beside these states, not one of them: `trash` marks a recording deleted (lists and reads
 * skip it; work on it goes on), `restore` unmarks it, and `removeTrashed` is `remove` for a recording
 * still in the trash. A live recording is not trashed while it is being recorded: its recorder would go on
 * saving audio nobody sees. Trashing sends no `recording.deleted`: integrations hear of the deletion when
 * the recording is gone for good (`remove`), since what they delete on that event cannot be restored.
 *
 * Files live in the BlobStore every node shares: what the client sent under `inputs/<id>/` (an upload,
 * a stream's chunks by offset, a live recording's committed segments by byte range) and the finished
 * audio under `recordings/<org>/<id>/<epoch>.ogg`. The local spool holds only work in progress.
 *
 * Ownership: a node working on a recording holds its lease (owner, epoch, expiry) and renews it. Every
 * write carries the epoch; a node that lost the lease (it was too slow, or another node took over)
 * finds its writes refused and stops. Nothing received is deleted because processing failed: inputs
 * are removed only once the finished audio is durable in the store, and a failed recording keeps its
 * input for FAILED_INPUT_RETENTION_SECONDS so it can be processed again.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Transaction } from 'kysely';
import type { Db } from '../db/index.ts';
import { nowIso } from '../db/index.ts';
import type { Database, Recording, RecordingSource } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { noRecordingEvents, type RecordingEventSink } from '../events/recording-events.ts';
import type { JobsRepo } from '../jobs/jobs.repo.ts';
import type { AudioInfo } from '../media/types.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Spool } from '../storage/spool.ts';
import type { LeaseClaim, RecordingsRepo } from './recordings.repo.ts';

export interface LifecycleLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface LifecycleDeps {
  db: Db;
  repo: RecordingsRepo;
  jobs: JobsRepo;
  blobs: BlobStore;
  spool: Spool;
  nodeId: string;
  leaseMs: number;
  failedInputRetentionSec: number;
  maxQueuedPerUser: number;
  /** Hears of every change inside its transaction (webhooks' outbox). */
  events?: RecordingEventSink;
  log: LifecycleLogger;
}

/** Byte offsets in object keys are zero-padded so that key order is offset order. */
const pad = (offset: number) => String(offset).padStart(15, '0');

export const inputKeys = {
  prefix: (id: string) => `inputs/${id}/`,
  upload: (id: string) => `inputs/${id}/upload`,
  streamPrefix: (id: string) => `inputs/${id}/stream/`,
  streamChunk: (id: string, start: number) => `inputs/${id}/stream/${pad(start)}`,
  livePrefix: (id: string) => `inputs/${id}/live/`,
  /** Named by the byte range it holds: two writes of one name hold the same bytes of the client's stream. */
  liveSegment: (id: string, start: number, end: number) => `inputs/${id}/live/${pad(start)}-${pad(end)}`,
  tusPrefix: (id: string) => `inputs/${id}/tus/`,
  /**
   * A piece of a resumable upload, named by its offset and the lock epoch of the request that wrote it
   * (src/tus/tus-store.ts): a request whose lock ran out can still finish writing a piece, but never
   * under the name of the one that replaced it.
   */
  tusPiece: (id: string, start: number, epoch: number) => `inputs/${id}/tus/${pad(start)}-${epoch}`,
};

export const audioPrefix = (recording: Pick<Recording, 'org_id' | 'id'>) =>
  `recordings/${recording.org_id}/${recording.id}/`;
/** The epoch is part of the name so a fenced owner's late write can never replace the live owner's file. */
const audioKey = (recording: Pick<Recording, 'org_id' | 'id'>, epoch: number) =>
  `${audioPrefix(recording)}${epoch}.ogg`;

/** The audio file's name as clients see it (`filename`), whatever its key in the store. */
export const filenameFor = (recordingId: string): string => `${recordingId}.ogg`;

/** What `input_key` says about the input of each source. */
export const INPUT_KINDS = {
  upload: 'upload',
  live: 'live',
  streamOgg: 'stream.ogg',
  streamWebm: 'stream.webm',
  /** An upload received through tus: its pieces, not one file. */
  tusUpload: 'upload.tus',
} as const;

/** Facts of a finished recording, as the media engine reports them. */
const factsOf = (info: AudioInfo, size: number) => ({
  duration_sec: info.durationSec,
  size_bytes: size,
  codec: info.codec,
  sample_rate: info.sampleRate,
  channels: info.channels,
  bitrate: Math.round(info.bitrate),
  pipeline: info.pipeline ?? 'transcode',
});

const released = { lease_owner: null, lease_expires_at: null } as const;

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(file)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

export type LifecycleEvent = { type: 'settled'; recording: Recording } | { type: 'removed'; recordingId: string };

export function createLifecycle(deps: LifecycleDeps) {
  const { db, repo, jobs, blobs, spool, nodeId, leaseMs, log } = deps;
  const sink = deps.events ?? noRecordingEvents;
  const events = new EventEmitter<{ event: [LifecycleEvent]; queued: [] }>();
  events.setMaxListeners(0);
  const emit = (event: LifecycleEvent) => events.emit('event', event);

  async function checkQueueQuota(userId: string): Promise<void> {
    if ((await jobs.countForUser(userId)) >= deps.maxQueuedPerUser) {
      throw new AppError(
        'rate_limited',
        `at most ${deps.maxQueuedPerUser} recordings may wait for processing per user`,
        {
          retryAfter: 30,
        },
      );
    }
  }

  async function removeInputs(recordingId: string): Promise<void> {
    await blobs.deletePrefix(inputKeys.prefix(recordingId));
  }

  /** Byte chains (stream chunks, live segments) as stored: consecutive objects from offset 0. */
  async function chainOf(prefix: string, end?: number): Promise<{ key: string; start: number; size: number }[]> {
    const objects = await blobs.list(prefix);
    const byStart = new Map<number, { key: string; size: number }>();
    for (const object of objects) {
      const start = Number(object.key.slice(prefix.length).split('-')[0]);
      const current = byStart.get(start);
      // Two live segments may start at one offset (a fenced owner's late write): the longer one wins,
      // and both hold the same bytes of the client's stream.
      if (!current || object.size > current.size) byStart.set(start, object);
    }
    const chain: { key: string; start: number; size: number }[] = [];
    let offset = 0;
    for (;;) {
      if (end !== undefined && offset >= end) break;
      const next = byStart.get(offset);
      if (!next || next.size === 0) break;
      chain.push({ key: next.key, start: offset, size: next.size });
      offset += next.size;
    }
    if (end !== undefined && offset < end) {
      throw new AppError('internal', `stored input under ${prefix} ends at byte ${offset}, expected ${end}`);
    }
    return chain;
  }

  /**
   * A resumable upload's pieces from offset 0 to `end`. Where two pieces start at one offset (a request
   * that lost its lock wrote one too late), the higher epoch's is the one its offset was committed with.
   */
  async function tusChainOf(recordingId: string, end: number): Promise<{ key: string; start: number; size: number }[]> {
    const prefix = inputKeys.tusPrefix(recordingId);
    const byStart = new Map<number, { key: string; size: number; epoch: number }>();
    for (const object of await blobs.list(prefix)) {
      const [start, epoch] = object.key.slice(prefix.length).split('-').map(Number) as [number, number];
      const current = byStart.get(start);
      if (!current || epoch > current.epoch) byStart.set(start, { ...object, epoch });
    }
    const chain: { key: string; start: number; size: number }[] = [];
    for (let offset = 0; offset < end; ) {
      const next = byStart.get(offset);
      if (!next || next.size === 0) {
        throw new AppError('internal', `stored input under ${prefix} ends at byte ${offset}, expected ${end}`);
      }
      chain.push({ key: next.key, start: offset, size: next.size });
      offset += next.size;
    }
    return chain;
  }

  /** Concatenates stored objects into one local file (fsynced); returns its size. */
  async function concatenate(chain: { key: string; start: number; size: number }[], target: string, end?: number) {
    const out = createWriteStream(target);
    let written = 0;
    for (const part of chain) {
      const take = end === undefined ? part.size : Math.min(part.size, end - part.start);
      if (take <= 0) break;
      await pipeline(await blobs.read(part.key, { start: 0, end: take - 1 }), out, { end: false });
      written += take;
    }
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    const handle = await open(target, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    return written;
  }

  /** An upload's row, its processing job and its `recording.started`, in the caller's transaction. */
  async function insertQueuedUpload(
    trx: Transaction<Database>,
    input: { id: string; orgId: string; userId: string; name: string; size: number },
    inputKey: string,
  ): Promise<Recording> {
    const row = await repo.insert(trx, {
      id: input.id,
      orgId: input.orgId,
      userId: input.userId,
      name: input.name,
      source: 'upload',
      status: 'processing',
      inputKey,
      receivedBytes: input.size,
    });
    await jobs.enqueue(trx, { kind: 'process', recordingId: row.id, userId: row.user_id, orgId: row.org_id });
    await sink.record(trx, { type: 'recording.started', recording: row });
    return row;
  }

  const lifecycle = {
    events,

    // ---- creation ----

    /** An upload whose file is complete: stored, then the recording exists and its job is queued. */
    async createUpload(input: { id: string; orgId: string; userId: string; name: string; file: string; size: number }) {
      await checkQueueQuota(input.userId);
      await blobs.putFile(inputKeys.upload(input.id), input.file);
      try {
        const recording = await db.transaction().execute((trx) => insertQueuedUpload(trx, input, INPUT_KINDS.upload));
        events.emit('queued');
        return recording;
      } catch (error) {
        await removeInputs(input.id).catch(() => {});
        throw error;
      }
    },

    /**
     * An upload whose bytes are already stored as recording `id`'s input (a finished tus upload's pieces):
     * the recording exists and its job is queued, in one transaction with `claim`, and nothing is copied.
     * `claim` returns false when the upload was already claimed (another node finished it first): then
     * nothing is created and the result is undefined. The queue quota was checked when the upload began
     * (`checkQueueRoom`), so a client that sent every byte is not refused at the end.
     */
    async createStoredUpload(
      input: { id: string; orgId: string; userId: string; name: string; size: number },
      claim: (trx: Transaction<Database>) => Promise<boolean>,
    ): Promise<Recording | undefined> {
      const recording = await db.transaction().execute(async (trx) => {
        if (!(await claim(trx))) return undefined;
        return insertQueuedUpload(trx, input, INPUT_KINDS.tusUpload);
      });
      if (recording) events.emit('queued');
      return recording;
    },

    /** 429 when the user already has as many recordings waiting for processing as allowed. */
    checkQueueRoom: (userId: string) => checkQueueQuota(userId),

    /** A chunked stream's row; its chunks follow through appendStreamChunk. */
    createStream(input: { orgId: string; userId: string; name: string; format: 'ogg' | 'webm' }) {
      return db.transaction().execute(async (trx) => {
        const row = await repo.insert(trx, {
          orgId: input.orgId,
          userId: input.userId,
          name: input.name,
          source: 'stream',
          status: 'receiving',
          inputKey: input.format === 'ogg' ? INPUT_KINDS.streamOgg : INPUT_KINDS.streamWebm,
        });
        await sink.record(trx, { type: 'recording.started', recording: row });
        return row;
      });
    },

    /**
     * A live recording owned by this node from the start. The per-user cap counts live recordings of
     * every node; on PostgreSQL the user's row is locked so racing starts on two nodes cannot both pass.
     */
    createLive(input: {
      orgId: string;
      userId: string;
      name: string;
      meetingLink: string | null;
      maxPerUser: number;
      dialect: 'sqlite' | 'postgres';
      /** The declared input format, stored for any node or job that reads the bytes (null: a container). */
      inputFormat: string | null;
    }) {
      return db.transaction().execute(async (trx) => {
        if (input.dialect === 'postgres') {
          await trx.selectFrom('users').select('id').where('id', '=', input.userId).forUpdate().execute();
        }
        if ((await repo.countLive(trx, input.userId)) >= input.maxPerUser) {
          throw new AppError('too_many_sessions', `at most ${input.maxPerUser} live recordings at a time per user`);
        }
        const row = await repo.insert(trx, {
          orgId: input.orgId,
          userId: input.userId,
          name: input.name,
          meetingLink: input.meetingLink,
          source: 'live',
          status: 'receiving',
          inputKey: INPUT_KINDS.live,
          inputFormat: input.inputFormat,
          lease: { owner: nodeId, expiresAt: new Date(Date.now() + leaseMs).toISOString() },
        });
        await sink.record(trx, { type: 'recording.started', recording: row });
        return row;
      });
    },

    // ---- leases ----

    acquire: (recordingId: string, claim: LeaseClaim) => repo.acquireLease(recordingId, nodeId, leaseMs, claim),
    renew: (recordingId: string, epoch: number) => repo.renewLease(recordingId, nodeId, epoch, leaseMs),
    /** Renews many leases of this node at once (one commit); the ids still held. */
    renewMany: (leases: { id: string; epoch: number }[]) => repo.renewLeases(nodeId, leases, leaseMs),
    release: (recordingId: string, epoch: number) => repo.releaseLease(recordingId, epoch),

    // ---- receiving ----

    /**
     * Stores a stream chunk at the recording's current offset and moves the offset, under the lease at
     * `epoch`. The object is written first: the offset never points past stored bytes.
     */
    async appendStreamChunk(recording: Recording, epoch: number, file: string, size: number, state: string | null) {
      const start = recording.received_bytes;
      await blobs.putFile(inputKeys.streamChunk(recording.id, start), file);
      return repo.advanceStream(recording.id, epoch, start, start + size, state);
    },

    /** The stored bytes [start, start + length) of a stream (to recognise a retried chunk). */
    async readStream(recording: Recording, start: number, length: number): Promise<Buffer> {
      const out: Buffer[] = [];
      for (const part of await chainOf(inputKeys.streamPrefix(recording.id), recording.received_bytes)) {
        const from = Math.max(start, part.start);
        const to = Math.min(start + length, part.start + part.size);
        if (from >= to) continue;
        const stream = await blobs.read(part.key, { start: from - part.start, end: to - part.start - 1 });
        for await (const piece of stream) out.push(piece as Buffer);
      }
      return Buffer.concat(out);
    },

    /**
     * Committing live bytes, in two steps: store [start, start + bytes.length) as a segment, then move the
     * committed watermark (advanceLiveWatermarks), which many recordings share one transaction for.
     */
    async putLiveSegment(recordingId: string, start: number, bytes: Uint8Array): Promise<void> {
      await blobs.putBytes(inputKeys.liveSegment(recordingId, start, start + bytes.length), bytes, { ifAbsent: true });
    },

    /** Moves the committed watermarks of live recordings at their epochs, in one transaction; the ids not fenced. */
    async advanceLiveWatermarks(marks: { id: string; epoch: number; end: number }[]): Promise<Set<string>> {
      const held = new Set<string>();
      await db.transaction().execute(async (trx) => {
        for (const { id, epoch, end } of marks) {
          if (await repo.fencedUpdate(trx, id, epoch, { committed_bytes: end, received_bytes: end })) held.add(id);
        }
      });
      return held;
    },

    /** Where the committed segments of a live recording end (they may run past the row's count). */
    async committedLiveBytes(recordingId: string): Promise<number> {
      const chain = await chainOf(inputKeys.livePrefix(recordingId));
      const last = chain.at(-1);
      return last ? last.start + last.size : 0;
    },

    /** Copies the committed live segments into a local raw log (a node taking a recording over). */
    async restoreLiveLog(recordingId: string, target: string): Promise<number> {
      return concatenate(await chainOf(inputKeys.livePrefix(recordingId)), target);
    },

    setResumable: (recordingId: string, epoch: number, until: string | null) =>
      repo.fencedUpdate(db, recordingId, epoch, { resumable_until: until }),

    // ---- transitions ----

    /** Receiving → processing: the job (on any node) takes it from the stored input. */
    async toProcessing(recordingId: string, epoch: number): Promise<Recording | undefined> {
      const recording = await db.transaction().execute(async (trx) => {
        const row = await repo.fencedUpdate(trx, recordingId, epoch, {
          status: 'processing',
          progress: 0,
          error: null,
          error_code: null,
          resumable_until: null,
          ...released,
        });
        if (row) await jobs.enqueue(trx, { kind: 'process', recordingId, userId: row.user_id, orgId: row.org_id });
        return row;
      });
      if (recording) events.emit('queued');
      return recording;
    },

    /**
     * The finished audio (a local Ogg file) becomes the recording's: stored durably, then `ready`, then
     * the input is deleted. Undefined when fenced or deleted meanwhile (our file is removed again).
     */
    async complete(
      recording: Recording,
      epoch: number,
      oggPath: string,
      info: AudioInfo,
    ): Promise<Recording | undefined> {
      const key = audioKey(recording, epoch);
      const sha256 = await sha256Of(oggPath);
      const stored = await blobs.putFile(key, oggPath);
      const ready = await db.transaction().execute(async (trx) => {
        const row = await repo.fencedUpdate(trx, recording.id, epoch, {
          status: 'ready',
          progress: 1,
          error: null,
          error_code: null,
          audio_key: key,
          audio_sha256: sha256,
          ...factsOf(info, stored.size),
          finished_at: nowIso(),
          resumable_until: null,
          input_expires_at: null,
          ...released,
        });
        if (row) await sink.record(trx, { type: 'recording.ready', recording: row });
        return row;
      });
      if (!ready) {
        await blobs.delete(key);
        return undefined;
      }
      if (recording.audio_key && recording.audio_key !== key) await blobs.delete(recording.audio_key).catch(() => {});
      await removeInputs(recording.id).catch((error: unknown) =>
        log.warn({ err: error, recordingId: recording.id }, 'could not remove the input of a ready recording'),
      );
      await spool.remove(recording.id).catch(() => {});
      emit({ type: 'settled', recording: ready });
      return ready;
    },

    /** Failed for good: the input stays for the retention period ("process again"). */
    async fail(recordingId: string, epoch: number, error: AppError, message: string): Promise<Recording | undefined> {
      const keepUntil = new Date(Date.now() + deps.failedInputRetentionSec * 1000).toISOString();
      const failed = await db.transaction().execute(async (trx) => {
        const row = await repo.fencedUpdate(trx, recordingId, epoch, {
          status: 'failed',
          error: message,
          error_code: error.code,
          finished_at: nowIso(),
          resumable_until: null,
          input_expires_at: keepUntil,
          ...released,
        });
        if (row) await sink.record(trx, { type: 'recording.failed', recording: row });
        return row;
      });
      if (failed) {
        await spool.remove(recordingId).catch(() => {});
        emit({ type: 'settled', recording: failed });
      }
      return failed;
    },

    setProgress: (recordingId: string, epoch: number, progress: number) =>
      repo.setProgress(recordingId, epoch, progress),

    /** "Process again" for a failed recording whose input is still kept. */
    async reprocess(recording: Recording): Promise<Recording> {
      if (recording.status !== 'failed') {
        throw new AppError('conflict', `only a failed recording can be processed again (it is ${recording.status})`);
      }
      if (!recording.input_expires_at || recording.input_expires_at < nowIso()) {
        throw new AppError('conflict', 'what was received for this recording is no longer kept; upload it again');
      }
      await checkQueueQuota(recording.user_id);
      const queued = await db.transaction().execute(async (trx) => {
        const row = await trx
          .updateTable('recordings')
          .set({
            status: 'processing',
            progress: 0,
            error: null,
            error_code: null,
            finished_at: null,
            updated_at: nowIso(),
          })
          .where('id', '=', recording.id)
          .where('status', '=', 'failed')
          .returningAll()
          .executeTakeFirst();
        if (row)
          await jobs.enqueue(trx, { kind: 'process', recordingId: row.id, userId: row.user_id, orgId: row.org_id });
        return row;
      });
      if (!queued) throw new AppError('conflict', 'the recording changed meanwhile; reload it');
      events.emit('queued');
      return queued;
    },

    /** Deletes the recording, its input and its audio. An owner elsewhere finds itself fenced and stops. */
    async remove(recording: Recording): Promise<void> {
      await db.transaction().execute(async (trx) => {
        if (await repo.delete(trx, recording.id)) await sink.record(trx, { type: 'recording.deleted', recording });
      });
      emit({ type: 'removed', recordingId: recording.id });
      await removeInputs(recording.id);
      await blobs.deletePrefix(audioPrefix(recording));
      if (recording.audio_key) await blobs.delete(recording.audio_key);
      await spool.remove(recording.id);
    },

    // ---- the trash ----

    /**
     * Moves the recording to the trash on behalf of `deletedBy` (a person, or an API key's creator).
     * Refused while it is being recorded live; already in the trash reads as not found.
     */
    async trash(recording: Recording, deletedBy: string): Promise<Recording> {
      const trashed = await db.transaction().execute(async (trx) => {
        const row = await repo.trash(trx, recording.id, deletedBy, nowIso());
        if (row) await sink.record(trx, { type: 'recording.trashed', recording: row });
        return row;
      });
      if (trashed) return trashed;
      const now = await repo.get(recording.id);
      if (!now || now.deleted_at) throw new AppError('not_found', 'recording not found');
      throw new AppError('conflict', 'the recording is being recorded live: stop it first, then delete it');
    },

    /** Takes the recording out of the trash, as it was (work that went on meanwhile included). */
    async restore(recording: Recording): Promise<Recording> {
      const restored = await db.transaction().execute(async (trx) => {
        const row = await repo.restore(trx, recording.id);
        if (row) await sink.record(trx, { type: 'recording.restored', recording: row });
        return row;
      });
      if (!restored) throw new AppError('conflict', 'the recording is not in the trash');
      return restored;
    },

    /**
     * Deletes for good a recording that is in the trash ("Delete forever", emptying the trash, the purge):
     * the row goes only while it is still in the trash, so a restore that came first keeps it; then
     * `remove` takes the files (it finds the row gone and reports nothing twice). False when restored.
     */
    async removeTrashed(recording: Recording): Promise<boolean> {
      const removed = await db.transaction().execute(async (trx) => {
        if (!(await repo.deleteTrashed(trx, recording.id))) return false;
        await sink.record(trx, { type: 'recording.deleted', recording });
        return true;
      });
      if (removed) await lifecycle.remove(recording);
      return removed;
    },

    /**
     * At start: this node's spool holds only work in progress, worthless after a restart since everything
     * received is in the store, except the raw logs of live recordings this node still owns.
     */
    async sweepSpool(): Promise<number> {
      let removed = 0;
      for (const { recordingId } of await spool.list()) {
        const recording = await repo.get(recordingId);
        const ownLive =
          recording?.source === 'live' && recording.status === 'receiving' && recording.lease_owner === nodeId;
        if (ownLive) continue;
        await spool.remove(recordingId);
        removed += 1;
      }
      if (removed) log.info({ removed }, 'removed work files left by an earlier run');
      return removed;
    },

    current: (recordingId: string) => repo.get(recordingId),

    /** Housekeeping: failed recordings past their retention lose their kept input. */
    async expireInputs(): Promise<number> {
      const expired = await repo.expiredInputs(nowIso());
      for (const recording of expired) {
        await removeInputs(recording.id);
        await db
          .updateTable('recordings')
          .set({ input_expires_at: null, updated_at: nowIso() })
          .where('id', '=', recording.id)
          .where('status', '=', 'failed')
          .execute();
      }
      return expired.length;
    },

    // ---- inputs for processing ----

    /** Puts the recording's complete input into one local file for the media engine. */
    async stageInput(recording: Recording, target: string): Promise<number> {
      const source: RecordingSource = recording.source;
      if (source === 'upload' && recording.input_key === INPUT_KINDS.tusUpload) {
        return concatenate(await tusChainOf(recording.id, recording.received_bytes), target, recording.received_bytes);
      }
      if (source === 'upload') return blobs.download(inputKeys.upload(recording.id), target);
      if (source === 'stream') {
        const end = recording.received_bytes;
        return concatenate(await chainOf(inputKeys.streamPrefix(recording.id), end), target, end);
      }
      return concatenate(await chainOf(inputKeys.livePrefix(recording.id)), target);
    },

    /**
     * Waits up to `ms` for the recording to be ready or failed (processing may run on another node, so
     * the database is polled too). Undefined when it is still going, or deleted.
     */
    async waitForSettled(recordingId: string, ms: number): Promise<Recording | undefined> {
      const deadline = Date.now() + ms;
      const settled = (r: Recording | undefined) => r && (r.status === 'ready' || r.status === 'failed');
      let wake: () => void = () => {};
      const listener = (event: LifecycleEvent) => {
        if (event.type === 'settled' && event.recording.id === recordingId) wake();
      };
      events.on('event', listener);
      try {
        for (;;) {
          const current = await repo.get(recordingId);
          if (!current || settled(current)) return current;
          const left = deadline - Date.now();
          if (left <= 0) return undefined;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, Math.min(left, 500));
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
      } finally {
        events.off('event', listener);
      }
    },
  };
  return lifecycle;
}

export type Lifecycle = ReturnType<typeof createLifecycle>;
