import type { Kysely } from 'kysely';
import type { Database, Recording } from '../db/schema.ts';

/** What happened to a recording, as integrations (webhooks) hear about it. */
export type RecordingEventType =
  | 'recording.started'
  | 'recording.ready'
  | 'recording.failed'
  | 'recording.trashed'
  | 'recording.restored'
  | 'recording.deleted'
  | 'transcript.ready';

export interface RecordingEvent {
  type: RecordingEventType;
  /** The recording as the change left it (for `recording.deleted`: as it was before). */
  recording: Recording;
  /** Facts beyond the recording's own, e.g. a transcript's. */
  data?: Record<string, unknown>;
}

/**
 * Where the lifecycle reports changes. It is called inside the transaction that makes the change, so
 * an event is stored exactly when its change is (a transactional outbox): none lost, none invented.
 */
export interface RecordingEventSink {
  record(trx: Kysely<Database>, event: RecordingEvent): Promise<void>;
}

export const noRecordingEvents: RecordingEventSink = { record: async () => {} };
