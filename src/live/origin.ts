/**
 * Cross-site WebSocket hijacking guard (RFC 6455 §10.2): browsers always send Origin on a WebSocket
 * handshake and let any page open one, so the server decides. Allowed: no Origin (not a browser: bots,
 * desktop apps, SDKs — they authenticate with a token like everyone), the server's own origin (same
 * host and port as the Host header), or an origin listed in ALLOWED_ORIGINS.
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  allowedOrigins: readonly string[],
): boolean {
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  // Opaque origins ("null": sandboxed frames, file: pages) are never allowed.
  if (parsed.origin === 'null' || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) return false;
  if (host) {
    try {
      // Parse the Host header with the origin's scheme so default ports compare equal (x:443 = x).
      if (new URL(`${parsed.protocol}//${host}`).host === parsed.host) return true;
    } catch {
      // a malformed Host header matches nothing
    }
  }
  return allowedOrigins.some((allowed) => normalise(allowed) === parsed.origin);
}

function normalise(origin: string): string | null {
  try {
    return new URL(origin).origin;
  } catch {
    return null;
  }
}
