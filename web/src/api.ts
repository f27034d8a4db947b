/**
 * The HTTP side of the page: one `ApiClient` owns the tokens, sends requests, refreshes the access
 * token before it expires (and once more on a 401), and turns every failure into an `ApiError` whose
 * message can be shown to a person as is.
 *
 * Tokens: the access token lives in memory and localStorage, the refresh token in localStorage so a
 * reload keeps you signed in. Refresh tokens rotate on every use and a reused one revokes the whole
 * family, so refreshing is serialised across tabs with the Web Locks API and a tab that finds a newer
 * pair in storage adopts it instead of spending its own (now stale) refresh token.
 */

import type { components } from './api-types.ts';

/**
 * The API's JSON shapes, generated from the server's OpenAPI document into api-types.ts
 * (`npm run api-types`; a test fails when it is out of date): never copied by hand.
 */
type Schemas = components['schemas'];
export type User = Schemas['User'];
export type Me = Schemas['Me'];
export type Org = Schemas['Organisation'];
export type Role = Org['role'];
export type Member = Schemas['Member'];
/** A pending invitation, as an org's admins and the invitee see it (never its token). */
export type Invitation = Schemas['Invitation'];
/** Earshot sends no e-mail: the invite link's token comes back to the inviter, once. */
export type InviteResult = Schemas['InviteResult'];
/** An organisation's API key as its owners and admins see it (never its secret). */
export type ApiKey = Schemas['ApiKey'];
export type Scope = ApiKey['scopes'][number];
export type Recording = Schemas['Recording'];
export type RecordingStatus = Recording['status'];
/** A recording's transcript: the latest request's status and the last finished segments (seconds). */
export type Transcript = Schemas['Transcript'];
export type TranscriptStatus = Transcript['status'];
export type OrgSettings = Schemas['OrgSettings'];
type TokenPair = Schemas['TokenPair'];
/** A recording in the trash: who deleted it, when, and when it will be deleted for good. */
export type TrashedRecording = Schemas['TrashedRecording'];

interface StoredSession {
  access_token: string;
  /** ms since epoch */
  expires_at: number;
  /** Lifetime the server gave the access token, ms. */
  lifetime: number;
  refresh_token: string;
}

/** A failure with a message meant for people; `code` is the server's error code or a local one. */
export class ApiError extends Error {
  override name = 'ApiError';
  /** HTTP status, 0 when the server could not be reached. */
  readonly status: number;
  /** The server's error code (`email_taken`, …) or a local one (`network`, `aborted`). */
  readonly code: string;
  readonly details: unknown;
  readonly retryAfter: number | undefined;

  constructor(message: string, status: number, code: string, details?: unknown, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.retryAfter = retryAfter;
  }
}

const STORAGE_KEY = 'earshot.session';
/** Refresh a minute before the access token expires (or at 80% of its life if it is short). */
const refreshMargin = (session: StoredSession): number => Math.min(60_000, (session.lifetime || 0) * 0.2);

/** Turns a failed response into the message a person should read. */
export async function errorFromResponse(
  response: Response,
  context: 'login' | 'default' = 'default',
): Promise<ApiError> {
  let body: { error?: string; message?: string; details?: unknown } = {};
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page, say): fall back to the status
  }
  const retryAfter = Number(response.headers.get('retry-after')) || undefined;
  return new ApiError(
    describeError(response.status, body.error ?? '', body.message ?? '', context, retryAfter),
    response.status,
    body.error ?? `http_${response.status}`,
    body.details,
    retryAfter,
  );
}

export function describeError(
  status: number,
  code: string,
  serverMessage: string,
  context: 'login' | 'default' = 'default',
  retryAfter?: number,
): string {
  const detail = serverMessage ? ` (${serverMessage})` : '';
  if (context === 'login' && status === 401) return 'Wrong email or password.';
  switch (code) {
    case 'email_taken':
      return 'An account with this email already exists. Sign in instead.';
    case 'weak_password':
      return `Choose a stronger password: ${serverMessage || 'it is too weak'}.`;
    case 'rate_limited':
    case 'too_many_sessions':
      return `Too many attempts. Try again in ${waitText(retryAfter)}.`;
    case 'payload_too_large':
      return `The file is too large for this server${detail}.`;
    case 'unsupported_media':
      return `This file type isn't supported; choose an audio or video file${detail}.`;
    case 'invalid_media':
    case 'media_too_long':
    case 'media_timeout':
      return `The file couldn't be used as audio${detail}.`;
    case 'forbidden':
      return `You don't have permission to do that${detail}.`;
    case 'not_found':
      return `Not found — it may have been deleted${detail}.`;
    case 'busy':
      return 'The server is busy. Try again in a moment.';
    case 'transcription_unavailable':
      return 'Transcription is off on this server; its administrator can turn it on.';
  }
  if (status === 401) return 'Your session has expired. Sign in again.';
  if (status === 413) return 'The file is too large for this server.';
  if (status === 429) return 'Too many requests. Try again in a moment.';
  if (status >= 500) return `The server had a problem (HTTP ${status}). Try again in a moment.`;
  if (serverMessage) return serverMessage.charAt(0).toUpperCase() + serverMessage.slice(1);
  return `The server refused the request (HTTP ${status}).`;
}

/** Invitation limits are hourly: "in 3412 seconds" reads worse than "in about 57 minutes". */
function waitText(seconds: number | undefined): string {
  if (!seconds) return 'a minute';
  if (seconds < 90) return `${seconds} seconds`;
  return `about ${Math.ceil(seconds / 60)} minutes`;
}

export const networkError = (): ApiError =>
  new ApiError("Can't reach the server. Check your network connection and try again.", 0, 'network');

export class ApiClient {
  private session: StoredSession | null = null;
  private refreshing: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Called when the session ends without the user asking (refresh token expired or revoked). */
  onSessionLost: (reason: string) => void = () => {};

  private readonly base: string;

  constructor(base = '') {
    this.base = base;
    this.session = readStored();
    this.schedule();
    // Another tab signed out, signed in or refreshed: follow it.
    window.addEventListener('storage', (event) => {
      if (event.key !== STORAGE_KEY) return;
      const stored = readStored();
      const wasSignedIn = this.session !== null;
      this.session = stored;
      if (!stored && wasSignedIn) this.onSessionLost('You signed out in another tab.');
      else this.schedule();
    });
  }

  get signedIn(): boolean {
    return this.session !== null;
  }

  /** The current access token (refreshed first if it is about to expire). */
  async accessToken(): Promise<string> {
    const session = this.session;
    if (!session) throw new ApiError('You are signed out. Sign in again.', 401, 'unauthenticated');
    if (session.expires_at - Date.now() < refreshMargin(session)) await this.refresh();
    if (!this.session) throw new ApiError('Your session has expired. Sign in again.', 401, 'unauthenticated');
    return this.session.access_token;
  }

  /** The token as it is now, without refreshing: for URLs built synchronously (audio, download). */
  currentAccessToken(): string {
    return this.session?.access_token ?? '';
  }

  async login(email: string, password: string): Promise<void> {
    const pair = await this.post<TokenPair>('/api/auth/login', { email, password }, 'login');
    this.store(pair);
  }

  async register(email: string, password: string, name?: string): Promise<User> {
    return this.post<User>('/api/auth/register', { email, password, ...(name ? { name } : {}) });
  }

  async logout(): Promise<void> {
    const refreshToken = this.session?.refresh_token;
    this.clear();
    if (refreshToken) {
      // Best effort: the tokens are already gone from this browser.
      await fetch(`${this.base}/api/auth/logout`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: refreshToken }),
      }).catch(() => {});
    }
  }

  /** Authenticated JSON request; retries once after a refresh if the server says 401. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const send = async () => {
      const headers: Record<string, string> = { authorization: `Bearer ${await this.accessToken()}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      try {
        return await fetch(this.base + path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch {
        throw networkError();
      }
    };
    let response = await send();
    if (response.status === 401 && this.session) {
      await this.refresh(true);
      response = await send();
    }
    if (response.status === 401) this.expire();
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** Refreshes the token pair; concurrent callers (and other tabs) share one refresh. */
  refresh(force = false): Promise<void> {
    this.refreshing ??= this.doRefresh(force).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(force: boolean): Promise<void> {
    const used = this.session?.refresh_token;
    const run = async () => {
      // Inside the lock: another tab may have refreshed while we waited.
      const stored = readStored();
      if (!stored) {
        this.session = null;
        return;
      }
      const fresh = stored.expires_at - Date.now() > refreshMargin(stored);
      if (stored.refresh_token !== used && fresh) {
        this.session = stored;
        this.schedule();
        return;
      }
      if (!force && fresh && stored.access_token === this.session?.access_token) return;
      let response: Response;
      try {
        response = await fetch(`${this.base}/api/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: stored.refresh_token }),
        });
      } catch {
        // Offline: keep the tokens and try again shortly.
        this.schedule(10_000);
        throw networkError();
      }
      if (response.status === 400 || response.status === 401 || response.status === 422) {
        this.expire();
        return;
      }
      if (!response.ok) {
        this.schedule(10_000);
        throw await errorFromResponse(response);
      }
      this.store((await response.json()) as TokenPair);
    };
    if (navigator.locks) await navigator.locks.request('earshot-token-refresh', run);
    else await run();
  }

  private store(pair: TokenPair): void {
    this.session = {
      access_token: pair.access_token,
      refresh_token: pair.refresh_token,
      expires_at: Date.now() + pair.expires_in * 1000,
      lifetime: pair.expires_in * 1000,
    };
    localStorage.setItem(STORAGE_KEY, JSON.stringify(this.session));
    this.schedule();
  }

  /** Refresh quietly shortly before the access token expires. */
  private schedule(delay?: number): void {
    clearTimeout(this.timer);
    if (!this.session) return;
    const wait = delay ?? Math.max(1_000, this.session.expires_at - Date.now() - refreshMargin(this.session));
    this.timer = setTimeout(() => {
      this.refresh().catch(() => {});
    }, wait);
  }

  private clear(): void {
    clearTimeout(this.timer);
    this.session = null;
    localStorage.removeItem(STORAGE_KEY);
  }

  private expire(): void {
    if (!this.session) return;
    this.clear();
    this.onSessionLost('Your session has expired. Sign in again.');
  }

  private async post<T>(path: string, body: unknown, context: 'login' | 'default' = 'default'): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch {
      throw networkError();
    }
    if (!response.ok) throw await errorFromResponse(response, context);
    return (await response.json()) as T;
  }

  // --- endpoints -------------------------------------------------------------------------------

  me(): Promise<Me> {
    return this.get<Me>('/api/auth/me');
  }

  orgs(): Promise<Org[]> {
    return this.get<Org[] | { orgs: Org[] }>('/api/orgs').then((r) => (Array.isArray(r) ? r : r.orgs));
  }

  createOrg(name: string): Promise<Org> {
    return this.request<Org>('POST', '/api/orgs', { name });
  }

  members(orgId: string): Promise<Member[]> {
    return this.get<Member[] | { members: Member[] }>(`/api/orgs/${encodeURIComponent(orgId)}/members`).then((r) =>
      Array.isArray(r) ? r : r.members,
    );
  }

  invite(orgId: string, email: string, role: Role): Promise<InviteResult> {
    return this.request<InviteResult>('POST', `/api/orgs/${encodeURIComponent(orgId)}/invitations`, { email, role });
  }

  orgInvitations(orgId: string): Promise<Invitation[]> {
    return this.get<{ invitations: Invitation[] }>(`/api/orgs/${encodeURIComponent(orgId)}/invitations`).then(
      (r) => r.invitations,
    );
  }

  revokeInvitation(orgId: string, id: string): Promise<void> {
    return this.request<void>('DELETE', `/api/orgs/${encodeURIComponent(orgId)}/invitations/${encodeURIComponent(id)}`);
  }

  /** Invitations addressed to the signed-in user's e-mail. */
  myInvitations(): Promise<Invitation[]> {
    return this.get<{ invitations: Invitation[] }>('/api/invitations').then((r) => r.invitations);
  }

  acceptInvitation(id: string, token: string): Promise<Org> {
    return this.request<Org>('POST', `/api/invitations/${encodeURIComponent(id)}/accept`, { token });
  }

  declineInvitation(id: string): Promise<void> {
    return this.request<void>('POST', `/api/invitations/${encodeURIComponent(id)}/decline`);
  }

  apiKeys(orgId: string): Promise<ApiKey[]> {
    return this.get<{ api_keys: ApiKey[] }>(`/api/orgs/${encodeURIComponent(orgId)}/api-keys`).then((r) => r.api_keys);
  }

  /** The token is in this answer only: the server keeps a hash of its secret. */
  createApiKey(
    orgId: string,
    input: { name: string; scopes: Scope[]; expires_at?: string },
  ): Promise<{ api_key: ApiKey; token: string }> {
    return this.request('POST', `/api/orgs/${encodeURIComponent(orgId)}/api-keys`, input);
  }

  revokeApiKey(orgId: string, id: string): Promise<void> {
    return this.request<void>('DELETE', `/api/orgs/${encodeURIComponent(orgId)}/api-keys/${encodeURIComponent(id)}`);
  }

  removeMember(orgId: string, userId: string): Promise<void> {
    return this.request<void>('DELETE', `/api/orgs/${encodeURIComponent(orgId)}/members/${encodeURIComponent(userId)}`);
  }

  /** One organisation's recordings, or (orgId null) those of every organisation the user is in. */
  recordings(
    orgId: string | null,
    before?: string,
    limit = 20,
    search = '',
  ): Promise<{ items: Recording[]; next_cursor: string | null }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (orgId) query.set('org_id', orgId);
    if (before) query.set('before', before);
    if (search) query.set('q', search);
    return this.get(`/api/recordings?${query}`);
  }

  recording(id: string): Promise<Recording> {
    return this.get<Recording>(`/api/recordings/${encodeURIComponent(id)}`);
  }

  renameRecording(id: string, name: string): Promise<Recording> {
    return this.request<Recording>('PATCH', `/api/recordings/${encodeURIComponent(id)}`, { name });
  }

  /** Moves the recording to the trash. */
  deleteRecording(id: string): Promise<void> {
    return this.request<void>('DELETE', `/api/recordings/${encodeURIComponent(id)}`);
  }

  restoreRecording(id: string): Promise<Recording> {
    return this.request<Recording>('POST', `/api/recordings/${encodeURIComponent(id)}/restore`);
  }

  trash(
    orgId: string | null,
    before?: string,
    limit = 50,
  ): Promise<{ items: TrashedRecording[]; next_cursor: string | null }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (orgId) query.set('org_id', orgId);
    if (before) query.set('before', before);
    return this.get(`/api/trash?${query}`);
  }

  deleteForever(id: string): Promise<void> {
    return this.request<void>('DELETE', `/api/trash/${encodeURIComponent(id)}`);
  }

  /** Deletes for good what the user may delete in the trash; `kept` counts colleagues' recordings left. */
  emptyTrash(orgId: string | null): Promise<{ deleted: number; kept: number }> {
    return this.request('DELETE', `/api/trash${orgId ? `?org_id=${encodeURIComponent(orgId)}` : ''}`);
  }

  transcript(id: string): Promise<Transcript> {
    return this.get<Transcript>(`/api/recordings/${encodeURIComponent(id)}/transcript`);
  }

  requestTranscript(id: string): Promise<Transcript> {
    return this.request<Transcript>('POST', `/api/recordings/${encodeURIComponent(id)}/transcript`);
  }

  orgSettings(orgId: string): Promise<OrgSettings> {
    return this.get<OrgSettings>(`/api/orgs/${encodeURIComponent(orgId)}/settings`);
  }

  updateOrgSettings(orgId: string, settings: Partial<OrgSettings>): Promise<OrgSettings> {
    return this.request<OrgSettings>('PATCH', `/api/orgs/${encodeURIComponent(orgId)}/settings`, settings);
  }

  /** URL for <audio src> and downloads: the element can't send headers, so the token rides along. */
  audioUrl(id: string, download = false): string {
    const query = new URLSearchParams({ access_token: this.currentAccessToken() });
    if (download) query.set('download', '1');
    return `${this.base}/api/recordings/${encodeURIComponent(id)}/audio?${query}`;
  }
}

function readStored(): StoredSession | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as StoredSession;
    if (typeof parsed.refresh_token !== 'string' || typeof parsed.access_token !== 'string') return null;
    return parsed;
  } catch {
    return null;
  }
}
