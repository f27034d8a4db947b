/**
 * Chunked streams: one recording sent as successive raw request bodies, each stating the byte offset
 * it appends at (the tus model: a retried chunk is recognised, a gap or an overlap is refused with the
 * server's offset). Ogg pages are checked as they arrive, CRC included, before anything is written,
 * and every acknowledged chunk has been fsync'ed.
 */
import { constants, open, stat } from 'node:fs/promises';
import type { Recording } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import type { OrgAccess } from '../orgs/access.ts';
import type { Spool } from '../storage/spool.ts';
import type { KeyedLock } from './keyed-lock.ts';
import { checkOggChunk, EBML_MAGIC, initialOggState, type OggState } from './ogg-pages.ts';
import type { RecordingsRepo } from './recordings.repo.ts';
import type { RecordingsService } from './recordings.service.ts';
import { cleanName } from './uploads.ts';

export type StreamFormat = 'ogg' | 'webm';
export const STREAM_FILES: Record<StreamFormat, string> = { ogg: 'stream.ogg', webm: 'stream.webm' };

export interface StreamDeps {
  repo: RecordingsRepo;
  spool: Spool;
  orgAccess: OrgAccess;
  recordings: RecordingsService;
  locks: KeyedLock;
  /** Largest total stream (bytes). */
  maxBytes: number;
  /** How long a finishing call waits for processing before answering 202. */
  finishWaitMs: number;
}

export interface AppendInput {
  userId: string;
  /** Absent on the first chunk, which creates the recording. */
  recordingId?: string | undefined;
  orgId?: string | undefined;
  name?: string | undefined;
  offset: number;
  final: boolean;
  chunk: Buffer;
}

export interface StreamResult {
  recording: Recording;
  /** true when this call created the recording. */
  created: boolean;
  /** true when the chunk had already been stored (a retry); nothing changed. */
  replayed: boolean;
}

const formatOf = (recording: Recording): StreamFormat | undefined =>
  recording.input_key === STREAM_FILES.webm ? 'webm' : recording.input_key === STREAM_FILES.ogg ? 'ogg' : undefined;

function detectFormat(chunk: Buffer): StreamFormat {
  if (chunk.length >= 4 && chunk.subarray(0, 4).equals(Buffer.from('OggS', 'latin1'))) return 'ogg';
  if (chunk.length >= 4 && chunk.subarray(0, 4).equals(EBML_MAGIC)) return 'webm';
  throw new AppError(
    'unsupported_media',
    'the first chunk must start an Ogg ("OggS") or WebM (EBML header) stream, at least 4 bytes',
  );
}

const MAX_CACHED_STATES = 1000;

const offsetMismatch = (current: number, message: string) =>
  new AppError('offset_mismatch', message, { details: { offset: current } });

export function createStreamService(deps: StreamDeps) {
  const { repo, spool, orgAccess, recordings, locks } = deps;
  /** Ogg checker state at the recording's current offset; rebuilt from the stored bytes when missing. */
  const oggStates = new Map<string, { offset: number; state: OggState }>();

  async function oggStateAt(recording: Recording, file: string): Promise<OggState> {
    const cached = oggStates.get(recording.id);
    if (cached && cached.offset === recording.received_bytes) return cached.state;
    if (recording.received_bytes === 0) return initialOggState();
    // After a restart (or another process appended): re-read what is stored. Rare and linear.
    let state = initialOggState();
    const handle = await open(file, 'r');
    try {
      const buffer = Buffer.alloc(256 * 1024);
      let position = 0;
      while (position < recording.received_bytes) {
        const want = Math.min(buffer.length, recording.received_bytes - position);
        const { bytesRead } = await handle.read(buffer, 0, want, position);
        if (bytesRead === 0) break;
        const checked = checkOggChunk(state, buffer.subarray(0, bytesRead), position - state.tail.length);
        if (!checked.ok) throw new AppError('internal', `stored stream ${recording.id} is corrupt: ${checked.message}`);
        state = checked.state;
        position += bytesRead;
      }
      if (position < recording.received_bytes) {
        throw new AppError('internal', `stored stream ${recording.id} is shorter than its acknowledged offset`);
      }
    } finally {
      await handle.close();
    }
    return state;
  }

  async function sameBytesStored(file: string, offset: number, chunk: Buffer): Promise<boolean> {
    const size = await stat(file).then(
      (s) => s.size,
      () => -1,
    );
    if (size < offset + chunk.length) return false;
    const handle = await open(file, 'r');
    try {
      const stored = Buffer.alloc(chunk.length);
      const { bytesRead } = await handle.read(stored, 0, chunk.length, offset);
      return bytesRead === chunk.length && stored.equals(chunk);
    } finally {
      await handle.close();
    }
  }

  /** Writes `chunk` at `offset` (dropping any unacknowledged bytes past it) and fsyncs. */
  async function writeAt(file: string, offset: number, chunk: Buffer): Promise<void> {
    const handle = await open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      await handle.truncate(offset);
      let written = 0;
      while (written < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, written, chunk.length - written, offset + written);
        written += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async function finishLocked(recording: Recording, format: StreamFormat): Promise<Recording> {
    if (recording.received_bytes === 0)
      throw new AppError('invalid_media', 'nothing was received: the stream is empty');
    const file = spool.pathFor(recording.id, STREAM_FILES[format]);
    if (format === 'ogg') {
      const state = await oggStateAt(recording, file);
      if (state.tail.length > 0) {
        throw new AppError(
          'invalid_media',
          `the stream ends inside an Ogg page (${state.tail.length} bytes of an incomplete page); send the rest first`,
          { details: { offset: recording.received_bytes } },
        );
      }
    }
    oggStates.delete(recording.id);
    const processing = await repo.update(recording.id, { status: 'processing', progress: 0 });
    if (!processing) throw new AppError('not_found', 'recording not found');
    recordings.startProcessing(recording.id, file).catch(() => {});
    return processing;
  }

  /** Runs after the lock is released: waits a little for processing so short recordings answer ready. */
  async function settle(recording: Recording): Promise<Recording> {
    const outcome = await recordings.waitForJob(recording.id, deps.finishWaitMs);
    if (outcome && !outcome.ok && !outcome.interrupted) {
      throw new AppError(outcome.error.code, outcome.error.message, {
        details: { recording_id: recording.id, status: 'failed' },
        ...(outcome.error.retryAfter !== undefined ? { retryAfter: outcome.error.retryAfter } : {}),
      });
    }
    return (await repo.get(recording.id)) ?? recording;
  }

  async function appendLocked(
    input: AppendInput,
    recordingId: string,
  ): Promise<{ recording: Recording; replayed: boolean; finishing: boolean }> {
    const recording = await recordings.getVisible(input.userId, recordingId);
    const format = formatOf(recording);
    if (recording.source !== 'stream' || !format) {
      throw new AppError('conflict', 'this recording was not created by the stream endpoint');
    }
    const current = recording.received_bytes;
    const file = spool.pathFor(recording.id, STREAM_FILES[format]);
    const end = input.offset + input.chunk.length;

    // A retry of a chunk we already have (its response was lost) changes nothing.
    if (input.offset < current || (input.offset === current && input.chunk.length === 0)) {
      if (end <= current && (await sameBytesStored(file, input.offset, input.chunk))) {
        if (input.final && end === current && recording.status === 'receiving') {
          return { recording: await finishLocked(recording, format), replayed: true, finishing: true };
        }
        return { recording, replayed: true, finishing: recording.status === 'processing' };
      }
    }
    if (recording.status !== 'receiving') {
      throw new AppError('conflict', `the stream is finished (the recording is ${recording.status}); start a new one`, {
        details: { offset: current, status: recording.status },
      });
    }
    if (input.offset < current && input.chunk.length > 0) {
      throw offsetMismatch(
        current,
        `this chunk overlaps bytes already stored with different content; the offset is ${current}`,
      );
    }
    if (input.offset > current)
      throw offsetMismatch(current, `gap: the server has ${current} bytes, not ${input.offset}`);
    if (end > deps.maxBytes) {
      throw new AppError('payload_too_large', `the stream would exceed the limit of ${deps.maxBytes} bytes`);
    }
    if (input.chunk.length > 0) {
      let next: OggState | undefined;
      if (format === 'ogg') {
        const state = await oggStateAt(recording, file);
        const checked = checkOggChunk(state, input.chunk, current - state.tail.length);
        if (!checked.ok)
          throw new AppError('invalid_media', `chunk refused: ${checked.message}`, { details: { offset: current } });
        next = checked.state;
      }
      await spool.dirFor(recording.id);
      await writeAt(file, current, input.chunk);
      if (!(await repo.advanceReceived(recording.id, current, end))) {
        // Another server process moved the offset: report where it is now.
        oggStates.delete(recording.id);
        const fresh = await repo.get(recording.id);
        throw offsetMismatch(
          fresh?.received_bytes ?? current,
          'the stream was appended concurrently; retry at the new offset',
        );
      }
      oggStates.delete(recording.id);
      if (next) {
        oggStates.set(recording.id, { offset: end, state: next });
        // Abandoned streams must not pin memory: drop the oldest cached states (they can be rebuilt).
        for (const key of oggStates.keys()) {
          if (oggStates.size <= MAX_CACHED_STATES) break;
          oggStates.delete(key);
        }
      }
    }
    const appended = { ...recording, received_bytes: end };
    if (input.final) return { recording: await finishLocked(appended, format), replayed: false, finishing: true };
    return { recording: (await repo.get(recording.id)) ?? appended, replayed: false, finishing: false };
  }

  return {
    async append(input: AppendInput): Promise<StreamResult> {
      let created = false;
      let recordingId = input.recordingId;
      if (!recordingId) {
        if (input.offset !== 0) throw offsetMismatch(0, 'a new stream starts at offset 0 (no recording_id was given)');
        const format = detectFormat(input.chunk);
        if (input.chunk.length > deps.maxBytes) {
          throw new AppError('payload_too_large', `the stream would exceed the limit of ${deps.maxBytes} bytes`);
        }
        if (format === 'ogg') {
          const checked = checkOggChunk(initialOggState(), input.chunk);
          if (!checked.ok)
            throw new AppError('invalid_media', `chunk refused: ${checked.message}`, { details: { offset: 0 } });
        }
        const orgId = input.orgId ?? (await orgAccess.personalOrgId(input.userId));
        if (input.orgId) await orgAccess.require(input.userId, orgId);
        const name = input.name !== undefined ? cleanName(input.name) : 'Stream';
        const recording = await repo.create({
          orgId,
          userId: input.userId,
          name,
          source: 'stream',
          status: 'receiving',
          inputKey: STREAM_FILES[format],
        });
        recordingId = recording.id;
        created = true;
      }
      const id = recordingId;
      const result = await locks.run(id, () => appendLocked(input, id));
      const recording = result.finishing ? await settle(result.recording) : result.recording;
      return { recording, created, replayed: result.replayed };
    },

    async finish(userId: string, recordingId: string): Promise<Recording> {
      const recording = await locks.run(recordingId, async () => {
        const current = await recordings.getVisible(userId, recordingId);
        const format = formatOf(current);
        if (current.source !== 'stream' || !format) {
          throw new AppError('conflict', 'this recording was not created by the stream endpoint');
        }
        // Finishing twice is harmless: answer with the state.
        if (current.status !== 'receiving') return current;
        return finishLocked(current, format);
      });
      return recording.status === 'processing' ? settle(recording) : recording;
    },

    /**
     * Finishes streams nobody has appended to for `idleMs`, with everything received, so an abandoned
     * stream still becomes a recording (and its spool space is released). Returns how many it finished.
     */
    async finishIdle(idleMs: number): Promise<number> {
      const cutoff = new Date(Date.now() - idleMs).toISOString();
      const idle = (await repo.byStatus(['receiving'], 'stream')).filter((r) => r.updated_at < cutoff);
      for (const stale of idle) {
        await locks.run(stale.id, async () => {
          const current = await repo.get(stale.id);
          const format = current && formatOf(current);
          if (!current || !format || current.status !== 'receiving' || current.updated_at >= cutoff) return;
          oggStates.delete(current.id);
          if (current.received_bytes === 0) {
            await recordings.fail(current.id, 'the stream was abandoned before any audio arrived');
            return;
          }
          // A last Ogg page cut short by the client is dropped by the decoder; everything before it is kept.
          await repo.update(current.id, { status: 'processing', progress: 0 });
          recordings.startProcessing(current.id, spool.pathFor(current.id, STREAM_FILES[format])).catch(() => {});
        });
      }
      return idle.length;
    },

    forget(recordingId: string): void {
      oggStates.delete(recordingId);
    },
  };
}

export type StreamService = ReturnType<typeof createStreamService>;
export const isOffsetMismatch = (error: unknown): error is AppError =>
  isAppError(error) && error.code === 'offset_mismatch';
