import type { RecordingEventSink } from '../events/recording-events.ts';
import type { OrgSettingsRepo } from '../orgs/settings.repo.ts';
import { queueTranscript, type TranscriptQueue } from './transcripts.service.ts';

/**
 * Automatic transcription as a decorator of the lifecycle's event sink: when a recording becomes ready
 * in an organisation with auto-transcription on, its transcript is queued in the same transaction that
 * marks it ready, so a crash cannot leave a ready recording that should have been transcribed and was
 * not. The lifecycle itself knows nothing of transcripts. Every event still reaches `inner` (the
 * webhooks' outbox), first. With no provider configured it only passes events on.
 */
export function transcribeWhenReady(
  inner: RecordingEventSink,
  deps: TranscriptQueue & { settings: Pick<OrgSettingsRepo, 'get'> },
): RecordingEventSink {
  return {
    async record(trx, event) {
      await inner.record(trx, event);
      if (event.type !== 'recording.ready' || !deps.provider) return;
      const recording = event.recording;
      if (!(await deps.settings.get(recording.org_id, trx)).autoTranscribe) return;
      await queueTranscript(trx, deps, recording, { userId: recording.user_id, requestedBy: null });
    },
  };
}
