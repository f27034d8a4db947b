import type { RecordingEventType } from '../events/recording-events.ts';

/** Every event an endpoint can subscribe to, and when it is sent (a Record, so none can be left out). */
export const EVENT_DESCRIPTIONS = {
  'recording.started': 'a recording was created (an upload stored, a stream or a live recording begun)',
  'recording.ready': 'its audio is ready: audio_url and audio_sha256 are set',
  'recording.failed': 'processing failed for good (error_code and error say why)',
  'recording.trashed': 'it was moved to the trash: gone from lists and reads, restorable until purge',
  'recording.restored': 'it was taken out of the trash, as it is now',
  'recording.deleted': 'it was deleted for good: from the trash, or an upload refused while its request waited',
  'transcript.ready': 'a transcript of it is ready',
} satisfies Record<RecordingEventType, string>;

export const EVENT_TYPES = Object.keys(EVENT_DESCRIPTIONS) as RecordingEventType[];

/** Sent to one endpoint on request ("send a test event"), whatever it subscribed to. */
export const TEST_EVENT = 'webhook.test';
