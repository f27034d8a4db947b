/**
 * HTTP range and conditional-request decisions for serving a stored file (RFC 9110 §13, §14), kept
 * free of I/O so every rule can be tested directly.
 */

export type RangeDecision =
  | { kind: 'not_modified' }
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

export interface RangeRequest {
  method: string;
  range?: string | undefined;
  ifRange?: string | undefined;
  ifNoneMatch?: string | undefined;
}

/** RFC 9110 §8.8.3.2: weak comparison ignores the W/ prefix. */
const opaque = (tag: string) => tag.trim().replace(/^W\//, '');

function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((candidate) => opaque(candidate) === opaque(etag));
}

/**
 * Parses `bytes=...` (RFC 9110 §14.1.2). Returns undefined when the header is not a valid byte range
 * set (the server then ignores it and sends the whole file), 'unsatisfiable', or the satisfiable ranges.
 */
export function parseByteRanges(
  header: string,
  size: number,
): { start: number; end: number }[] | 'unsatisfiable' | undefined {
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match) return undefined;
  const ranges: { start: number; end: number }[] = [];
  for (const spec of match[1]!.split(',')) {
    const part = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
    if (!part) return undefined;
    const [, first, last] = part;
    if (first === '' && last === '') return undefined;
    if (first === '') {
      // Suffix range: the last N bytes.
      const length = Number(last);
      if (length === 0) continue;
      ranges.push({ start: Math.max(0, size - length), end: size - 1 });
      continue;
    }
    const start = Number(first);
    if (last !== '' && Number(last) < start) return undefined;
    if (start >= size) continue;
    ranges.push({ start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) });
  }
  return ranges.length ? ranges : 'unsatisfiable';
}

export function decideRange(request: RangeRequest, file: { size: number; etag: string }): RangeDecision {
  // RFC 9110 §13.2.2: If-None-Match is evaluated before Range.
  if (request.ifNoneMatch !== undefined && noneMatch(request.ifNoneMatch, file.etag)) {
    return { kind: 'not_modified' };
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') return { kind: 'full' };
  if (!request.range) return { kind: 'full' };
  // If-Range (§13.1.5) needs a strong match; anything else (a date, another tag) means "send it all".
  if (request.ifRange !== undefined) {
    const tag = request.ifRange.trim();
    if (tag.startsWith('W/') || tag !== file.etag) return { kind: 'full' };
  }
  const ranges = parseByteRanges(request.range, file.size);
  if (ranges === undefined) return { kind: 'full' };
  if (ranges === 'unsatisfiable') return { kind: 'unsatisfiable' };
  // Several ranges would need multipart/byteranges; §14.2 lets a server ignore Range instead.
  if (ranges.length > 1) return { kind: 'full' };
  return { kind: 'partial', start: ranges[0]!.start, end: ranges[0]!.end };
}

/** RFC 6266 + RFC 8187: an ASCII fallback name and the exact UTF-8 name. */
export function contentDisposition(type: 'inline' | 'attachment', name: string, extension: string): string {
  const base =
    name
      .normalize('NFC')
      .replace(/\p{Cc}/gu, ' ')
      .replace(/[/\\]/g, '_')
      .trim() || 'recording';
  const ascii = base.replace(/[^\x20-\x7e]/g, '_').replace(/["%;]/g, '_');
  const encoded = encodeURIComponent(`${base}${extension}`).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${ascii}${extension}"; filename*=UTF-8''${encoded}`;
}
