import path from 'node:path';
import type { MediaEngine } from '../media/types.ts';
import { createOpenAiProvider } from './openai-provider.ts';
import { cleanSegments, type TranscriptionProvider } from './provider.ts';
import type { TranscriptionConfig } from './transcription-config.ts';

/** Why there is no transcript to be had, naming what to set; the 503 of every request while it is off. */
export const TRANSCRIPTION_OFF =
  'transcription is off on this server: set TRANSCRIBE_BASE_URL (an OpenAI-compatible server, with ' +
  'TRANSCRIBE_API_KEY and TRANSCRIBE_MODEL) or WHISPER_MODEL (a whisper.cpp ggml model file)';

/** The provider the configuration names; null when transcription is off. */
export function createTranscriptionProvider(
  config: TranscriptionConfig,
  media: Pick<MediaEngine, 'transcribe'>,
): TranscriptionProvider | null {
  switch (config.provider) {
    case 'off':
      return null;
    case 'openai':
      return createOpenAiProvider(config);
    case 'whisper':
      return {
        name: 'whisper',
        model: path.basename(config.modelPath),
        // Decoding and inference happen in a media worker, never in this process.
        async transcribe(file, { language, signal }) {
          const segments = await media.transcribe(file, `${file}.srt`, {
            modelPath: config.modelPath,
            language,
            signal,
          });
          return { segments: cleanSegments(segments), language };
        },
      };
  }
}
