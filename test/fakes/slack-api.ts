/**
 * In-process fake of Slack's Web API (https://slack.com/api/<method>) over `node:http`.
 *
 * Point the real `WebClient` / Bolt `App` at it with
 * `clientOptions: { slackApiUrl: fake.url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true }`.
 *
 * Wire format (verified in /work/shared/PLATFORMS.md §1, §3 and §8):
 * - WebClient POSTs `application/x-www-form-urlencoded` with `Authorization: Bearer <token>`;
 *   objects/arrays (`blocks`, `view`, `attachments`, `metadata`) are JSON strings inside the form.
 *   Booleans arrive as the strings `"true"` / `"false"`.
 * - Slack answers HTTP 200 with `{ ok: true|false, ... }`; only rate limiting uses HTTP 429 with a
 *   `Retry-After` header (seconds). Anything else non-200 is an outage.
 * - `respond()` in Bolt POSTs JSON to the `response_url` of the payload; this fake serves
 *   `POST /response/:id` as that sink.
 *
 * Directory semantics: when `opts.users` is given the user directory is authoritative
 * (unknown user ids → `user_not_found` / `channel_not_found` like Slack). Channels that the fake has
 * never seen are accepted and registered on first use (the workspace's pre-existing channels, e.g. the
 * one a slash command came from), unless `strictChannels` is set. Reads (`conversations.history` / `.replies`) never
 * register: like `conversations.info`, an unseen conversation is `channel_not_found`.
 *
 * Knobs for tests and benchmarks: `latencyMs` holds every Web API answer back (the method still runs on arrival);
 * `failNext` injects errors, 429s, 500s, and 500s after the work was done (`applied: true`).
 */
import http from 'node:http';
import { pollUntil } from './wait';
import type { AddressInfo } from 'node:net';

/** One recorded Web API call, in arrival order. */
export interface SlackCall {
  /** Method name, e.g. `chat.postMessage`. */
  method: string;
  /** Decoded arguments (form or JSON body, plus query string); JSON-in-form fields are parsed. */
  args: Record<string, any>;
  /** Token from `Authorization: Bearer`, else from the `token` body field, else null. */
  token: string | null;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** HTTP status the fake answered with (200, or an injected 429/500). */
  status: number;
  /** The JSON (or text, for injected 500s) the fake answered with. */
  response: any;
  /** For an injected `{ status: 500, applied: true }`: the result the method really produced (the caller never saw it). */
  appliedResponse?: any;
}

/** One version of a message (the post itself, then one entry per `chat.update`). */
export interface FakeMessageVersion {
  text?: string;
  blocks?: any[];
  attachments?: any[];
  metadata?: any;
  /** `Date.now()` when this version was written. */
  at: number;
  /** Method that produced this version. */
  via: 'chat.postMessage' | 'chat.update' | 'seed';
}

/** Current state of a message the bot posted (or a test seeded). */
export interface FakeMessage {
  channel: string;
  ts: string;
  /** Author user id (the bot user for messages posted through the API). */
  user: string;
  text?: string;
  blocks?: any[];
  attachments?: any[];
  metadata?: any;
  thread_ts?: string;
  pinned: boolean;
  /** Every version in order: `history[0]` is the original post, later entries are updates. */
  history: FakeMessageVersion[];
}

/** An ephemeral message (`chat.postEphemeral`); these cannot be updated through the Web API. */
export interface FakeEphemeral {
  channel: string;
  user: string;
  message_ts: string;
  text?: string;
  blocks?: any[];
  thread_ts?: string;
  at: number;
}

/** A channel as the fake knows it. Only `id`, `name`, `members`, `archived` are needed to seed one. */
export interface FakeChannel {
  id: string;
  name: string;
  topic?: string;
  purpose?: string;
  members: Set<string>;
  archived: boolean;
  isPrivate?: boolean;
  created?: number;
  creator?: string;
  /** Registered on first use of an unseen id: membership is unknown, so member checks are skipped. */
  autoRegistered?: boolean;
}

/** A user in the fake directory. */
export interface FakeUser {
  id: string;
  name: string;
  email?: string;
  tz?: string;
  locale?: string;
  isBot?: boolean;
}

/**
 * A failure to inject with {@link FakeSlack.failNext}.
 * - `{ error }`: HTTP 200 `{ ok: false, error }`; nothing happens.
 * - `{ status: 429, retryAfter }`: rate limited (`Retry-After` seconds); nothing happens.
 * - `{ status: 500 }`: outage before Slack did anything.
 * - `{ status: 500, applied: true }`: Slack did the work (side effects happen, e.g. the channel is created) but the
 *   caller gets HTTP 500 instead of the result, as when the process or network fails after Slack acted.
 * - `{ hang: true }`: no answer ever comes (the connection stays open until the caller gives up); nothing happens.
 *   With `applied: true` Slack did the work first, as when its answer is lost on a stalled connection.
 */
export type SlackFailure =
  | { error: string }
  | { status: 429; retryAfter: number }
  | { status: 500 }
  | { status: 500; applied: true }
  | { hang: true; applied?: boolean };

/** Handle on a running fake Slack. */
export interface FakeSlack {
  /** Base for `clientOptions.slackApiUrl`, e.g. `http://127.0.0.1:PORT/api/`. */
  url: string;
  /** `http://127.0.0.1:PORT`; response_url sinks live at `${origin}/response/<id>`. */
  origin: string;
  teamId: string;
  teamDomain: string;
  botUserId: string;
  botId: string;
  appId: string;
  /** Every Web API call in order (including failed and injected-failure calls). */
  calls: SlackCall[];
  /** Calls to one method, in order. */
  callsTo(method: string): SlackCall[];
  /** JSON POSTed to `/response/:id` (Bolt's `respond()`), in order. */
  responses: { id: string; body: any; at: number }[];
  /** Key `${channel}:${ts}` → current message state (with `history` of versions). */
  messages: Map<string, FakeMessage>;
  /** Ephemeral messages, in order. */
  ephemerals: FakeEphemeral[];
  /** Channel id → channel. Tests may seed entries directly or with {@link FakeSlack.addChannel}. */
  channels: Map<string, FakeChannel>;
  /** User directory (opts.users plus the bot user). */
  users: Map<string, FakeUser>;
  /** App DM channel id (`D…`) → user id, created by posting to a user id or `conversations.open`. */
  dms: Map<string, string>;
  /** Views opened/updated/pushed, by view id (current state). */
  views: Map<string, any>;
  /** Bookmarks added with `bookmarks.add`. */
  bookmarks: any[];
  /**
   * Users that exist in the directory but cannot be invited to channels (guests restricted from the conversation):
   * `conversations.invite` reports them with the per-user error `user_is_restricted`. Starts as `opts.uninvitable`.
   */
  uninvitable: Set<string>;
  /**
   * Delay, in ms, before every Web API (`/api/<method>`) response is sent (default `opts.latencyMs` or 0). The method
   * still runs and is recorded when the request arrives. Mutable; `reset()` leaves it as set.
   */
  latencyMs: number;
  /** Delay, in ms, before a response_url POST is taken (and recorded in `responses`); default 0. */
  responseLatencyMs: number;
  /**
   * Make the next `times` (default 1) calls to `method` fail (see {@link SlackFailure}).
   * Use method `response_url` to fail `respond()` posts (`{ error }` → HTTP 404 with that text; `applied` stores the post).
   */
  failNext(method: string, failure: SlackFailure, times?: number): void;
  /** Register a trigger id as issued now (the client helper does this) so `views.open` enforces its 3 s expiry. */
  issueTrigger(triggerId: string, issuedAt?: number): void;
  /** Seed a channel (e.g. the channel a slash command comes from). The bot is a member unless `members` says otherwise. */
  addChannel(c: { id?: string; name: string; members?: Iterable<string>; archived?: boolean; isPrivate?: boolean; topic?: string; purpose?: string }): FakeChannel;
  /**
   * Seed a message written by a person (not the bot), e.g. one a test then sends a `reaction_added` event for. It gets a
   * fresh ts (history `via: 'seed'`); `thread_ts` makes it a reply. An unseen `C…`/`G…` channel is registered like on
   * first API use (unless `strictChannels`).
   */
  addMessage(m: { channel: string; user: string; text: string; thread_ts?: string }): FakeMessage;
  /** The message as Slack renders it in API responses and interaction payloads (`{type:'message', ts, text, blocks, …}`). */
  messagePayload(channel: string, ts: string): any | undefined;
  /** Wait until `predicate(fake)` is true (polls every 10 ms; default timeout 5 s; throws listing the calls seen). */
  waitFor(predicate: (f: FakeSlack) => boolean, timeoutMs?: number): Promise<void>;
  /**
   * Forget all calls, responses, messages (seeded ones too), channels, views, failures and triggers; restore the user
   * directory and `uninvitable` from the options. `latencyMs` stays as set; ts/id counters keep increasing.
   */
  reset(): void;
  /** Stop the server (closing keep-alive connections). */
  close(): Promise<void>;
}

/** Options for {@link createFakeSlack}. */
export interface FakeSlackOptions {
  /** User directory. When given, it is authoritative: unknown users are `user_not_found`. */
  users?: Record<string, { name: string; email?: string; tz?: string; locale?: string }>;
  botUserId?: string;
  botId?: string;
  teamId?: string;
  teamDomain?: string;
  appId?: string;
  /** Answer `channel_not_found` for channel ids the fake has not seen (default false: register them). */
  strictChannels?: boolean;
  /** Accept only these tokens (others → `invalid_auth`). Default: any token; none → `not_authed`. */
  validTokens?: string[];
  /** Lifetime of issued trigger ids; Slack: 3 s (api.slack.com/docs/triggers). 0 disables. */
  triggerTtlMs?: number;
  /** Initial {@link FakeSlack.latencyMs}: delay every Web API response by this many ms (default 0). */
  latencyMs?: number;
  /** Initial {@link FakeSlack.uninvitable}: existing users that `conversations.invite` rejects with `user_is_restricted`. */
  uninvitable?: Iterable<string>;
}

/** The DM channel id this fake uses for the app's DM with `userId` (Slack answers a post to `U…` with a `D…` channel). */
export function dmChannelId(userId: string): string {
  return `D${userId}`;
}

// ---------------------------------------------------------------------------------------------
// Block Kit validation (limits from docs.slack.dev/reference/block-kit/*)
// ---------------------------------------------------------------------------------------------

const BLOCK_TYPES = new Set([
  'section', 'divider', 'image', 'actions', 'context', 'input', 'header', 'rich_text', 'video',
  'file', 'markdown', 'call', 'table', 'context_actions',
]);

const INTERACTIVE_ELEMENTS = new Set([
  'button', 'static_select', 'external_select', 'users_select', 'conversations_select', 'channels_select',
  'multi_static_select', 'multi_external_select', 'multi_users_select', 'multi_conversations_select',
  'multi_channels_select', 'overflow', 'datepicker', 'timepicker', 'datetimepicker', 'checkboxes',
  'radio_buttons', 'plain_text_input', 'email_text_input', 'url_text_input', 'number_input',
  'rich_text_input', 'file_input', 'workflow_button',
]);

interface BlockCheckState {
  errors: string[];
  actionIds: Set<string>;
  blockIds: Set<string>;
}

function err(st: BlockCheckState, msg: string, pointer: string): void {
  st.errors.push(`[ERROR] ${msg} [json-pointer:${pointer}]`);
}

function checkText(st: BlockCheckState, t: any, p: string, o: { max: number; plainOnly?: boolean; required?: boolean }): void {
  if (t === undefined || t === null) {
    if (o.required) err(st, 'missing required field: text', p);
    return;
  }
  if (typeof t !== 'object' || (t.type !== 'plain_text' && t.type !== 'mrkdwn')) {
    err(st, 'must be a text object of type plain_text or mrkdwn', p);
    return;
  }
  if (o.plainOnly && t.type !== 'plain_text') err(st, 'must be a plain_text object', `${p}/type`);
  if (typeof t.text !== 'string' || t.text.length === 0) err(st, 'must be more than 0 characters', `${p}/text`);
  else if (t.text.length > o.max) err(st, `must be less than ${o.max + 1} characters`, `${p}/text`);
}

function checkElement(st: BlockCheckState, e: any, p: string): void {
  if (!e || typeof e !== 'object' || typeof e.type !== 'string') {
    err(st, 'element must be an object with a type', p);
    return;
  }
  if (!INTERACTIVE_ELEMENTS.has(e.type)) {
    if (e.type === 'image') {
      if (!e.alt_text) err(st, 'missing required field: alt_text', p);
      return;
    }
    if (e.type === 'plain_text' || e.type === 'mrkdwn') return; // context text elements
    err(st, `unknown element type "${e.type}"`, `${p}/type`);
    return;
  }
  if (e.action_id !== undefined) {
    // action_id: max 255 characters; Firebell requires them unique within one message/view.
    if (typeof e.action_id !== 'string' || e.action_id.length > 255) err(st, 'must be less than 256 characters', `${p}/action_id`);
    else if (st.actionIds.has(e.action_id)) err(st, `action_id "${e.action_id}" already exists`, `${p}/action_id`);
    else st.actionIds.add(e.action_id);
  }
  if (e.type === 'button') {
    // button: text plain_text ≤ 75, value ≤ 2000, url ≤ 3000, style primary|danger.
    checkText(st, e.text, `${p}/text`, { max: 75, plainOnly: true, required: true });
    if (e.value !== undefined && (typeof e.value !== 'string' || e.value.length > 2000)) err(st, 'must be less than 2001 characters', `${p}/value`);
    if (e.url !== undefined && (typeof e.url !== 'string' || e.url.length > 3000)) err(st, 'must be less than 3001 characters', `${p}/url`);
    if (e.style !== undefined && e.style !== 'primary' && e.style !== 'danger') err(st, 'must be one of primary, danger', `${p}/style`);
  }
  if (e.type === 'static_select' || e.type === 'multi_static_select' || e.type === 'overflow' || e.type === 'checkboxes' || e.type === 'radio_buttons') {
    const opts: any[] = Array.isArray(e.options) ? e.options : [];
    if (Array.isArray(e.option_groups)) for (const g of e.option_groups) if (Array.isArray(g?.options)) opts.push(...g.options);
    if (opts.length === 0) err(st, 'missing required field: options', `${p}/options`);
    // static_select: ≤ 100 options; overflow: 1..5 options; option text ≤ 75, value ≤ 150.
    const max = e.type === 'overflow' ? 5 : e.type === 'checkboxes' || e.type === 'radio_buttons' ? 10 : 100;
    if (opts.length > max) err(st, `must provide no more than ${max} items`, `${p}/options`);
    opts.forEach((o, i) => {
      const plainOnly = e.type !== 'checkboxes' && e.type !== 'radio_buttons';
      checkText(st, o?.text, `${p}/options/${i}/text`, { max: 75, plainOnly, required: true });
      if (typeof o?.value !== 'string' || o.value.length > 150) err(st, 'must be a string of at most 150 characters', `${p}/options/${i}/value`);
    });
  }
  if (e.placeholder !== undefined) checkText(st, e.placeholder, `${p}/placeholder`, { max: 150, plainOnly: true });
}

function checkBlocks(st: BlockCheckState, blocks: unknown, pointer: string, maxBlocks: number): void {
  if (!Array.isArray(blocks)) {
    err(st, 'must be an array', pointer);
    return;
  }
  if (blocks.length > maxBlocks) err(st, `must provide no more than ${maxBlocks} items`, pointer);
  blocks.forEach((b: any, i: number) => {
    const p = `${pointer}/${i}`;
    if (!b || typeof b !== 'object' || typeof b.type !== 'string') {
      err(st, 'block must be an object with a type', p);
      return;
    }
    if (!BLOCK_TYPES.has(b.type)) {
      err(st, `unsupported type "${b.type}"`, `${p}/type`);
      return;
    }
    if (b.block_id !== undefined) {
      // block_id: max 255 characters, unique within a message or view.
      if (typeof b.block_id !== 'string' || b.block_id.length > 255) err(st, 'must be less than 256 characters', `${p}/block_id`);
      else if (st.blockIds.has(b.block_id)) err(st, `block_id "${b.block_id}" already exists`, `${p}/block_id`);
      else st.blockIds.add(b.block_id);
    }
    switch (b.type) {
      case 'section':
        // section: text 1..3000 chars; fields ≤ 10 items of ≤ 2000 chars; text or fields required.
        if (b.text === undefined && b.fields === undefined) err(st, 'must provide text or fields', p);
        checkText(st, b.text, `${p}/text`, { max: 3000 });
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields)) err(st, 'must be an array', `${p}/fields`);
          else {
            if (b.fields.length > 10) err(st, 'must provide no more than 10 items', `${p}/fields`);
            b.fields.forEach((f: any, j: number) => checkText(st, f, `${p}/fields/${j}`, { max: 2000, required: true }));
          }
        }
        if (b.accessory !== undefined) checkElement(st, b.accessory, `${p}/accessory`);
        break;
      case 'header':
        // header: plain_text ≤ 150 chars.
        checkText(st, b.text, `${p}/text`, { max: 150, plainOnly: true, required: true });
        break;
      case 'actions':
        // actions: 1..25 elements.
        if (!Array.isArray(b.elements) || b.elements.length === 0) err(st, 'must provide at least 1 item', `${p}/elements`);
        else {
          if (b.elements.length > 25) err(st, 'must provide no more than 25 items', `${p}/elements`);
          b.elements.forEach((e: any, j: number) => checkElement(st, e, `${p}/elements/${j}`));
        }
        break;
      case 'context':
        // context: 1..10 elements.
        if (!Array.isArray(b.elements) || b.elements.length === 0) err(st, 'must provide at least 1 item', `${p}/elements`);
        else {
          if (b.elements.length > 10) err(st, 'must provide no more than 10 items', `${p}/elements`);
          b.elements.forEach((e: any, j: number) => {
            if (e?.type === 'plain_text' || e?.type === 'mrkdwn') checkText(st, e, `${p}/elements/${j}`, { max: 3000 });
            else checkElement(st, e, `${p}/elements/${j}`);
          });
        }
        break;
      case 'input':
        // input: label plain_text ≤ 2000, hint ≤ 2000, exactly one element.
        checkText(st, b.label, `${p}/label`, { max: 2000, plainOnly: true, required: true });
        if (b.hint !== undefined) checkText(st, b.hint, `${p}/hint`, { max: 2000, plainOnly: true });
        if (b.element === undefined) err(st, 'missing required field: element', `${p}/element`);
        else checkElement(st, b.element, `${p}/element`);
        break;
      case 'image':
        // image: alt_text ≤ 2000; image_url ≤ 3000 or slack_file.
        if (typeof b.alt_text !== 'string' || b.alt_text.length > 2000) err(st, 'missing or too long alt_text', `${p}/alt_text`);
        if (b.image_url === undefined && b.slack_file === undefined) err(st, 'must provide image_url or slack_file', p);
        break;
      default:
        break;
    }
  });
}

function newCheckState(): BlockCheckState {
  return { errors: [], actionIds: new Set(), blockIds: new Set() };
}

/** Validate a modal view like `views.open` does; returns `[ERROR] …` messages (empty when valid). */
function checkView(view: unknown): string[] {
  const st = newCheckState();
  if (!view || typeof view !== 'object' || Array.isArray(view)) {
    err(st, 'failed to match all allowed schemas', '/view');
    return st.errors;
  }
  const v = view as any;
  if (v.type !== 'modal') err(st, 'must be "modal"', '/view/type');
  // Modal title / submit / close: plain_text, ≤ 24 characters.
  checkText(st, v.title, '/view/title', { max: 24, plainOnly: true, required: true });
  if (v.submit !== undefined) checkText(st, v.submit, '/view/submit', { max: 24, plainOnly: true });
  if (v.close !== undefined) checkText(st, v.close, '/view/close', { max: 24, plainOnly: true });
  // Slack itself makes callback_id optional (≤ 255 chars); Firebell routes submissions with
  // Bolt's app.view(callback_id), so a modal without one could never be handled: reject it.
  if (typeof v.callback_id !== 'string' || v.callback_id.length === 0) err(st, 'missing required field: callback_id', '/view/callback_id');
  else if (v.callback_id.length > 255) err(st, 'must be less than 256 characters', '/view/callback_id');
  // private_metadata ≤ 3000 characters; external_id ≤ 255.
  if (v.private_metadata !== undefined && (typeof v.private_metadata !== 'string' || v.private_metadata.length > 3000)) err(st, 'must be a string of at most 3000 characters', '/view/private_metadata');
  if (v.external_id !== undefined && (typeof v.external_id !== 'string' || v.external_id.length > 255)) err(st, 'must be a string of at most 255 characters', '/view/external_id');
  // Modals: ≤ 100 blocks.
  checkBlocks(st, v.blocks ?? [], '/view/blocks', 100);
  // A modal with input blocks needs a submit button.
  if (Array.isArray(v.blocks) && v.blocks.some((b: any) => b?.type === 'input') && v.submit === undefined) {
    err(st, 'submit is required when an input block is present', '/view/submit');
  }
  return st.errors;
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const JSON_FIELDS = ['blocks', 'view', 'attachments', 'metadata'];

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || v === '1' || v === 1;
}

function isUserId(s: string): boolean {
  return /^[UW][A-Z0-9]+$/.test(s);
}

function tzInfo(tz: string): { tz_label: string; tz_offset: number } {
  try {
    const now = new Date();
    const off = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'longOffset' })
      .formatToParts(now).find((x) => x.type === 'timeZoneName')?.value ?? 'GMT';
    const label = new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: 'long' })
      .formatToParts(now).find((x) => x.type === 'timeZoneName')?.value ?? tz;
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(off);
    const secs = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
    return { tz_label: label, tz_offset: secs };
  } catch {
    return { tz_label: tz, tz_offset: 0 };
  }
}

/** A Slack ts (`1700000000.000100`, or a Unix time like `1700000000`) as integer microseconds, for exact comparison. */
function tsMicros(ts: unknown): bigint | null {
  if (typeof ts !== 'string' && typeof ts !== 'number') return null;
  const m = /^(\d+)(?:\.(\d{0,6})\d*)?$/.exec(String(ts).trim());
  if (!m) return null;
  return BigInt(m[1] as string) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/** Slack's cursors are opaque base64 of `<kind>:<position>`, e.g. `dGVhbTpDMDYxRkE1UEI=` = `team:C061FA5PB`. */
function encodeCursor(kind: string, position: string): string {
  return Buffer.from(`${kind}:${position}`, 'utf8').toString('base64');
}

/** The position in a cursor of `kind`; '' for no cursor; null when the cursor is not one this fake issued. */
function decodeCursor(cursor: unknown, kind: string): string | null {
  if (cursor === undefined || cursor === null || cursor === '') return '';
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(cursor)) return null;
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  if (!decoded.startsWith(`${kind}:`) || decoded.length === kind.length + 1) return null;
  return decoded.slice(kind.length + 1);
}

/** A `limit` argument: absent or 0 → `dflt`; above `max` → `max` (Slack caps rather than rejects); junk → null. */
function parseLimit(v: unknown, dflt: number, max: number): number | null {
  if (v === undefined || v === null || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) return null;
  if (n === 0) return dflt;
  return Math.min(n, max);
}

function describeCall(c: SlackCall, i: number): string {
  const args = { ...c.args };
  delete args.token;
  let a = JSON.stringify(args);
  if (a.length > 300) a = `${a.slice(0, 300)}…`;
  const r = c.status !== 200 ? `HTTP ${c.status}` : c.response?.ok ? 'ok' : `error=${c.response?.error}`;
  return `  ${i + 1}. ${c.method} ${a} → ${r}`;
}

type Reply = { status: number; body: any; headers?: Record<string, string> };
type Handler = (args: Record<string, any>, token: string | null) => Record<string, any>;

/**
 * Start a fake Slack Web API on 127.0.0.1 with a random port.
 * Start it before constructing a Bolt `App` (the App may call `auth.test` in its constructor).
 */
export async function createFakeSlack(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
  const teamId = opts.teamId ?? 'T0FIREBELL';
  const teamDomain = opts.teamDomain ?? 'acme';
  const botUserId = opts.botUserId ?? 'U0BOT';
  const botId = opts.botId ?? 'B0BOT';
  const appId = opts.appId ?? 'A0FIREBELL';
  const strictUsers = opts.users !== undefined;
  const triggerTtlMs = opts.triggerTtlMs ?? 3000;

  let seq = 0; // message ts counter (never reset: ts stay strictly increasing)
  let idSeq = 0; // id counter for channels, views, bookmarks
  const nextTs = (): string => {
    seq += 1;
    const micros = seq * 100;
    return `${1700000000 + Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  };
  const nextId = (prefix: string): string => `${prefix}${String(++idSeq).padStart(9, '0')}`;

  const failures = new Map<string, { failure: SlackFailure; left: number }[]>();
  const delayed = new Set<NodeJS.Timeout>(); // responses held back by latencyMs
  const triggers = new Map<string, number>(); // issued trigger id → issued at
  const usedTriggers = new Set<string>();

  const users = new Map<string, FakeUser>();
  const seedUsers = (): void => {
    users.clear();
    users.set(botUserId, { id: botUserId, name: 'firebell', isBot: true });
    for (const [id, u] of Object.entries(opts.users ?? {})) users.set(id, { id, ...u });
  };
  seedUsers();

  const fake: FakeSlack = {
    url: '',
    origin: '',
    teamId,
    teamDomain,
    botUserId,
    botId,
    appId,
    calls: [],
    callsTo: (method) => fake.calls.filter((c) => c.method === method),
    responses: [],
    messages: new Map(),
    ephemerals: [],
    channels: new Map(),
    users,
    dms: new Map(),
    views: new Map(),
    bookmarks: [],
    uninvitable: new Set(opts.uninvitable ?? []),
    latencyMs: opts.latencyMs ?? 0,
    responseLatencyMs: 0,
    failNext(method, failure, times = 1) {
      const q = failures.get(method) ?? [];
      q.push({ failure, left: times });
      failures.set(method, q);
    },
    issueTrigger(triggerId, issuedAt = Date.now()) {
      triggers.set(triggerId, issuedAt);
    },
    addChannel(c) {
      const id = c.id ?? nextId('C');
      const ch: FakeChannel = {
        id,
        name: c.name,
        members: new Set(c.members ?? [botUserId]),
        archived: c.archived ?? false,
        isPrivate: c.isPrivate ?? false,
        created: Math.floor(Date.now() / 1000),
        creator: botUserId,
        ...(c.topic !== undefined ? { topic: c.topic } : {}),
        ...(c.purpose !== undefined ? { purpose: c.purpose } : {}),
      };
      fake.channels.set(id, ch);
      return ch;
    },
    addMessage(m) {
      // A person posting in a channel the fake has not seen: the channel exists in the workspace.
      if (/^[CG][A-Z0-9]+$/.test(m.channel)) lookupChannel(m.channel);
      const ts = nextTs();
      const msg: FakeMessage = {
        channel: m.channel,
        ts,
        user: m.user,
        text: m.text,
        pinned: false,
        history: [{ text: m.text, at: Date.now(), via: 'seed' }],
        ...(m.thread_ts !== undefined && m.thread_ts !== '' ? { thread_ts: m.thread_ts } : {}),
      };
      fake.messages.set(`${m.channel}:${ts}`, msg);
      return msg;
    },
    messagePayload(channel, ts) {
      const m = fake.messages.get(`${channel}:${ts}`);
      if (!m) return undefined;
      const fromBot = m.user === botUserId;
      return {
        type: 'message',
        ...(fromBot ? { bot_id: botId, app_id: appId } : {}),
        user: m.user,
        text: m.text ?? '',
        ts: m.ts,
        team: teamId,
        ...(m.blocks !== undefined ? { blocks: m.blocks } : {}),
        ...(m.attachments !== undefined ? { attachments: m.attachments } : {}),
        ...(m.metadata !== undefined ? { metadata: m.metadata } : {}),
        ...(m.thread_ts !== undefined ? { thread_ts: m.thread_ts } : {}),
        ...(m.history.length > 1 ? { edited: { user: m.user, ts: m.ts } } : {}),
      };
    },
    async waitFor(predicate, timeoutMs = 5000) {
      await pollUntil(() => predicate(fake), timeoutMs, 'FakeSlack', () => {
        const lines = fake.calls.map(describeCall);
        const resp = fake.responses.map((r, i) => `  ${i + 1}. /response/${r.id} ${JSON.stringify(r.body).slice(0, 300)}`);
        return `Web API calls seen (${lines.length}):\n${lines.join('\n') || '  (none)'}\nresponse_url posts (${resp.length}):\n${resp.join('\n') || '  (none)'}`;
      });
    },
    reset() {
      fake.calls.length = 0;
      fake.responses.length = 0;
      fake.ephemerals.length = 0;
      fake.bookmarks.length = 0;
      fake.messages.clear();
      fake.channels.clear();
      fake.dms.clear();
      fake.views.clear();
      failures.clear();
      triggers.clear();
      usedTriggers.clear();
      seedUsers();
      fake.uninvitable.clear();
      for (const u of opts.uninvitable ?? []) fake.uninvitable.add(u);
    },
    close: async () => {
      for (const t of delayed) clearTimeout(t);
      delayed.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  // -------------------------------------------------------------------------------------------
  // state helpers
  // -------------------------------------------------------------------------------------------
  const fail = (error: string, extra: Record<string, any> = {}): Record<string, any> => ({ ok: false, error, ...extra });
  const invalidArgs = (messages: string[]): Record<string, any> => fail('invalid_arguments', { response_metadata: { messages } });
  const missing = (field: string): Record<string, any> => invalidArgs([`[ERROR] missing required field: ${field}`]);

  const channelJson = (c: FakeChannel): Record<string, any> => ({
    id: c.id,
    name: c.name,
    name_normalized: c.name,
    is_channel: !c.isPrivate,
    is_group: false,
    is_im: false,
    is_mpim: false,
    is_private: c.isPrivate ?? false,
    created: c.created ?? 0,
    creator: c.creator ?? botUserId,
    is_archived: c.archived,
    is_general: false,
    is_member: c.members.has(botUserId),
    topic: { value: c.topic ?? '', creator: c.topic ? botUserId : '', last_set: 0 },
    purpose: { value: c.purpose ?? '', creator: c.purpose ? botUserId : '', last_set: 0 },
  });

  /** Resolve a conversation id for a channel-scoped method; unknown ids are registered unless strict. */
  const lookupChannel = (id: unknown): FakeChannel | { error: string } => {
    if (typeof id !== 'string' || id === '') return { error: 'channel_not_found' };
    const known = fake.channels.get(id);
    if (known) return known;
    if (!/^[CG][A-Z0-9]+$/.test(id) || opts.strictChannels) return { error: 'channel_not_found' };
    const ch = fake.addChannel({ id, name: id.toLowerCase() });
    ch.autoRegistered = true;
    return ch;
  };

  /**
   * Resolve the `channel` of a read method (conversations.history / .replies). Like conversations.info, reads never
   * register unseen ids: an unknown conversation is `channel_not_found`. A bot token reads only conversations its bot
   * user is a member of (docs.slack.dev/reference/methods/conversations.history, token table) → `not_in_channel`;
   * auto-registered channels (membership unknown) and the app's DMs are readable.
   */
  const lookupReadable = (id: unknown): { id: string } | { error: string } => {
    if (typeof id !== 'string' || id === '') return { error: 'channel_not_found' };
    if (fake.dms.has(id)) return { id };
    const ch = fake.channels.get(id);
    if (!ch) return { error: 'channel_not_found' };
    if (!ch.autoRegistered && !ch.members.has(botUserId)) return { error: 'not_in_channel' };
    return { id };
  };

  /** Messages in `channel` ordered by ts (oldest first). */
  const messagesIn = (channel: string): FakeMessage[] =>
    [...fake.messages.values()]
      .filter((m) => m.channel === channel)
      .sort((x, y) => {
        const a = tsMicros(x.ts) ?? 0n;
        const b = tsMicros(y.ts) ?? 0n;
        return a < b ? -1 : a > b ? 1 : 0;
      });

  /** Resolve the `channel` of chat.postMessage: ids, user ids (→ app DM) and channel names. */
  const resolvePostTarget = (channel: unknown): { id: string; ch?: FakeChannel } | { error: string } => {
    if (typeof channel !== 'string' || channel === '') return { error: 'channel_not_found' };
    if (isUserId(channel)) {
      // Posting to a user id opens the app's DM; Slack answers with the D… channel id.
      if (strictUsers && !users.has(channel)) return { error: 'channel_not_found' };
      const d = dmChannelId(channel);
      fake.dms.set(d, channel);
      return { id: d };
    }
    if (channel.startsWith('D')) return { id: channel };
    if (/^[CG][A-Z0-9]+$/.test(channel)) {
      const ch = lookupChannel(channel);
      return 'error' in ch ? ch : { id: ch.id, ch };
    }
    const name = channel.replace(/^#/, '');
    for (const ch of fake.channels.values()) if (ch.name === name) return { id: ch.id, ch };
    return { error: 'channel_not_found' };
  };

  /** Checks shared by chat.postMessage and chat.update. */
  const checkMessageContent = (a: Record<string, any>): Record<string, any> | null => {
    const hasText = typeof a.text === 'string' && a.text.length > 0;
    const hasBlocks = a.blocks !== undefined && a.blocks !== '';
    const hasAtt = a.attachments !== undefined && a.attachments !== '';
    if (!hasText && !hasBlocks && !hasAtt) return fail('no_text');
    // Top-level text: Slack truncates/rejects beyond 40,000 characters.
    if (hasText && a.text.length > 40000) return fail('msg_too_long');
    if (hasBlocks) {
      if (typeof a.blocks === 'string') return fail('invalid_blocks_format'); // not valid JSON
      const st = newCheckState();
      // Messages: ≤ 50 blocks.
      checkBlocks(st, a.blocks, '/blocks', 50);
      if (st.errors.length) return fail('invalid_blocks', { response_metadata: { messages: st.errors } });
    }
    if (a.metadata !== undefined && (typeof a.metadata !== 'object' || typeof a.metadata?.event_type !== 'string' || typeof a.metadata?.event_payload !== 'object')) {
      return fail('invalid_metadata_format');
    }
    return null;
  };

  const checkTrigger = (a: Record<string, any>): Record<string, any> | null => {
    const trigger = a.trigger_id ?? a.interactivity_pointer;
    if (typeof trigger !== 'string' || trigger === '') return missing('trigger_id');
    // trigger_id: single use, expires 3 s after issue (api.slack.com/docs/triggers).
    if (usedTriggers.has(trigger)) return fail('exchanged_trigger_id');
    const issued = triggers.get(trigger);
    if (issued !== undefined && triggerTtlMs > 0 && Date.now() - issued > triggerTtlMs) return fail('expired_trigger_id');
    return null;
  };

  const storeView = (view: any, base: { id?: string; root?: string; previous?: string | null }): any => {
    const id = base.id ?? nextId('V');
    const stored = {
      id,
      team_id: teamId,
      type: view.type,
      title: view.title,
      ...(view.submit !== undefined ? { submit: view.submit } : {}),
      ...(view.close !== undefined ? { close: view.close } : {}),
      blocks: view.blocks ?? [],
      private_metadata: view.private_metadata ?? '',
      callback_id: view.callback_id ?? '',
      state: { values: {} },
      hash: `${1700000000 + idSeq}.${String(++idSeq).padStart(8, '0')}`,
      clear_on_close: truthy(view.clear_on_close),
      notify_on_close: truthy(view.notify_on_close),
      root_view_id: base.root ?? id,
      previous_view_id: base.previous ?? null,
      app_id: appId,
      external_id: view.external_id ?? '',
      app_installed_team_id: teamId,
      bot_id: botId,
    };
    fake.views.set(id, stored);
    return stored;
  };

  const viewError = (view: unknown): Record<string, any> | null => {
    if (typeof view === 'string') return invalidArgs(['[ERROR] failed to match all allowed schemas [json-pointer:/view]']);
    if (view === undefined) return missing('view');
    // views.*: a view payload may be at most 250 kB.
    if (JSON.stringify(view).length > 250_000) return fail('view_too_large');
    const errors = checkView(view);
    return errors.length ? invalidArgs(errors) : null;
  };

  const userJson = (u: FakeUser, includeLocale: boolean): Record<string, any> => ({
    id: u.id,
    team_id: teamId,
    name: u.name,
    deleted: false,
    real_name: u.name,
    ...(u.tz !== undefined ? { tz: u.tz, ...tzInfo(u.tz) } : {}),
    // Slack includes `locale` only when the call passes include_locale=true.
    ...(includeLocale && u.locale !== undefined ? { locale: u.locale } : {}),
    profile: { real_name: u.name, display_name: u.name, ...(u.email !== undefined ? { email: u.email } : {}), team: teamId },
    is_admin: false,
    is_owner: false,
    is_bot: u.isBot ?? false,
    is_app_user: false,
    updated: 1700000000,
  });

  // -------------------------------------------------------------------------------------------
  // methods
  // -------------------------------------------------------------------------------------------
  const methods: Record<string, Handler> = {
    'api.test': (a) => ({ ok: true, args: a }),

    'auth.test': () => ({
      ok: true,
      url: `https://${teamDomain}.slack.com/`,
      team: teamDomain,
      user: 'firebell',
      team_id: teamId,
      user_id: botUserId,
      bot_id: botId,
      is_enterprise_install: false,
    }),

    'chat.postMessage': (a) => {
      const target = resolvePostTarget(a.channel);
      if ('error' in target) return fail(target.error);
      if (target.ch?.archived) return fail('is_archived');
      const bad = checkMessageContent(a);
      if (bad) return bad;
      const ts = nextTs();
      const msg: FakeMessage = {
        channel: target.id,
        ts,
        user: botUserId,
        pinned: false,
        history: [],
        ...(a.text !== undefined ? { text: String(a.text) } : {}),
        ...(a.blocks !== undefined ? { blocks: a.blocks } : {}),
        ...(a.attachments !== undefined ? { attachments: a.attachments } : {}),
        ...(a.metadata !== undefined ? { metadata: a.metadata } : {}),
        ...(a.thread_ts !== undefined && a.thread_ts !== '' ? { thread_ts: String(a.thread_ts) } : {}),
      };
      msg.history.push({ text: msg.text, blocks: msg.blocks, attachments: msg.attachments, metadata: msg.metadata, at: Date.now(), via: 'chat.postMessage' });
      fake.messages.set(`${target.id}:${ts}`, msg);
      return { ok: true, channel: target.id, ts, message: fake.messagePayload(target.id, ts) };
    },

    'chat.update': (a) => {
      // chat.update needs a conversation id: a user id is `channel_not_found` (unlike chat.postMessage).
      if (typeof a.channel !== 'string' || a.channel === '' || isUserId(a.channel)) return fail('channel_not_found');
      if (typeof a.ts !== 'string' || a.ts === '') return fail('message_not_found');
      const m = fake.messages.get(`${a.channel}:${a.ts}`);
      if (!m) return fail('message_not_found');
      if (m.user !== botUserId) return fail('cant_update_message');
      const bad = checkMessageContent(a);
      if (bad) return bad;
      if (a.text !== undefined) m.text = String(a.text);
      if (a.blocks !== undefined) m.blocks = a.blocks;
      if (a.attachments !== undefined) m.attachments = a.attachments;
      if (a.metadata !== undefined) m.metadata = a.metadata;
      m.history.push({ text: m.text, blocks: m.blocks, attachments: m.attachments, metadata: m.metadata, at: Date.now(), via: 'chat.update' });
      return { ok: true, channel: m.channel, ts: m.ts, text: m.text ?? '', message: fake.messagePayload(m.channel, m.ts) };
    },

    'chat.delete': (a) => {
      const key = `${a.channel}:${a.ts}`;
      if (!fake.messages.has(key)) return fail('message_not_found');
      fake.messages.delete(key);
      return { ok: true, channel: a.channel, ts: a.ts };
    },

    'chat.postEphemeral': (a) => {
      if (typeof a.channel !== 'string' || a.channel === '') return fail('channel_not_found');
      if (typeof a.user !== 'string' || a.user === '') return missing('user');
      if (strictUsers && !users.has(a.user)) return fail('user_not_found');
      let channelId = a.channel as string;
      if (isUserId(channelId)) channelId = dmChannelId(channelId);
      else if (/^[CG][A-Z0-9]+$/.test(channelId)) {
        const ch = lookupChannel(channelId);
        if ('error' in ch) return fail(ch.error);
        if (ch.archived) return fail('is_archived');
        // The recipient must be in the channel (`user_not_in_channel`).
        if (!ch.autoRegistered && !ch.members.has(a.user)) return fail('user_not_in_channel');
      }
      const bad = checkMessageContent(a);
      if (bad) return bad;
      const message_ts = nextTs();
      fake.ephemerals.push({
        channel: channelId,
        user: a.user,
        message_ts,
        at: Date.now(),
        ...(a.text !== undefined ? { text: String(a.text) } : {}),
        ...(a.blocks !== undefined ? { blocks: a.blocks } : {}),
        ...(a.thread_ts !== undefined ? { thread_ts: String(a.thread_ts) } : {}),
      });
      return { ok: true, message_ts };
    },

    'chat.getPermalink': (a) => {
      const m = fake.messages.get(`${a.channel}:${a.message_ts}`);
      if (!m) return fail('message_not_found');
      return { ok: true, channel: m.channel, permalink: `https://${teamDomain}.slack.com/archives/${m.channel}/p${m.ts.replace('.', '')}` };
    },

    'views.open': (a) => {
      const bad = viewError(a.view) ?? checkTrigger(a);
      if (bad) return bad;
      usedTriggers.add(a.trigger_id ?? a.interactivity_pointer);
      return { ok: true, view: storeView(a.view, {}) };
    },

    'views.push': (a) => {
      const bad = viewError(a.view) ?? checkTrigger(a);
      if (bad) return bad;
      usedTriggers.add(a.trigger_id ?? a.interactivity_pointer);
      return { ok: true, view: storeView(a.view, {}) };
    },

    'views.update': (a) => {
      let current: any;
      if (typeof a.view_id === 'string' && a.view_id !== '') current = fake.views.get(a.view_id);
      else if (typeof a.external_id === 'string' && a.external_id !== '') {
        current = [...fake.views.values()].find((v) => v.external_id === a.external_id);
      } else return missing('view_id');
      if (!current) return fail('not_found');
      if (a.hash !== undefined && a.hash !== '' && a.hash !== current.hash) return fail('hash_conflict');
      const bad = viewError(a.view);
      if (bad) return bad;
      return { ok: true, view: storeView(a.view, { id: current.id, root: current.root_view_id, previous: current.previous_view_id }) };
    },

    'users.info': (a) => {
      const u = typeof a.user === 'string' ? users.get(a.user) : undefined;
      if (!u) return fail('user_not_found');
      return { ok: true, user: userJson(u, truthy(a.include_locale)) };
    },

    'users.lookupByEmail': (a) => {
      if (typeof a.email !== 'string' || a.email === '') return missing('email');
      const email = a.email.toLowerCase();
      const u = [...users.values()].find((x) => x.email?.toLowerCase() === email);
      if (!u) return fail('users_not_found');
      return { ok: true, user: userJson(u, false) };
    },

    'conversations.open': (a) => {
      if (typeof a.channel === 'string' && a.channel !== '') return { ok: true, no_op: true, already_open: true, channel: { id: a.channel } };
      const list = typeof a.users === 'string' ? a.users.split(',').map((s: string) => s.trim()).filter(Boolean) : [];
      if (list.length === 0) return fail('users_list_not_supplied');
      for (const u of list) if (strictUsers && !users.has(u)) return fail('user_not_found');
      if (list.length === 1) {
        const d = dmChannelId(list[0] as string);
        const already = fake.dms.has(d);
        fake.dms.set(d, list[0] as string);
        return { ok: true, ...(already ? { no_op: true, already_open: true } : {}), channel: { id: d } };
      }
      // Group DM (mpim); up to 8 users.
      if (list.length > 8) return fail('too_many_users');
      return { ok: true, channel: { id: `G${[...list].sort().join('').slice(0, 20)}` } };
    },

    'conversations.info': (a) => {
      const ch = typeof a.channel === 'string' ? fake.channels.get(a.channel) : undefined;
      if (!ch) return fail('channel_not_found');
      return { ok: true, channel: channelJson(ch) };
    },

    'conversations.list': (a) => {
      // types: comma-separated public_channel, private_channel, mpim, im (default public_channel);
      // limit: default 100, "no larger than 1000"; cursor-paginated, channels in creation order
      // (docs.slack.dev/reference/methods/conversations.list). The fake lists `fake.channels` only: its DMs and group
      // DMs are not conversations it keeps objects for, so `im`/`mpim` add nothing.
      const KNOWN = ['public_channel', 'private_channel', 'mpim', 'im'];
      const types = typeof a.types === 'string' && a.types.trim() !== ''
        ? a.types.split(',').map((t: string) => t.trim()).filter(Boolean)
        : ['public_channel'];
      if (types.some((t: string) => !KNOWN.includes(t))) return fail('invalid_types');
      const limit = parseLimit(a.limit, 100, 1000);
      if (limit === null) return fail('invalid_limit');
      const excludeArchived = truthy(a.exclude_archived);
      const matches = (c: FakeChannel): boolean => {
        if (excludeArchived && c.archived) return false;
        // A bot token sees the private channels its bot user is a member of, not all of them.
        if (c.isPrivate) return types.includes('private_channel') && c.members.has(botUserId);
        return types.includes('public_channel');
      };
      const all = [...fake.channels.values()];
      const from = decodeCursor(a.cursor, 'team');
      let start = 0;
      if (from === null) return fail('invalid_cursor');
      if (from !== '') {
        start = all.findIndex((c) => c.id === from);
        if (start < 0) return fail('invalid_cursor');
      }
      const channels: Record<string, any>[] = [];
      let next = '';
      for (let i = start; i < all.length; i++) {
        const c = all[i] as FakeChannel;
        if (!matches(c)) continue;
        if (channels.length === limit) {
          next = encodeCursor('team', c.id);
          break;
        }
        channels.push(channelJson(c));
      }
      return { ok: true, channels, response_metadata: { next_cursor: next } };
    },

    'conversations.history': (a) => {
      const target = lookupReadable(a.channel);
      if ('error' in target) return fail(target.error);
      // latest: "only messages before this Unix timestamp" (default now); oldest: "only messages after" (default 0);
      // inclusive: include messages with exactly `latest`/`oldest`, "ignored unless either timestamp is specified";
      // limit: default 100, maximum 999 (docs.slack.dev/reference/methods/conversations.history). Newest first; only
      // parent messages (thread replies come from conversations.replies). This fake models Marketplace/internal apps
      // (Tier 3), not the 15-per-call limit on non-Marketplace commercial apps since May 2025.
      const latest = a.latest === undefined || a.latest === '' ? null : tsMicros(a.latest);
      if (latest === null && a.latest !== undefined && a.latest !== '') return fail('invalid_ts_latest');
      const oldest = a.oldest === undefined || a.oldest === '' ? 0n : tsMicros(a.oldest);
      if (oldest === null) return fail('invalid_ts_oldest');
      const inclusive = truthy(a.inclusive);
      const limit = parseLimit(a.limit, 100, 999);
      if (limit === null) return fail('invalid_limit');
      // Cursor: `next_ts:<ts digits>` of the first message of the next page (as Slack's `bmV4dF90czo…`).
      const from = decodeCursor(a.cursor, 'next_ts');
      if (from === null || (from !== '' && !/^\d+$/.test(from))) return fail('invalid_cursor');
      const upTo = from === '' ? null : BigInt(from);
      const inRange = messagesIn(target.id)
        .filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts)
        .filter((m) => {
          const t = tsMicros(m.ts) ?? 0n;
          if (inclusive ? t < oldest : t <= oldest) return false;
          if (latest !== null && (inclusive ? t > latest : t >= latest)) return false;
          return upTo === null || t <= upTo;
        })
        .reverse();
      const page = inRange.slice(0, limit);
      const following = inRange[limit];
      const pinCount = [...fake.messages.values()].filter((m) => m.channel === target.id && m.pinned).length;
      return {
        ok: true,
        messages: page.map((m) => fake.messagePayload(m.channel, m.ts)),
        has_more: following !== undefined,
        pin_count: pinCount,
        ...(following ? { response_metadata: { next_cursor: encodeCursor('next_ts', following.ts.replace('.', '')) } } : {}),
      };
    },

    'conversations.replies': (a) => {
      const target = lookupReadable(a.channel);
      if ('error' in target) return fail(target.error);
      // ts: the parent or any message in the thread; a message without replies returns just itself;
      // thread_not_found: "Value for ts was missing or invalid" (docs.slack.dev/reference/methods/conversations.replies).
      if (typeof a.ts !== 'string' || a.ts === '') return fail('thread_not_found');
      const m = fake.messages.get(`${target.id}:${a.ts}`);
      if (!m) return fail('thread_not_found');
      const root = m.thread_ts ?? m.ts;
      const thread = messagesIn(target.id).filter((x) => x.ts === root || x.thread_ts === root);
      // The parent first, then the replies oldest first.
      thread.sort((x, y) => (x.ts === root ? -1 : y.ts === root ? 1 : 0));
      // limit: the docs give no default or maximum; the fake answers up to 1000 per page.
      const limit = parseLimit(a.limit, 1000, 1000);
      if (limit === null) return fail('invalid_limit');
      const from = decodeCursor(a.cursor, 'next_ts');
      if (from === null) return fail('invalid_cursor');
      let start = 0;
      if (from !== '') {
        start = thread.findIndex((x) => x.ts.replace('.', '') === from);
        if (start < 0) return fail('invalid_cursor');
      }
      const page = thread.slice(start, start + limit);
      const following = thread[start + limit];
      return {
        ok: true,
        messages: page.map((x) => fake.messagePayload(x.channel, x.ts)),
        has_more: following !== undefined,
        ...(following ? { response_metadata: { next_cursor: encodeCursor('next_ts', following.ts.replace('.', '')) } } : {}),
      };
    },

    'conversations.create': (a) => {
      const name = typeof a.name === 'string' ? a.name : '';
      // Channel names: required, ≤ 80 chars, only lowercase letters, digits, '-' and '_'
      // (docs.slack.dev/reference/methods/conversations.create).
      if (name === '') return fail('invalid_name_required');
      if (name.length > 80) return fail('invalid_name_maxlength');
      if (!/^[a-z0-9_-]{1,80}$/.test(name)) return fail('invalid_name_specials');
      if (/^[-_]+$/.test(name)) return fail('invalid_name_punctuation');
      // Names stay taken by archived channels too.
      for (const ch of fake.channels.values()) if (ch.name === name) return fail('name_taken');
      const ch = fake.addChannel({ name, isPrivate: truthy(a.is_private) });
      return { ok: true, channel: channelJson(ch) };
    },

    'conversations.invite': (a) => {
      const ch = lookupChannel(a.channel);
      if ('error' in ch) return fail(ch.error);
      if (ch.archived) return fail('is_archived');
      if (!ch.members.has(botUserId)) return fail('not_in_channel');
      // `users` is a comma-separated string of up to 1000 ids.
      const list = typeof a.users === 'string' ? a.users.split(',').map((s: string) => s.trim()).filter(Boolean) : [];
      if (list.length === 0) return fail('no_user');
      if (list.length > 1000) return fail('too_many_users');
      const errors: { user: string; ok: false; error: string }[] = [];
      const ok: string[] = [];
      for (const u of list) {
        if (u === botUserId) errors.push({ user: u, ok: false, error: 'cant_invite_self' });
        else if (strictUsers && !users.has(u)) errors.push({ user: u, ok: false, error: 'user_not_found' });
        else if (ch.members.has(u)) errors.push({ user: u, ok: false, error: 'already_in_channel' });
        // user_is_restricted: "An invited user is a guest user that is restricted from accessing this conversation."
        else if (fake.uninvitable.has(u)) errors.push({ user: u, ok: false, error: 'user_is_restricted' });
        else ok.push(u);
      }
      // Without force any per-user error fails the whole call (nobody is invited; `errors` lists each one). With
      // force=true "continue inviting the valid ones while disregarding invalid IDs" (docs.slack.dev/reference/methods/
      // conversations.invite): ok, with the skipped users in `errors`; still an error when nobody could be invited.
      const first = errors[0];
      if (first && !truthy(a.force)) return fail(first.error, { errors });
      if (ok.length === 0 && first) return fail(first.error, { errors });
      for (const u of ok) ch.members.add(u);
      return { ok: true, channel: channelJson(ch), ...(errors.length ? { errors } : {}) };
    },

    'conversations.setTopic': (a) => {
      const ch = lookupChannel(a.channel);
      if ('error' in ch) return fail(ch.error);
      if (ch.archived) return fail('is_archived');
      if (!ch.members.has(botUserId)) return fail('not_in_channel');
      // Topic: ≤ 250 characters.
      if (typeof a.topic === 'string' && a.topic.length > 250) return fail('too_long');
      ch.topic = typeof a.topic === 'string' ? a.topic : '';
      return { ok: true, channel: channelJson(ch) };
    },

    'conversations.setPurpose': (a) => {
      const ch = lookupChannel(a.channel);
      if ('error' in ch) return fail(ch.error);
      if (ch.archived) return fail('is_archived');
      if (!ch.members.has(botUserId)) return fail('not_in_channel');
      // Purpose: ≤ 250 characters.
      if (typeof a.purpose === 'string' && a.purpose.length > 250) return fail('too_long');
      ch.purpose = typeof a.purpose === 'string' ? a.purpose : '';
      return { ok: true, channel: channelJson(ch) };
    },

    'conversations.archive': (a) => {
      const ch = lookupChannel(a.channel);
      if ('error' in ch) return fail(ch.error);
      if (ch.archived) return fail('already_archived');
      if (!ch.members.has(botUserId)) return fail('not_in_channel');
      ch.archived = true;
      return { ok: true };
    },

    'pins.add': (a) => {
      const ch = lookupChannel(a.channel);
      if ('error' in ch) return fail(ch.error);
      if (typeof a.timestamp !== 'string' || a.timestamp === '') return fail('no_item_specified');
      const m = fake.messages.get(`${ch.id}:${a.timestamp}`);
      if (!m) return fail('message_not_found');
      if (m.pinned) return fail('already_pinned');
      if (!ch.members.has(botUserId)) return fail('not_in_channel');
      m.pinned = true;
      return { ok: true };
    },

    'bookmarks.add': (a) => {
      // bookmarks.add takes `channel_id` (not `channel`), `title` and `type` ('link' needs `link`).
      if (typeof a.channel_id !== 'string' || a.channel_id === '') return missing('channel_id');
      if (typeof a.title !== 'string' || a.title === '') return missing('title');
      if (typeof a.type !== 'string' || a.type === '') return missing('type');
      if (a.type === 'link' && (typeof a.link !== 'string' || a.link === '')) return fail('invalid_link');
      const ch = lookupChannel(a.channel_id);
      if ('error' in ch) return fail(ch.error);
      if (ch.archived) return fail('is_archived');
      const now = Math.floor(Date.now() / 1000);
      const bookmark = {
        id: nextId('Bk'),
        channel_id: ch.id,
        title: a.title,
        link: a.link ?? '',
        emoji: a.emoji ?? null,
        icon_url: null,
        type: a.type,
        entity_id: null,
        date_created: now,
        date_updated: 0,
        rank: 'U',
        last_updated_by_user_id: botUserId,
        last_updated_by_team_id: teamId,
        shortcut_id: null,
        app_id: appId,
      };
      fake.bookmarks.push(bookmark);
      return { ok: true, bookmark };
    },
  };

  // -------------------------------------------------------------------------------------------
  // HTTP
  // -------------------------------------------------------------------------------------------
  const takeFailure = (method: string): SlackFailure | undefined => {
    const q = failures.get(method);
    const head = q?.[0];
    if (!q || !head) return undefined;
    head.left -= 1;
    if (head.left <= 0) q.shift();
    if (q.length === 0) failures.delete(method);
    return head.failure;
  };

  const failureReply = (f: SlackFailure): Reply => {
    if ('error' in f) return { status: 200, body: { ok: false, error: f.error } };
    if ('hang' in f) return { status: 0, body: 'no answer' };
    if (f.status === 429) return { status: 429, body: { ok: false, error: 'ratelimited' }, headers: { 'Retry-After': String(f.retryAfter) } };
    return { status: 500, body: 'Internal Server Error' };
  };

  const parseArgs = (raw: string, contentType: string, query: URLSearchParams): Record<string, any> | null => {
    const args: Record<string, any> = Object.fromEntries(query);
    const ct = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
    if (raw.length > 0) {
      if (ct === 'application/json') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw);
        } catch {
          return null;
        }
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(args, parsed);
        else return null;
      } else {
        Object.assign(args, Object.fromEntries(new URLSearchParams(raw)));
      }
    }
    for (const f of JSON_FIELDS) {
      const v = args[f];
      if (typeof v === 'string' && v !== '') {
        try {
          args[f] = JSON.parse(v);
        } catch {
          /* leave the raw string: validators report it */
        }
      }
    }
    return args;
  };

  const send = (res: http.ServerResponse, r: Reply): void => {
    const isText = typeof r.body === 'string';
    res.writeHead(r.status, {
      'Content-Type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
      ...(r.headers ?? {}),
    });
    res.end(isText ? r.body : JSON.stringify(r.body));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const u = new URL(req.url ?? '/', 'http://fake');
      const path = u.pathname;

      // response_url sink (Bolt's respond() POSTs JSON here).
      const rm = /^\/response\/([^/]+)$/.exec(path);
      if (rm && req.method === 'POST') {
        const f = takeFailure('response_url');
        let body: any = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          /* keep text */
        }
        if (f && 'applied' in f && f.applied) fake.responses.push({ id: decodeURIComponent(rm[1] as string), body, at: Date.now() });
        if (f && 'hang' in f) return;
        if (f) return send(res, 'error' in f ? { status: 404, body: f.error } : failureReply(f));
        const accept = () => {
          fake.responses.push({ id: decodeURIComponent(rm[1] as string), body, at: Date.now() });
          send(res, { status: 200, body: 'ok' });
        };
        if (!(fake.responseLatencyMs > 0)) return accept();
        const t = setTimeout(() => {
          delayed.delete(t);
          if (!res.destroyed && !res.writableEnded) accept();
        }, fake.responseLatencyMs);
        delayed.add(t);
        return;
      }

      const am = /^\/api\/([A-Za-z0-9_.]+)$/.exec(path);
      if (!am) return send(res, { status: 404, body: 'Not Found' });
      const method = am[1] as string;
      const at = Date.now();
      const args = parseArgs(raw, String(req.headers['content-type'] ?? ''), u.searchParams);
      const auth = String(req.headers.authorization ?? '');
      const bearer = /^Bearer\s+(.+)$/i.exec(auth)?.[1] ?? null;
      const token = bearer ?? (typeof args?.token === 'string' && args.token !== '' ? args.token : null);

      let reply: Reply;
      const injected = takeFailure(method);
      // `{ status: 500, applied: true }` runs the method for real below and only replaces its answer.
      const applyThenFail = injected !== undefined && 'applied' in injected && injected.applied === true;
      if (injected && !applyThenFail) reply = failureReply(injected);
      else if (args === null) reply = { status: 200, body: { ok: false, error: 'invalid_json' } };
      else if (token === null) reply = { status: 200, body: { ok: false, error: 'not_authed' } };
      else if (opts.validTokens && !opts.validTokens.includes(token)) reply = { status: 200, body: { ok: false, error: 'invalid_auth' } };
      else {
        const h = methods[method];
        if (!h) reply = { status: 200, body: { ok: false, error: 'unknown_method' } };
        else {
          try {
            reply = { status: 200, body: h(args, token) };
          } catch (e) {
            reply = { status: 200, body: { ok: false, error: 'internal_error', detail: String(e) } };
          }
        }
      }
      let appliedResponse: any;
      if (injected && applyThenFail) {
        appliedResponse = reply.body;
        reply = failureReply(injected);
      }
      fake.calls.push({
        method,
        args: args ?? { _raw: raw },
        token,
        at,
        status: reply.status,
        response: reply.body,
        ...(applyThenFail ? { appliedResponse } : {}),
      });
      const final = reply;
      // Never answered: the caller's own deadline ends it (closed with the fake otherwise).
      if (injected && 'hang' in injected) return;
      if (!(fake.latencyMs > 0)) return send(res, final);
      const t = setTimeout(() => {
        delayed.delete(t);
        if (!res.destroyed && !res.writableEnded) send(res, final);
      }, fake.latencyMs);
      delayed.add(t);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  fake.origin = `http://127.0.0.1:${port}`;
  fake.url = `${fake.origin}/api/`;
  return fake;
}
