import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Times are ISO-8601 UTC strings (sortable as text) and booleans are 0/1, the same on both dialects. */
export interface UserTable {
  id: string;
  email: string;
  name: string | null;
  password_hash: string;
  personal_org_id: string;
  created_at: string;
}

export interface OrgTable {
  id: string;
  name: string;
  personal: number;
  created_at: string;
}

export type OrgRole = 'owner' | 'admin' | 'member';

export interface MembershipTable {
  org_id: string;
  user_id: string;
  role: OrgRole;
  created_at: string;
}

export interface RefreshTokenTable {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: string;
  expires_at: string;
  created_at: string;
  /** Set when the token has been exchanged; a second use means theft and revokes the family. */
  used_at: string | null;
  revoked_at: string | null;
}

/**
 * An invitation to join an org. The link carries a random token; only its SHA-256 is stored. It is open
 * until accepted, revoked (by an admin, declined by the invitee, or replaced by a newer invitation to
 * the same address) or past `expires_at`.
 */
export interface InvitationTable {
  id: string;
  org_id: string;
  /** Normalised like account e-mails. */
  email: string;
  role: OrgRole;
  invited_by: string;
  token_hash: string;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
  revoked_at: string | null;
}

/**
 * An organisation's API key (src/api-keys/). The token `esk_<id>_<secret>` is shown once; only the
 * secret's SHA-256 is stored. It acts as `user_id` (its creator) within `org_id` and its scopes.
 */
export interface ApiKeyTable {
  id: string;
  org_id: string;
  user_id: string;
  name: string;
  /** Space-separated, as OAuth writes scopes (RFC 6749 §3.3): "read record". */
  scopes: string;
  secret_hash: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  /** Written at most once a minute per key, so a busy bot does not write on every request. */
  last_used_at: string | null;
}

export type RecordingSource = 'upload' | 'stream' | 'live';
export type RecordingStatus = 'receiving' | 'processing' | 'ready' | 'failed';

export interface RecordingTable {
  id: string;
  org_id: string;
  user_id: string;
  name: string;
  meeting_link: string | null;
  source: RecordingSource;
  status: RecordingStatus;
  progress: number;
  error: string | null;
  /** Storage key of what the client sent (upload file, stream or live raw log). */
  input_key: string | null;
  /** Storage key of the normalised Ogg/Opus file, once ready. */
  audio_key: string | null;
  /** Bytes of input received so far: the append offset for streams and live sessions. */
  received_bytes: number;
  duration_sec: number | null;
  size_bytes: number | null;
  codec: string | null;
  sample_rate: number | null;
  channels: number | null;
  bitrate: number | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  /** Node that owns the in-flight recording (src/recordings/lifecycle.ts), while its lease runs. */
  lease_owner: string | null;
  /** Fencing token: raised by every new owner; writes by an older owner are refused by it. */
  lease_epoch: number;
  lease_expires_at: string | null;
  /** Input bytes in shared storage: stream chunks, live segments (the committed watermark). */
  committed_bytes: number;
  /** Chunked streams: the Ogg page checker's state at `received_bytes` (JSON), shared by all nodes. */
  stream_state: string | null;
  /** Live recordings whose client went away: resumable until then, then finalised. */
  resumable_until: string | null;
  /** A failed recording keeps its input until then, so it can be processed again. */
  input_expires_at: string | null;
  /** The errors-table code of a failure (`error` says it in words). */
  error_code: string | null;
  /** SHA-256 (hex) of the finished audio file, for integrity checks by integrations. */
  audio_sha256: string | null;
  /** In the trash since then (restorable until the org's retention runs out); null: not deleted. */
  deleted_at: string | null;
  /** Who moved it to the trash (a person, or an API key's creator). */
  deleted_by: string | null;
  /** Live recordings: the format the client declared (src/media/input-format.ts); null for a container. */
  input_format: string | null;
  /** How the finished file was made: `remux` (the client's Opus copied) or `transcode`. */
  pipeline: 'remux' | 'transcode' | null;
}

export type JobKind = 'process' | 'transcribe';

/** The durable processing queue (src/jobs/jobs.repo.ts): one row per pending job. */
export interface JobTable {
  id: string;
  kind: JobKind;
  recording_id: string;
  user_id: string;
  org_id: string;
  /** Not before this time (retries back off). */
  run_at: string;
  attempts: number;
  /** Node running the job and until when its claim holds (renewed while it runs). */
  locked_by: string | null;
  locked_until: string | null;
  last_error: string | null;
  created_at: string;
}

export type TranscriptStatus = 'pending' | 'processing' | 'ready' | 'failed';

/** A recording's transcript (src/transcripts/): the latest request's state and the last finished text. */
export interface TranscriptTable {
  recording_id: string;
  status: TranscriptStatus;
  /** `openai` or `whisper`, and the model it used (TRANSCRIBE_MODEL, or the WHISPER_MODEL file's name). */
  provider: string;
  model: string;
  /** Requested (TRANSCRIBE_LANGUAGE) or detected by the provider; null when neither says. */
  language: string | null;
  /** The segments' text joined by spaces, for search. */
  text: string;
  error: string | null;
  /** The errors-table code of a failure. */
  error_code: string | null;
  /** Who asked for it; null when it was made automatically. */
  requested_by: string | null;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** One timed piece of a transcript, in order of `position`. */
export interface TranscriptSegmentTable {
  recording_id: string;
  position: number;
  start_sec: number;
  end_sec: number;
  text: string;
}

/** Settings of an organisation that differ from the defaults (no row: all defaults). */
export interface OrgSettingsTable {
  org_id: string;
  /** 0/1: transcribe every recording of the org when it becomes ready. */
  auto_transcribe: number;
  /** Days a deleted recording stays in the trash before it is deleted for good. */
  trash_retention_days: number;
  updated_at: string;
}

/**
 * A resumable (tus) upload until it expires (src/tus/). Its bytes are stored as the input of the
 * recording it becomes, which takes the same id once the last byte is stored (`finished_at`).
 */
export interface TusUploadTable {
  id: string;
  org_id: string;
  /** The person the recording will belong to (an API key's creator). */
  user_id: string;
  /** Who may resume, inspect or end it: `user:<id>` or `key:<api key id>`. */
  actor: string;
  name: string;
  /** Upload-Metadata as the client sent it (JSON object), answered back on HEAD. */
  metadata: string;
  /** Upload-Length, declared at creation. */
  length: number;
  /** Bytes stored: the upload's offset. */
  received_bytes: number;
  created_at: string;
  expires_at: string;
  finished_at: string | null;
  /** The request holding the upload's lock (a random id), until `lock_expires_at` unless renewed. */
  lock_holder: string | null;
  /** Raised by every new holder; stored pieces carry it, and a holder that lost the lock cannot commit. */
  lock_epoch: number;
  lock_expires_at: string | null;
  /** 0/1: a request waits for the lock and asks the holder to finish what it has. */
  lock_release_requested: number;
}

/** Named leases: periodic jobs run on one node at a time. */
export interface LeaseTable {
  name: string;
  holder: string;
  epoch: number;
  expires_at: string;
}

/** Sliding-window counters shared by every node (rate limits, src/cluster/rate-limiter.ts). */
export interface RateLimitTable {
  key: string;
  window_start: number;
  count: number;
  /** The count of the window just before `window_start`'s (0 when that window saw nothing). */
  previous_count: Generated<number>;
}

/** An org's webhook endpoint (src/webhooks/): where events go, and the `whsec_` secret(s) that sign them. */
export interface WebhookEndpointTable {
  id: string;
  org_id: string;
  url: string;
  description: string;
  /** JSON array of the event types it receives. */
  event_types: string;
  secret: string;
  /** After a rotation the old secret signs too (a second signature) until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: string | null;
  enabled: number;
  /** Why it was disabled: by a person, or by a 410 Gone from the receiver. */
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
}

/** The outbox: one row per event of an org, written in the transaction of the change it reports. */
export interface WebhookMessageTable {
  /** The `webhook-id` every delivery and retry of this message carries. */
  id: string;
  org_id: string;
  type: string;
  recording_id: string | null;
  /** Per-recording, only growing: consumers drop an event older than one they have seen. */
  version: number | null;
  /** The exact JSON body sent (so every retry signs the same bytes). */
  payload: string;
  created_at: string;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled';

/** One message to one endpoint, retried until delivered or given up; claimed by one node at a time. */
export interface WebhookDeliveryTable {
  id: string;
  message_id: string;
  endpoint_id: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** When a pending delivery is due (retries back off). */
  next_attempt_at: string | null;
  /** Node sending it now and until when its claim holds (a dead node's claim expires). */
  locked_by: string | null;
  locked_until: string | null;
  last_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  last_duration_ms: number | null;
  created_at: string;
  delivered_at: string | null;
}

/** The last event version of each recording (webhook_messages.version). */
export interface WebhookVersionTable {
  recording_id: string;
  version: number;
  updated_at: string;
}

export interface Database {
  users: UserTable;
  orgs: OrgTable;
  memberships: MembershipTable;
  refresh_tokens: RefreshTokenTable;
  recordings: RecordingTable;
  jobs: JobTable;
  leases: LeaseTable;
  rate_limits: RateLimitTable;
  invitations: InvitationTable;
  api_keys: ApiKeyTable;
  transcripts: TranscriptTable;
  transcript_segments: TranscriptSegmentTable;
  org_settings: OrgSettingsTable;
  webhook_endpoints: WebhookEndpointTable;
  webhook_messages: WebhookMessageTable;
  webhook_deliveries: WebhookDeliveryTable;
  webhook_versions: WebhookVersionTable;
  tus_uploads: TusUploadTable;
}

export type User = Selectable<UserTable>;
export type Org = Selectable<OrgTable>;
export type Membership = Selectable<MembershipTable>;
export type RefreshToken = Selectable<RefreshTokenTable>;
export type Invitation = Selectable<InvitationTable>;
export type ApiKey = Selectable<ApiKeyTable>;
export type Recording = Selectable<RecordingTable>;
export type NewRecording = Insertable<RecordingTable>;
export type RecordingUpdate = Updateable<RecordingTable>;
export type Job = Selectable<JobTable>;
export type Transcript = Selectable<TranscriptTable>;
export type WebhookEndpoint = Selectable<WebhookEndpointTable>;
export type WebhookMessage = Selectable<WebhookMessageTable>;
export type WebhookDelivery = Selectable<WebhookDeliveryTable>;
export type TusUpload = Selectable<TusUploadTable>;
