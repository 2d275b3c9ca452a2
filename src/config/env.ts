import { z } from 'zod';

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z
  .object({
    DATABASE_URL: optional,
    REDIS_URL: optional,
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    FIREBELL_CONFIG: optional,
    FIREBELL_DATA_DIR: z.string().default('./data'),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    SLACK_BOT_TOKEN: optional,
    SLACK_SIGNING_SECRET: optional,
    SLACK_APP_TOKEN: optional,
    SLACK_API_URL: optional,
    FEISHU_APP_ID: optional,
    FEISHU_APP_SECRET: optional,
    FEISHU_ENCRYPT_KEY: optional,
    FEISHU_VERIFICATION_TOKEN: optional,
    /** open.feishu.cn (default), open.larksuite.com, or any base URL (a proxy, a local fake). */
    FEISHU_DOMAIN: optional,
    /** How Feishu reaches us: the long connection (no public URL needed) or HTTP callbacks. */
    FEISHU_CONNECTION: z.enum(['websocket', 'http']).default('websocket'),
    /** The bot's open_id, so its @mention is dropped from group messages (else: the first mention). */
    FEISHU_BOT_OPEN_ID: optional,
  })
  .superRefine((env, ctx) => {
    if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message: 'required with SLACK_BOT_TOKEN (or set SLACK_APP_TOKEN for Socket Mode)',
      });
    }
    if ((env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN) && !env.SLACK_BOT_TOKEN) {
      ctx.addIssue({ code: 'custom', path: ['SLACK_BOT_TOKEN'], message: 'required when Slack is configured' });
    }
    if (env.FEISHU_APP_ID && !env.FEISHU_APP_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['FEISHU_APP_SECRET'], message: 'required with FEISHU_APP_ID' });
    }
    if (!env.FEISHU_APP_ID && (env.FEISHU_APP_SECRET || env.FEISHU_ENCRYPT_KEY || env.FEISHU_VERIFICATION_TOKEN)) {
      ctx.addIssue({ code: 'custom', path: ['FEISHU_APP_ID'], message: 'required when Feishu is configured' });
    }
    if (env.FEISHU_APP_ID && env.FEISHU_CONNECTION === 'http' && !env.FEISHU_ENCRYPT_KEY && !env.FEISHU_VERIFICATION_TOKEN) {
      // Without either, anyone who finds the URL could post events as anyone.
      ctx.addIssue({ code: 'custom', path: ['FEISHU_ENCRYPT_KEY'], message: 'HTTP callbacks need FEISHU_ENCRYPT_KEY (recommended) or FEISHU_VERIFICATION_TOKEN' });
    }
  });

export type Env = z.infer<typeof envSchema>;

/** Parses the process environment (ARCHITECTURE.md "Public contract"); throws naming each bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment:\n  - ${lines.join('\n  - ')}`);
  }
  return parsed.data;
}

/** Names of variables whose values must never reach a log line. */
export const SECRET_ENV = [
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'FEISHU_APP_SECRET',
  'FEISHU_ENCRYPT_KEY',
  'FEISHU_VERIFICATION_TOKEN',
  'DATABASE_URL',
  'REDIS_URL',
] as const;
