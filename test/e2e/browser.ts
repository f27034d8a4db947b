/**
 * Shared set-up for the browser suites: Debian's Chromium driven by playwright-core, headless, with a
 * fake microphone that plays a speech WAV in a loop, and helpers to save screenshots.
 *
 * Screenshots go to test-artifacts/; with UPDATE_SCREENSHOTS=1 they are also copied to
 * docs/screenshots/ (the committed copies the docs show).
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

const repo = path.resolve(import.meta.dirname, '../..');
export const ARTIFACTS = path.join(repo, 'test-artifacts');
const DOC_SHOTS = path.join(repo, 'docs', 'screenshots');
export const FIXTURES = path.join(repo, 'test', 'fixtures');

/**
 * test/fixtures/speech.wav (5 s, 16 kHz mono PCM) repeated into a longer WAV: Chromium loops the fake
 * capture file anyway, but a longer one means fewer loop seams inside a recording.
 */
export async function longSpeechWav(copies = 6): Promise<string> {
  const wav = await readFile(path.join(FIXTURES, 'speech.wav'));
  const dataAt = wav.indexOf('data');
  if (dataAt < 0) throw new Error('speech.wav has no data chunk');
  const header = Buffer.from(wav.subarray(0, dataAt + 8));
  const pcm = wav.subarray(dataAt + 8, dataAt + 8 + wav.readUInt32LE(dataAt + 4));
  const body = Buffer.concat(Array.from({ length: copies }, () => pcm));
  header.writeUInt32LE(body.length, dataAt + 4);
  header.writeUInt32LE(header.length - 8 + body.length, 4); // RIFF size
  const file = path.join(tmpdir(), `earshot-e2e-speech-${process.pid}.wav`);
  await writeFile(file, Buffer.concat([header, body]));
  return file;
}

export async function launchBrowser(fakeAudioFile: string): Promise<Browser> {
  // launch() runs Chromium on a fresh, empty profile of its own (a new user-data-dir each time).
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-sync',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${fakeAudioFile}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<void> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  // Stable pictures: no blinking caret or running CSS animation.
  await page.screenshot({ path: file, fullPage: options.fullPage ?? false, animations: 'disabled', caret: 'hide' });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(DOC_SHOTS, { recursive: true });
    await copyFile(file, path.join(DOC_SHOTS, `${name}.png`));
  }
}

/** Collects page errors and failed console messages so a test can show them when it fails. */
export function watchConsole(page: Page): string[] {
  const lines: string[] = [];
  page.on('pageerror', (error) => lines.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') lines.push(`${message.type()}: ${message.text()}`);
  });
  return lines;
}
