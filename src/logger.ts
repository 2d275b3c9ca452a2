import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './flows/ports';

const context = new AsyncLocalStorage<Record<string, unknown>>();

/**
 * Runs `fn` with `fields` (a request id) added to every log line written inside it, through
 * everything it awaits. Nested calls add to the outer fields.
 */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return context.run({ ...(context.getStore() ?? {}), ...fields }, fn);
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/**
 * Structured JSON logs, one object a line. Every known secret value is replaced wherever it
 * appears (message, fields, nested), so a token echoed in an error never reaches the log.
 */
export function createLogger(opts: {
  level?: LogLevel;
  secrets?: (string | undefined)[];
  write?: (line: string) => void;
  base?: Record<string, unknown>;
}): Logger & { child(fields: Record<string, unknown>): Logger } {
  const min = LEVELS[opts.level ?? 'info'];
  const secrets = (opts.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length >= 6);
  const write = opts.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const scrub = (s: string) => secrets.reduce((acc, secret) => acc.split(secret).join('[redacted]'), s);

  function make(base: Record<string, unknown>) {
    const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (LEVELS[level] < min) return;
      const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...context.getStore(), ...base, ...fields }, (_k, v: unknown) =>
        typeof v === 'string' ? scrub(v) : v instanceof Error ? scrub(v.message) : v,
      );
      write(line);
    };
    return {
      debug: (m: string, f?: Record<string, unknown>) => log('debug', m, f),
      info: (m: string, f?: Record<string, unknown>) => log('info', m, f),
      warn: (m: string, f?: Record<string, unknown>) => log('warn', m, f),
      error: (m: string, f?: Record<string, unknown>) => log('error', m, f),
      child: (fields: Record<string, unknown>) => make({ ...base, ...fields }),
    };
  }
  return make(opts.base ?? {});
}

/** A logger that drops everything (tests that do not inspect logs). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
