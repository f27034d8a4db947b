/**
 * Upload panel: choose (or drop) a file, send it as a resumable (tus) upload with a progress bar for
 * the transfer, then follow the server's processing progress (GET /api/recordings/:id) until the
 * recording is ready or failed. The server's size limit is read first and stated beside the file
 * field, and a file over it is refused before anything is sent. A dropped connection is retried, and
 * when the retries run out the person can resume: the server keeps what it received.
 */
import { type ApiClient, ApiError, type Recording } from './api.ts';
import { field, formatBytes, h, notice } from './dom.ts';
import { type ResumableUpload, startResumableUpload, uploadLimit } from './resumable-upload.ts';

export interface UploadPanel {
  element: HTMLElement;
}

const POLL_MS = 1000;

export function uploadPanel(
  api: ApiClient,
  currentOrg: () => string | null,
  onChanged: (recording: Recording) => void,
): UploadPanel {
  const file = h('input', {
    type: 'file',
    name: 'file',
    accept: 'audio/*,video/*,.mp3,.m4a,.wav,.ogg,.oga,.opus,.webm,.flac,.aac,.mp4,.mkv,.mov',
    required: true,
  });
  const name = h('input', { type: 'text', name: 'name', maxLength: 200, autocomplete: 'off' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Upload');
  const cancel = h('button', { type: 'button', class: 'button secondary', hidden: true }, 'Cancel');
  const bar = h('progress', { max: 100, value: 0 });
  const label = h('span', { class: 'progress-label' });
  const progress = h('div', { class: 'progress', hidden: true, 'aria-live': 'polite' }, label, bar);
  const resume = h('button', { type: 'button', class: 'button primary', hidden: true }, 'Resume upload');
  const message = notice();
  let current: ResumableUpload | null = null;
  let limit: number | null = null;

  const FORMATS = 'MP3, M4A, WAV, OGG, WebM, FLAC or a video with sound';
  const fileField = field('Audio or video file', file, FORMATS);
  const hint = fileField.querySelector('.hint');
  void uploadLimit().then((bytes) => {
    limit = bytes;
    if (hint && bytes) hint.textContent = `${FORMATS}, up to ${formatBytes(bytes)}`;
  });
  /** A file over the server's limit is refused here, before any byte is sent. */
  const tooLarge = (chosen: File) =>
    limit !== null && chosen.size > limit
      ? `"${chosen.name}" is ${formatBytes(chosen.size)}; this server takes files up to ${formatBytes(limit)}.`
      : null;
  file.addEventListener('change', () => {
    const chosen = file.files?.[0];
    const problem = chosen ? tooLarge(chosen) : null;
    if (problem) message.show(problem);
    else message.clear();
  });

  const drop = h('div', { class: 'dropzone' }, fileField);
  for (const type of ['dragenter', 'dragover']) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add('dragging');
    });
  }
  for (const type of ['dragleave', 'drop']) drop.addEventListener(type, () => drop.classList.remove('dragging'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    const files = (event as DragEvent).dataTransfer?.files;
    if (files?.length) {
      file.files = files;
      file.dispatchEvent(new Event('change'));
    }
  });

  const setProgress = (phase: string, percent: number | null) => {
    progress.hidden = false;
    if (percent === null) bar.removeAttribute('value');
    else bar.value = Math.round(percent);
    bar.setAttribute('aria-label', phase);
    label.textContent = percent === null ? phase : `${phase} ${Math.round(percent)}%`;
  };

  const busy = (on: boolean) => {
    submit.disabled = on;
    file.disabled = on;
    name.disabled = on;
    cancel.hidden = !on;
  };

  const form = h(
    'form',
    { class: 'stack', 'aria-label': 'Upload a recording' },
    drop,
    field('Name (optional)', name, 'Defaults to the file name'),
    h('div', { class: 'actions' }, submit, resume, cancel),
    progress,
    message.element,
  );

  cancel.addEventListener('click', () => void current?.cancel());
  resume.addEventListener('click', () => {
    resume.hidden = true;
    message.clear();
    current?.resume();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const chosen = file.files?.[0];
    if (!chosen) {
      message.show('Choose a file to upload first.');
      file.focus();
      return;
    }
    const problem = tooLarge(chosen);
    if (problem) {
      message.show(problem);
      return;
    }
    busy(true);
    setProgress('Uploading', 0);
    try {
      current = startResumableUpload(
        api,
        chosen,
        { name: name.value.trim() || undefined, org_id: currentOrg() ?? undefined },
        (sent, total) => {
          setProgress(`Uploading ${formatBytes(sent)} of ${formatBytes(total)} —`, (sent / total) * 100);
          // Sending again (resumed by hand, or by itself once back online): nothing to resume any more.
          if (!resume.hidden) {
            resume.hidden = true;
            message.clear();
          }
        },
        (error) => {
          message.show(`${error.message} The upload is paused; what was sent is kept.`);
          resume.hidden = false;
        },
      );
      let recording = await api.recording(await current.done);
      resume.hidden = true;
      message.clear();
      cancel.hidden = true;
      onChanged(recording);
      // The server is still converting it: follow its progress.
      while (recording.status === 'processing' || recording.status === 'receiving') {
        // progress is a fraction, 0 to 1
        setProgress('Processing', Math.min(100, recording.progress * 100));
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        try {
          recording = await api.recording(recording.id);
        } catch (error) {
          // A network blip while polling isn't a failed upload: keep trying.
          if (error instanceof ApiError && error.code === 'network') continue;
          throw error;
        }
        onChanged(recording);
      }
      if (recording.status === 'failed') {
        progress.hidden = true;
        message.show(`The server couldn't process "${chosen.name}": ${recording.error ?? 'unknown error'}.`);
        return;
      }
      progress.hidden = true;
      message.show(`"${recording.name}" is uploaded and ready.`, 'success');
      form.reset();
    } catch (error) {
      progress.hidden = true;
      if (error instanceof ApiError && error.code === 'aborted') message.show('Upload cancelled.', 'info');
      else message.show(error instanceof ApiError ? error.message : `Upload failed: ${String(error)}`);
    } finally {
      current = null;
      resume.hidden = true;
      busy(false);
    }
  });

  const element = h(
    'section',
    { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload'),
    form,
  );
  return { element };
}
