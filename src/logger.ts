import type { FastifyServerOptions } from 'fastify';
import pinoPretty from 'pino-pretty';
import type { Config } from './config.ts';

/**
 * Fastify's logger options for the configured format: one JSON object a line for log collectors, or,
 * for a person at a terminal, readable lines (time, level, message, the rest on the same line).
 * `auto` (the default) decides by whether standard output is a terminal.
 */
export function loggerOptions(
  config: Pick<Config, 'logLevel' | 'logFormat'>,
  stdoutIsTerminal = process.stdout.isTTY === true,
): NonNullable<FastifyServerOptions['logger']> {
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && stdoutIsTerminal);
  if (!pretty) return { level: config.logLevel };
  return {
    level: config.logLevel,
    stream: pinoPretty({
      colorize: stdoutIsTerminal,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
      // Written as it comes, so the last lines before an exit (a failed start, a shutdown) are not lost.
      sync: true,
    }),
  };
}
