import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { colorEnabled } from './adapters/console/render';
import { createFirebell } from './app';
import { loadEnv, SECRET_ENV } from './config/env';
import { loadPolicyFile, PolicyError } from './config/policy-schema';
import { createLogger } from './logger';

/**
 * Entry point: `npm start` (platforms from the environment) or `npm run demo` (`--console`:
 * embedded PGlite, in-process scheduler, the terminal chat, the example policy).
 */
async function main() {
  const consoleMode = process.argv.includes('--console');
  let env;
  try {
    env = loadEnv();
  } catch (err) {
    process.stderr.write(`firebell: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger({
    // The console is for people: keep the log quiet there unless asked.
    level: consoleMode && !process.env.LOG_LEVEL ? 'warn' : env.LOG_LEVEL,
    secrets: SECRET_ENV.map((k) => env[k]),
    write: consoleMode ? (line) => process.stderr.write(`${line}\n`) : undefined,
  });
  const configPath =
    env.FIREBELL_CONFIG ?? (existsSync('firebell.yaml') ? 'firebell.yaml' : consoleMode ? 'firebell.example.yaml' : null);
  if (!configPath) {
    process.stderr.write('firebell: no policy file. Set FIREBELL_CONFIG, or copy firebell.example.yaml to firebell.yaml.\n');
    process.exit(2);
  }
  let policy;
  try {
    policy = loadPolicyFile(resolve(configPath));
  } catch (err) {
    process.stderr.write(`firebell: ${err instanceof PolicyError ? err.message : (err as Error).message}\n`);
    process.exit(2);
  }
  if (!consoleMode && !env.SLACK_BOT_TOKEN) {
    logger.warn('no chat platform configured (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or run npm run demo)');
  }

  process.on('unhandledRejection', (reason) => logger.error('unhandled rejection', { error: reason instanceof Error ? reason.message : String(reason) }));
  process.on('uncaughtException', (err) => logger.error('uncaught exception', { error: err.message }));

  const bot = await createFirebell({
    env,
    policy,
    logger,
    ...(consoleMode
      ? {
          console: {
            input: process.stdin,
            output: process.stdout,
            color: colorEnabled(process.stdout),
            ...(process.stdin.isTTY ? { terminal: process.stdout } : { echo: true }),
          },
        }
      : {}),
  });
  const { port } = await bot.start();
  logger.info('firebell started', { port, platforms: bot.platforms, database: env.DATABASE_URL ? 'postgresql' : 'pglite' });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    await bot.stop().catch((err: Error) => logger.error('shutdown failed', { error: err.message }));
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  if (consoleMode) {
    await bot.chatFinished();
    await shutdown('console closed');
  }
}

void main();
