/**
 * The benchmark's logger: serialises like production (JSON, secrets scrubbed) at `info`, but only
 * counts lines. Kept apart from bench/lib/bot.ts so that the system-under-test child
 * (bench/lib/sut-child.ts) can use it without loading the test harness and the fake Slack.
 */
import { createLogger } from '../../src/logger';

export interface LogCounts {
  debug: number;
  info: number;
  warn: number;
  error: number;
  /** The first few warn/error lines, for the report. */
  samples: string[];
}

export function countingLoggerWithSecrets(level: 'info' | 'warn', secrets: string[]) {
  const counts: LogCounts = { debug: 0, info: 0, warn: 0, error: 0, samples: [] };
  const logger = createLogger({
    level,
    secrets,
    write: (line) => {
      const m = /"level":"(debug|info|warn|error)"/.exec(line);
      const lvl = (m?.[1] ?? 'info') as keyof Omit<LogCounts, 'samples'>;
      counts[lvl]++;
      if ((lvl === 'warn' || lvl === 'error') && counts.samples.length < 10) counts.samples.push(line.slice(0, 400));
    },
  });
  return { logger, counts };
}
