/**
 * Chunked streams: one recording sent as successive raw request bodies. With a byte offset (the tus
 * model) a retried chunk is recognised and a gap or an overlap is refused with the server's offset;
 * without one (the seed's clients) a chunk is appended at the end, and an Ogg chunk whose pages are
 * already stored is recognised as a retry. Ogg pages are checked as they arrive, CRC included, before
 * anything is stored.
 *
 * Any node may take any chunk: the offset and the Ogg checker's state live in the recording's row, the
 * chunks in the shared store (lifecycle.appendStreamChunk), and an append holds the recording's lease
 * so two nodes never append to one stream at once. A chunk is acknowledged only once it is durable in
 * the store and the offset has moved.
 */
import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Principal } from '../auth/principal.ts';
import type { Recording } from '../db/schema.ts';
import { AppError, ERRORS, type ErrorCode, isAppError } from '../errors.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { KeyedLock } from './keyed-lock.ts';
import { INPUT_KINDS, type Lifecycle } from './lifecycle.ts';
import {
  checkOggChunk,
  EBML_MAGIC,
  initialOggState,
  type OggState,
  parseOggState,
  serialiseOggState,
  storedPrefixOf,
} from './ogg-pages.ts';
import type { RecordingsRepo } from './recordings.repo.ts';
import type { RecordingsService } from './recordings.service.ts';
import { cleanName } from './uploads.ts';

export type StreamFormat = 'ogg' | 'webm';

/** A chunk as received: a local file (the body is never held in memory whole). */
export interface ChunkFile {
  path: string;
  size: number;
}

export interface StreamDeps {
  repo: RecordingsRepo;
  orgAccess: OrgAccess;
  recordings: RecordingsService;
  lifecycle: Lifecycle;
  /** Serialises appends to one stream within this node; the lease does it across nodes. */
  locks: KeyedLock;
  /** Largest total stream (bytes). */
  maxBytes: number;
  /** How long a finishing call waits for processing before answering 202. */
  finishWaitMs: number;
}

export interface AppendInput {
  actor: Principal;
  /** Absent on the first chunk, which creates the recording. */
  recordingId?: string | undefined;
  orgId?: string | undefined;
  name?: string | undefined;
  /** Where the chunk goes; absent: at the end (the seed's clients). */
  offset?: number | undefined;
  final: boolean;
  chunk: ChunkFile;
}

export interface StreamResult {
  recording: Recording;
  /** true when this call created the recording. */
  created: boolean;
  /** true when the chunk had already been stored (a retry); nothing changed. */
  replayed: boolean;
}

/** How long an append waits for another node's append to the same stream to finish. */
const LEASE_WAIT_MS = 5000;
const READ_PIECE = 256 * 1024;

const formatOf = (recording: Recording): StreamFormat | undefined =>
  recording.input_key === INPUT_KINDS.streamWebm
    ? 'webm'
    : recording.input_key === INPUT_KINDS.streamOgg
      ? 'ogg'
      : undefined;

const offsetMismatch = (current: number, message: string) =>
  new AppError('offset_mismatch', message, { details: { offset: current } });

/** Bytes [position, position + length) of a local file (fewer at its end). */
function readRange(file: string, position: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const read = readSync(fd, buffer, 0, length, position);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function detectFormat(chunk: ChunkFile): StreamFormat {
  const head = readRange(chunk.path, 0, 4);
  if (head.length === 4 && head.equals(Buffer.from('OggS', 'latin1'))) return 'ogg';
  if (head.length === 4 && head.equals(EBML_MAGIC)) return 'webm';
  throw new AppError(
    'unsupported_media',
    'the first chunk must start an Ogg ("OggS") or WebM (EBML header) stream, at least 4 bytes',
  );
}

/** Runs the Ogg page checker over the chunk from byte `from`, piece by piece. */
async function checkOggFile(state: OggState, chunk: ChunkFile, from: number, streamOffset: number): Promise<OggState> {
  const handle = await open(chunk.path, 'r');
  try {
    const buffer = Buffer.alloc(READ_PIECE);
    let position = from;
    let current = state;
    while (position < chunk.size) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(READ_PIECE, chunk.size - position), position);
      if (bytesRead === 0) break;
      const at = streamOffset + (position - from) - current.tail.length;
      const checked = checkOggChunk(current, buffer.subarray(0, bytesRead), at);
      if (!checked.ok) {
        throw new AppError('invalid_media', `chunk refused: ${checked.message}`, { details: { offset: streamOffset } });
      }
      current = checked.state;
      position += bytesRead;
    }
    return current;
  } finally {
    await handle.close();
  }
}

export function createStreamService(deps: StreamDeps) {
  const { repo, orgAccess, recordings, lifecycle, locks } = deps;

  /** Runs `work` holding the recording's lease (waiting a little for another node's append). */
  async function withLease<T>(recordingId: string, work: (recording: Recording, epoch: number) => Promise<T>) {
    const deadline = Date.now() + LEASE_WAIT_MS;
    for (let wait = 10; ; wait = Math.min(wait * 2, 200)) {
      const leased = await lifecycle.acquire(recordingId, { kind: 'free' });
      if (leased) {
        try {
          return await work(leased, leased.lease_epoch);
        } finally {
          await lifecycle.release(recordingId, leased.lease_epoch);
        }
      }
      if (!(await repo.get(recordingId))) throw new AppError('not_found', 'recording not found');
      if (Date.now() > deadline) {
        throw new AppError('conflict', 'another chunk of this stream is being stored; retry in a moment', {
          retryAfter: 1,
        });
      }
      await sleep(wait);
    }
  }

  async function sameBytesStored(recording: Recording, offset: number, chunk: ChunkFile): Promise<boolean> {
    if (offset + chunk.size > recording.received_bytes) return false;
    // A ready recording no longer keeps its chunks: the retry is answered with the state instead.
    if (recording.status === 'ready') return false;
    const stored = await lifecycle.readStream(recording, offset, chunk.size);
    return stored.equals(readRange(chunk.path, 0, chunk.size));
  }

  async function finishLocked(recording: Recording, epoch: number, format: StreamFormat): Promise<Recording> {
    if (recording.received_bytes === 0) {
      throw new AppError('invalid_media', 'nothing was received: the stream is empty');
    }
    if (format === 'ogg') {
      const { tail } = parseOggState(recording.stream_state);
      if (tail.length > 0) {
        throw new AppError(
          'invalid_media',
          `the stream ends inside an Ogg page (${tail.length} bytes of an incomplete page); send the rest first`,
          { details: { offset: recording.received_bytes } },
        );
      }
    }
    const processing = await lifecycle.toProcessing(recording.id, epoch);
    if (!processing) throw new AppError('not_found', 'recording not found');
    return processing;
  }

  /** Waits a little for processing so short recordings answer ready; a refusal is the answer. */
  async function settle(recording: Recording): Promise<Recording> {
    const settled = await lifecycle.waitForSettled(recording.id, deps.finishWaitMs);
    if (settled?.status === 'failed') {
      const code = settled.error_code && settled.error_code in ERRORS ? (settled.error_code as ErrorCode) : 'internal';
      if (ERRORS[code].http < 500) {
        throw new AppError(code, settled.error ?? 'the stream could not be processed', {
          details: { recording_id: recording.id, status: 'failed' },
        });
      }
    }
    return settled ?? (await repo.get(recording.id)) ?? recording;
  }

  async function appendLocked(
    input: AppendInput,
    recording: Recording,
    epoch: number,
  ): Promise<{ recording: Recording; replayed: boolean; finishing: boolean }> {
    const format = formatOf(recording);
    if (recording.source !== 'stream' || !format) {
      throw new AppError('conflict', 'this recording was not created by the stream endpoint');
    }
    const { chunk } = input;
    const current = recording.received_bytes;
    const state = format === 'ogg' ? parseOggState(recording.stream_state) : initialOggState();
    // Without an offset the chunk goes at the end, less what the stream already has of it (an Ogg
    // chunk sent again); with one, the tus rules apply.
    const skip =
      input.offset === undefined && format === 'ogg'
        ? storedPrefixOf(state, chunk.size, (at, length) => readRange(chunk.path, at, length))
        : 0;
    const offset = input.offset ?? current - skip;
    const end = offset + chunk.size;

    // A retry of a chunk we already have (its response was lost) changes nothing.
    const fullyStored =
      chunk.size > 0 && end <= current && (skip === chunk.size || (await sameBytesStored(recording, offset, chunk)));
    if (fullyStored || (offset === current && chunk.size === 0)) {
      if (input.final && end === current && recording.status === 'receiving') {
        return { recording: await finishLocked(recording, epoch, format), replayed: true, finishing: true };
      }
      if (fullyStored || recording.status !== 'receiving') {
        return { recording, replayed: true, finishing: recording.status === 'processing' };
      }
    }
    if (recording.status !== 'receiving') {
      throw new AppError('conflict', `the stream is finished (the recording is ${recording.status}); start a new one`, {
        details: { offset: current, status: recording.status },
      });
    }
    if (input.offset !== undefined && offset < current && chunk.size > 0) {
      throw offsetMismatch(
        current,
        `this chunk overlaps bytes already stored with different content; the offset is ${current}`,
      );
    }
    if (offset > current) throw offsetMismatch(current, `gap: the server has ${current} bytes, not ${offset}`);
    if (end > deps.maxBytes) {
      throw new AppError('payload_too_large', `the stream would exceed the limit of ${deps.maxBytes} bytes`);
    }
    let appended = recording;
    const fresh = chunk.size - skip;
    if (fresh > 0) {
      const next = format === 'ogg' ? await checkOggFile(state, chunk, skip, current) : undefined;
      let file = chunk.path;
      if (skip > 0) {
        // Only the new part of a partly retried chunk is stored.
        file = `${chunk.path}.new`;
        await pipeline(createReadStream(chunk.path, { start: skip }), createWriteStream(file));
      }
      const moved = await lifecycle.appendStreamChunk(
        recording,
        epoch,
        file,
        fresh,
        next ? serialiseOggState(next) : null,
      );
      if (!moved) {
        const now = await repo.get(recording.id);
        throw offsetMismatch(
          now?.received_bytes ?? current,
          'the stream was appended concurrently; retry at the new offset',
        );
      }
      appended = { ...recording, received_bytes: current + fresh, stream_state: next ? serialiseOggState(next) : null };
    }
    if (input.final)
      return { recording: await finishLocked(appended, epoch, format), replayed: false, finishing: true };
    return { recording: (await repo.get(recording.id)) ?? appended, replayed: false, finishing: false };
  }

  return {
    async append(input: AppendInput): Promise<StreamResult> {
      let created = false;
      let recordingId = input.recordingId;
      if (!recordingId) {
        if (input.offset !== undefined && input.offset !== 0) {
          throw offsetMismatch(0, 'a new stream starts at offset 0 (no recording_id was given)');
        }
        const format = detectFormat(input.chunk);
        if (input.chunk.size > deps.maxBytes) {
          throw new AppError('payload_too_large', `the stream would exceed the limit of ${deps.maxBytes} bytes`);
        }
        if (format === 'ogg') await checkOggFile(initialOggState(), input.chunk, 0, 0);
        const orgId = input.orgId ?? (await orgAccess.defaultOrgId(input.actor));
        await orgAccess.require(input.actor, orgId, 'record');
        const name = input.name !== undefined ? cleanName(input.name) : 'Stream';
        const recording = await lifecycle.createStream({ orgId, userId: input.actor.userId, name, format });
        recordingId = recording.id;
        created = true;
      }
      const id = recordingId;
      await recordings.getVisible(input.actor, id, 'record');
      const result = await locks.run(id, () =>
        withLease(id, (recording, epoch) => appendLocked(input, recording, epoch)),
      );
      const recording = result.finishing ? await settle(result.recording) : result.recording;
      return { recording, created, replayed: result.replayed };
    },

    async finish(actor: Principal, recordingId: string): Promise<Recording> {
      await recordings.getVisible(actor, recordingId, 'record');
      const recording = await locks.run(recordingId, () =>
        withLease(recordingId, async (current, epoch) => {
          const format = formatOf(current);
          if (current.source !== 'stream' || !format) {
            throw new AppError('conflict', 'this recording was not created by the stream endpoint');
          }
          // Finishing twice is harmless: answer with the state.
          if (current.status !== 'receiving') return current;
          return finishLocked(current, epoch, format);
        }),
      );
      return recording.status === 'processing' ? settle(recording) : recording;
    },

    /**
     * Finishes streams nobody has appended to for `idleMs`, with everything received, so an abandoned
     * stream still becomes a recording. A last Ogg page cut short is dropped by the decoder; everything
     * before it is kept. Returns how many it finished.
     */
    async finishIdle(idleMs: number): Promise<number> {
      const cutoff = new Date(Date.now() - idleMs).toISOString();
      let finished = 0;
      for (const stale of await repo.idleStreams(cutoff)) {
        const leased = await lifecycle.acquire(stale.id, { kind: 'free' });
        if (!leased) continue;
        if (leased.status !== 'receiving') {
          await lifecycle.release(leased.id, leased.lease_epoch);
          continue;
        }
        if (leased.received_bytes === 0) {
          await lifecycle.fail(
            leased.id,
            leased.lease_epoch,
            new AppError('invalid_media', 'empty stream'),
            'the stream was abandoned before any audio arrived',
          );
        } else {
          await lifecycle.toProcessing(leased.id, leased.lease_epoch);
        }
        finished += 1;
      }
      return finished;
    },
  };
}

export type StreamService = ReturnType<typeof createStreamService>;
export const isOffsetMismatch = (error: unknown): error is AppError =>
  isAppError(error) && error.code === 'offset_mismatch';

/** Where an incoming chunk is written, inside a spool folder of its own. */
export const chunkPathIn = (folder: string) => path.join(folder, 'chunk');

/** Removes a received chunk's folder once the request is done. */
export const discardChunk = (chunk: ChunkFile) => rm(path.dirname(chunk.path), { recursive: true, force: true });
