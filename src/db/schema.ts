import type { Insertable, Selectable, Updateable } from 'kysely';

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
  /** Live recordings: the format the client declared (src/media/input-format.ts); null for a container. */
  input_format: string | null;
  /** How the finished file was made: `remux` (the client's Opus copied) or `transcode`. */
  pipeline: 'remux' | 'transcode' | null;
}

export type JobKind = 'process';

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

/** Named leases: periodic jobs run on one node at a time. */
export interface LeaseTable {
  name: string;
  holder: string;
  epoch: number;
  expires_at: string;
}

/** Fixed-window counters shared by every node (rate limits). */
export interface RateLimitTable {
  key: string;
  window_start: number;
  count: number;
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
}

export type User = Selectable<UserTable>;
export type Org = Selectable<OrgTable>;
export type Membership = Selectable<MembershipTable>;
export type RefreshToken = Selectable<RefreshTokenTable>;
export type Invitation = Selectable<InvitationTable>;
export type Recording = Selectable<RecordingTable>;
export type NewRecording = Insertable<RecordingTable>;
export type RecordingUpdate = Updateable<RecordingTable>;
export type Job = Selectable<JobTable>;
