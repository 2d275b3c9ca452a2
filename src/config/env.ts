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
    /** Commands, clicks and form submissions one person may send per minute (0: no limit). */
    FIREBELL_RATE_LIMIT: z.coerce.number().int().min(0).max(100_000).default(60),
    /** Acknowledged commands and clicks worked on at once; the rest wait their turn (0: no bound). */
    FIREBELL_WORK_CONCURRENCY: z.coerce.number().int().min(0).max(10_000).default(32),
    /** Deadline, in ms, for every call to a chat platform's API; a call past it is retried by the outbox. */
    FIREBELL_API_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
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
    /** DingTalk app's AppKey (Client ID) and AppSecret (Client Secret); the ID enables DingTalk. */
    DINGTALK_CLIENT_ID: optional,
    DINGTALK_CLIENT_SECRET: optional,
    /** api.dingtalk.com and oapi.dingtalk.com, or any base URLs (a proxy, a local fake). */
    DINGTALK_API_URL: optional,
    DINGTALK_OAPI_URL: optional,
    /** Stream gateway (default `<DINGTALK_API_URL>/v1.0/gateway/connections/open`). */
    DINGTALK_GATEWAY_URL: optional,
    /** Stream mode (no public URL needed) or HTTP outgoing-robot callbacks on /dingtalk/events. */
    DINGTALK_CONNECTION: z.enum(['stream', 'http']).default('stream'),
    /** The robot's code (default: the Client ID, as for an internal app's robot). */
    DINGTALK_ROBOT_CODE: optional,
    /** Interactive card template id: cards with buttons. Unset: ActionCards whose buttons type the command. */
    DINGTALK_CARD_TEMPLATE_ID: optional,
    /** Scene-group template id: war-room groups. Unset: no war rooms on DingTalk. */
    DINGTALK_SCENE_TEMPLATE_ID: optional,
    /** Staff id that owns war-room groups (default: the first incident manager with a DingTalk account). */
    DINGTALK_ROOM_OWNER: optional,
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
    if (env.DINGTALK_CLIENT_ID && !env.DINGTALK_CLIENT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['DINGTALK_CLIENT_SECRET'], message: 'required with DINGTALK_CLIENT_ID' });
    }
    if (!env.DINGTALK_CLIENT_ID && env.DINGTALK_CLIENT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['DINGTALK_CLIENT_ID'], message: 'required when DingTalk is configured' });
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
  'DINGTALK_CLIENT_SECRET',
  'DATABASE_URL',
  'REDIS_URL',
] as const;
