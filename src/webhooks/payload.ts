/**
 * What a webhook says: `{type, timestamp, data}` (the Standard Webhooks payload shape). For recording
 * events `data` holds the recording exactly as GET /api/recordings/:id shows it, its event `version`
 * and, once it is ready, `audio_url`: a link to the audio, never the audio itself.
 */
import type { RecordingEvent } from '../events/recording-events.ts';
import { toRecordingJson } from '../recordings/recordings.schemas.ts';
import { TEST_EVENT } from './event-types.ts';

export function recordingPayload(event: RecordingEvent, version: number, publicUrl: string, at: Date): string {
  const { recording } = event;
  // A link only where it can be followed: not once deleted, nor while in the trash (the audio is 404).
  const audioUrl =
    event.type !== 'recording.deleted' && !recording.deleted_at && recording.status === 'ready'
      ? `${publicUrl}/api/recordings/${encodeURIComponent(recording.id)}/audio`
      : null;
  return JSON.stringify({
    type: event.type,
    timestamp: at.toISOString(),
    // Facts the caller adds (a transcript's) come first, so they cannot replace the recording's own.
    data: { ...event.data, version, recording: toRecordingJson(recording), audio_url: audioUrl },
  });
}

export function testPayload(endpoint: { id: string; org_id: string }, at: Date): string {
  return JSON.stringify({
    type: TEST_EVENT,
    timestamp: at.toISOString(),
    data: { endpoint_id: endpoint.id, org_id: endpoint.org_id, message: 'A test event sent from Earshot.' },
  });
}
