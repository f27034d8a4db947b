/**
 * The ffmpeg CLI command both benchmarks compare the engine with: the same target Earshot produces
 * (Ogg/Opus, 16 kHz, mono, 24 kbps, voip, 20 ms frames) at a given libopus complexity.
 */
export function ffmpegOpusArgs(input: string, output: string, complexity: number, inputFormat?: string): string[] {
  return [
    ...['-nostdin', '-v', 'error', '-y'],
    ...(inputFormat ? ['-f', inputFormat] : []),
    ...['-i', input, '-vn', '-ac', '1', '-ar', '16000'],
    ...['-c:a', 'libopus', '-b:a', '24k', '-application', 'voip', '-frame_duration', '20'],
    ...['-compression_level', String(complexity), '-f', 'ogg', output],
  ];
}
