/**
 * An UnackedStore in the browser's IndexedDB: audio not yet acknowledged survives a page reload (or a
 * crash of the tab), so the page can resume the recording afterwards and lose nothing.
 *
 *   const store = new IndexedDbUnackedStore(`earshot-${userId}`);   // one database per signed-in user
 *   for (const session of await store.sessions()) { ... resume it (LiveClientOptions.resumeRecordingId) }
 *
 * Two object stores: `sessions` (recordingId → end, updatedAt) and `chunks` (keyed [recordingId, offset]).
 * Each call is one transaction, and IndexedDB commits a database's read-write transactions in the order
 * they were made, so what survives a reload is always everything appended up to some chunk.
 */
import { chunkEnd, type UnackedChunk, type UnackedSession, type UnackedStore } from './unacked-store.ts';

const SESSIONS = 'sessions';
const CHUNKS = 'chunks';

interface SessionRecord {
  recordingId: string;
  end: number;
  updatedAt: number;
}

interface ChunkRecord extends UnackedChunk {
  recordingId: string;
}

const done = <T>(request: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

const committed = (transaction: IDBTransaction): Promise<void> =>
  new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? new Error('IndexedDB transaction aborted'));
  });

/** Every chunk of one recording, in offset order. */
const chunksOf = (recordingId: string): IDBKeyRange =>
  IDBKeyRange.bound([recordingId, -Infinity], [recordingId, Infinity]);

export class IndexedDbUnackedStore implements UnackedStore {
  #db: Promise<IDBDatabase>;

  constructor(databaseName = 'earshot-live-client', factory: IDBFactory = indexedDB) {
    this.#db = new Promise((resolve, reject) => {
      const request = factory.open(databaseName, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(SESSIONS, { keyPath: 'recordingId' });
        request.result.createObjectStore(CHUNKS, { keyPath: ['recordingId', 'offset'] });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async #transaction(mode: IDBTransactionMode): Promise<IDBTransaction> {
    return (await this.#db).transaction([SESSIONS, CHUNKS], mode);
  }

  async append(recordingId: string, offset: number, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    const tx = await this.#transaction('readwrite');
    const finished = committed(tx);
    const session = (await done(tx.objectStore(SESSIONS).get(recordingId))) as SessionRecord | undefined;
    if (session && session.end !== offset) {
      tx.abort();
      await finished.catch(() => {});
      throw new RangeError(`chunk at byte ${offset} of ${recordingId}, but the kept audio ends at byte ${session.end}`);
    }
    tx.objectStore(CHUNKS).put({ recordingId, offset, bytes } satisfies ChunkRecord);
    tx.objectStore(SESSIONS).put({
      recordingId,
      end: offset + bytes.byteLength,
      updatedAt: Date.now(),
    } satisfies SessionRecord);
    await finished;
  }

  async drop(recordingId: string, upTo: number): Promise<void> {
    const tx = await this.#transaction('readwrite');
    const finished = committed(tx);
    const request = tx.objectStore(CHUNKS).openCursor(chunksOf(recordingId));
    request.onsuccess = () => {
      const cursor = request.result;
      if (!cursor || chunkEnd(cursor.value as ChunkRecord) > upTo) return;
      cursor.delete();
      cursor.continue();
    };
    await finished;
  }

  async read(recordingId: string, from: number): Promise<UnackedChunk[]> {
    const tx = await this.#transaction('readonly');
    const records = (await done(tx.objectStore(CHUNKS).getAll(chunksOf(recordingId)))) as ChunkRecord[];
    return records.filter((chunk) => chunkEnd(chunk) > from).map(({ offset, bytes }) => ({ offset, bytes }));
  }

  async sessions(): Promise<UnackedSession[]> {
    const tx = await this.#transaction('readonly');
    const sessions = (await done(tx.objectStore(SESSIONS).getAll())) as SessionRecord[];
    return Promise.all(
      sessions.map(async ({ recordingId, end, updatedAt }) => {
        const first = (await done(tx.objectStore(CHUNKS).get(chunksOf(recordingId)))) as ChunkRecord | undefined;
        return { recordingId, start: first?.offset ?? end, end, updatedAt };
      }),
    );
  }

  async clear(recordingId: string): Promise<void> {
    const tx = await this.#transaction('readwrite');
    const finished = committed(tx);
    tx.objectStore(SESSIONS).delete(recordingId);
    tx.objectStore(CHUNKS).delete(chunksOf(recordingId));
    await finished;
  }
}
