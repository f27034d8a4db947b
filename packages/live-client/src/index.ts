/**
 * `@earshot/live-client`: the live recording client (browsers and Node ≥ 20), the wire protocol it
 * speaks, raw Opus framing, and the in-memory store of audio not yet acknowledged. The IndexedDB store
 * is at `@earshot/live-client/indexeddb` (browsers only).
 */
export * from './live-client.ts';
export * from './opus-stream.ts';
export * from './protocol.ts';
export * from './unacked-store.ts';
