/**
 * Signed inbound Slack requests (slash commands, block_actions, view_submission, Events API) sent to a
 * Bolt HTTP endpoint, shaped exactly like Slack's (see /work/shared/PLATFORMS.md §1 "Request signing"
 * and §4 "Payload shapes"), with `response_url`s pointing at the fake Web API's `/response/<id>` sink.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { FakeSlack } from '../fakes/slack-api';

/**
 * Slack request-signing headers (v0): `X-Slack-Signature = "v0=" + hex(HMAC-SHA256(secret, "v0:" + ts + ":" + body))`.
 * Bolt rejects timestamps older than 5 minutes (future ones pass).
 * @param secret signing secret
 * @param body the exact raw body that will be sent
 * @param ts Unix seconds (default: now)
 */
export function signSlack(secret: string, body: string, ts: number = Math.floor(Date.now() / 1000)): Record<string, string> {
  return {
    'X-Slack-Request-Timestamp': String(ts),
    'X-Slack-Signature': `v0=${createHmac('sha256', secret).update(`v0:${ts}:${body}`).digest('hex')}`,
  };
}

/** Result of an inbound request that carries a trigger and a response_url. */
export interface SlackInteractionResult {
  /** HTTP status Bolt answered with (200 ack, 401 bad signature, 404 not acked within 3 s…). */
  status: number;
  /** Raw response body (the ack body, e.g. `{"response_type":"ephemeral",…}`, or empty). */
  body: string;
  /** `trigger_id` sent in the payload (usable once for `views.open`, within 3 s). */
  triggerId: string;
  /** Id of the response_url sink: `fake.responses.filter(r => r.id === responseId)`. */
  responseId: string;
}

/** Plain HTTP result. */
export interface SlackHttpResult {
  status: number;
  body: string;
}

/** Options for {@link SlackClient.command}. */
export interface CommandOptions {
  /** Channel id the command is run in (default `C0GENERAL`). */
  channel?: string;
  /** `user_name` (default: the fake directory's name, else the lower-cased id). */
  userName?: string;
  /** Slash command (default `/incident`). */
  command?: string;
  /** Request timestamp for signing (Unix seconds; default now). */
  ts?: number;
  /** Sign with the wrong secret. */
  badSignature?: boolean;
  triggerId?: string;
}

/** Options for {@link SlackClient.click}. */
export interface ClickOptions {
  actionId: string;
  value: string;
  channel: string;
  messageTs: string;
  triggerId?: string;
  ts?: number;
  badSignature?: boolean;
  /** Default: the block holding the element with `actionId` in the fake's copy of the message. */
  blockId?: string;
  /** Click on an ephemeral message (payload then has no `message`, `container.is_ephemeral: true`). */
  ephemeral?: boolean;
}

/** A view submission to send. `values[block_id][action_id]` are ViewStateValues. */
export interface SubmitViewInput {
  callbackId: string;
  /** Default: the `private_metadata` of the view opened with this callback_id (or ''). */
  privateMetadata?: string;
  /** e.g. `{ title_b: { title: { type: 'plain_text_input', value: 'x' } } }` */
  values: Record<string, Record<string, any>>;
  /** Default: the id of the latest view the fake opened with this callback_id. */
  viewId?: string;
}

/** Client that sends signed Slack requests to a Bolt endpoint. */
export interface SlackClient {
  /** Send a slash command (form-encoded). */
  command(user: string, text: string, o?: CommandOptions): Promise<SlackInteractionResult>;
  /** Click a button on a message (`block_actions`, form field `payload`). */
  click(user: string, o: ClickOptions): Promise<SlackInteractionResult>;
  /** Submit a modal (`view_submission`, form field `payload`). */
  submitView(user: string, view: SubmitViewInput, o?: { ts?: number; badSignature?: boolean }): Promise<SlackHttpResult>;
  /** Deliver an Events API `event_callback` (JSON). Returns the `eventId` used. */
  event(event: Record<string, any>, o?: { eventId?: string; retryNum?: number; retryReason?: string; ts?: number }): Promise<SlackHttpResult & { eventId: string }>;
  /** POST an arbitrary body with exactly these headers (no signing added). */
  raw(body: string, headers: Record<string, string>): Promise<SlackHttpResult>;
  /** The `view` argument of the first `views.open` call made with `triggerId`, or undefined. */
  openedView(triggerId: string): any | undefined;
}

let seq = 0;
const uniq = (): number => ++seq;

/** A trigger id shaped like Slack's: `<digits>.<digits>.<hex>`. */
function newTriggerId(): string {
  return `${Date.now()}.${String(uniq()).padStart(9, '0')}.${randomBytes(10).toString('hex')}`;
}

/** `<seconds>.<micros>` like Slack's action_ts / event_ts. */
function nowTs(): string {
  const ms = Date.now();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000 + (uniq() % 1000)).padStart(6, '0')}`;
}

/** Find the block/element holding `actionId` in message blocks. */
function findElement(blocks: any[] | undefined, actionId: string): { block: any; index: number; element: any } | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (let index = 0; index < blocks.length; index++) {
    const block = blocks[index];
    const candidates: any[] = [];
    if (Array.isArray(block?.elements)) candidates.push(...block.elements);
    if (block?.accessory) candidates.push(block.accessory);
    if (block?.element) candidates.push(block.element);
    const element = candidates.find((e) => e?.action_id === actionId);
    if (element) return { block, index, element };
  }
  return undefined;
}

/**
 * Slack's inbound payloads, exactly as Slack shapes them, for any transport (HTTP here, Socket
 * Mode envelopes in test/fakes/slack-socket.ts).
 */
export function createSlackPayloads(fake: FakeSlack, teamId: string = fake.teamId) {
  const team = { id: teamId, domain: fake.teamDomain };
  const verificationToken = 'fake-verification-token'; // the legacy `token` field Slack still sends
  const userName = (user: string, override?: string): string => override ?? fake.users.get(user)?.name ?? user.toLowerCase();
  const channelName = (channel: string): string => {
    if (channel.startsWith('D')) return 'directmessage';
    return fake.channels.get(channel)?.name ?? (channel === 'C0GENERAL' ? 'general' : channel.toLowerCase());
  };
  return {
    team,
    verificationToken,
    userName,
    channelName,
    /** Slash command form fields, in Slack's order and names (SlashCommand in bolt/dist/types/command). */
    slashCommand(user: string, text: string, o: { channel: string; triggerId: string; responseId: string; userName?: string; command?: string }): Record<string, string> {
      return {
        token: verificationToken,
        team_id: teamId,
        team_domain: fake.teamDomain,
        channel_id: o.channel,
        channel_name: channelName(o.channel),
        user_id: user,
        user_name: userName(user, o.userName),
        command: o.command ?? '/incident',
        text,
        api_app_id: fake.appId,
        is_enterprise_install: 'false',
        response_url: `${fake.origin}/response/${o.responseId}`,
        trigger_id: o.triggerId,
      };
    },
    /** A `block_actions` payload for a button press on a message the fake holds. */
    blockActions(user: string, o: ClickOptions & { triggerId: string; responseId: string }) {
      const triggerId = o.triggerId;
      const responseId = o.responseId;
      const message = o.ephemeral ? undefined : fake.messagePayload(o.channel, o.messageTs) ?? {
        type: 'message',
        text: '',
        user: fake.botUserId,
        bot_id: fake.botId,
        app_id: fake.appId,
        ts: o.messageTs,
        team: teamId,
        blocks: [],
      };
      const found = findElement(message?.blocks, o.actionId);
      const blockId: string = o.blockId ?? found?.block?.block_id ?? (found ? `fb${found.index}` : 'fb0');
      const payload = {
        type: 'block_actions',
        user: { id: user, username: userName(user), name: userName(user), team_id: teamId },
        api_app_id: fake.appId,
        token: verificationToken,
        container: { type: 'message', message_ts: o.messageTs, channel_id: o.channel, is_ephemeral: !!o.ephemeral },
        trigger_id: triggerId,
        team,
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: o.channel, name: channelName(o.channel) },
        ...(message ? { message } : {}),
        state: { values: {} },
        response_url: `${fake.origin}/response/${responseId}`,
        actions: [
          {
            type: 'button',
            action_id: o.actionId,
            block_id: blockId,
            text: found?.element?.text ?? { type: 'plain_text', text: o.actionId, emoji: true },
            value: o.value,
            ...(found?.element?.style ? { style: found.element.style } : {}),
            action_ts: nowTs(),
          },
        ],
      };
      return payload;
    },
    /** An Events API `event_callback` envelope. */
    eventCallback(event: Record<string, any>, eventId: string) {
      const eventTs = event.event_ts ?? event.ts ?? nowTs();
      return {
        token: verificationToken,
        team_id: teamId,
        context_team_id: teamId,
        context_enterprise_id: null,
        api_app_id: fake.appId,
        event: { ...event, event_ts: eventTs },
        type: 'event_callback',
        event_id: eventId,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [{ enterprise_id: null, team_id: teamId, user_id: fake.botUserId, is_bot: true, is_enterprise_install: false }],
        is_ext_shared_channel: false,
        event_context: `4-${Buffer.from(eventId).toString('base64url')}`,
      };
    },
  };
}

/**
 * Build a client that sends signed Slack requests to a Bolt HTTP endpoint.
 * Content-Type is exactly `application/x-www-form-urlencoded` for forms (Bolt compares it with ===)
 * and `application/json` for Events API deliveries.
 */
export function createSlackClient(opts: { endpoint: string; signingSecret: string; fake: FakeSlack; teamId?: string }): SlackClient {
  const { endpoint, signingSecret, fake } = opts;
  const teamId = opts.teamId ?? fake.teamId;
  const team = { id: teamId, domain: fake.teamDomain };
  const payloads = createSlackPayloads(fake, teamId);
  const { channelName, userName, verificationToken } = payloads;
  /**
   * The user is evidently in a channel they interact from. Record that only for channels whose
   * membership the fake does not really know (unseen or auto-registered ones); channels created via
   * the API or seeded by a test keep their membership, so a missing invite still shows up.
   */
  const noteMember = (channel: string, user: string): void => {
    if (!/^[CG][A-Z0-9]+$/.test(channel)) return;
    let ch = fake.channels.get(channel);
    if (!ch) {
      ch = fake.addChannel({ id: channel, name: channelName(channel) });
      ch.autoRegistered = true;
    }
    if (ch.autoRegistered) ch.members.add(user);
  };

  const post = async (body: string, contentType: string, sign: { ts?: number; bad?: boolean }, extra: Record<string, string> = {}): Promise<SlackHttpResult> => {
    const secret = sign.bad ? `${signingSecret}-wrong` : signingSecret;
    const r = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': contentType, ...signSlack(secret, body, sign.ts), ...extra },
      body,
    });
    return { status: r.status, body: await r.text() };
  };
  const postForm = (payload: unknown, sign: { ts?: number; bad?: boolean }): Promise<SlackHttpResult> =>
    post(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), 'application/x-www-form-urlencoded', sign);

  const issue = (triggerId?: string): string => {
    const t = triggerId ?? newTriggerId();
    fake.issueTrigger(t);
    return t;
  };

  return {
    async command(user, text, o = {}) {
      const channel = o.channel ?? 'C0GENERAL';
      const triggerId = issue(o.triggerId);
      const responseId = `cmd-${uniq()}`;
      noteMember(channel, user);
      const body = new URLSearchParams(payloads.slashCommand(user, text, { ...o, channel, triggerId, responseId })).toString();
      const r = await post(body, 'application/x-www-form-urlencoded', { ts: o.ts, bad: o.badSignature });
      return { ...r, triggerId, responseId };
    },

    async click(user, o) {
      const triggerId = issue(o.triggerId);
      const responseId = `act-${uniq()}`;
      noteMember(o.channel, user);
      const payload = payloads.blockActions(user, { ...o, triggerId, responseId });
      const r = await postForm(payload, { ts: o.ts, bad: o.badSignature });
      return { ...r, triggerId, responseId };
    },

    async submitView(user, v, o = {}) {
      let base: any;
      if (v.viewId !== undefined) base = fake.views.get(v.viewId);
      else base = [...fake.views.values()].reverse().find((x) => x.callback_id === v.callbackId);
      const id: string = v.viewId ?? base?.id ?? `V${String(uniq()).padStart(10, '0')}`;
      const view = {
        id,
        team_id: teamId,
        type: 'modal',
        blocks: base?.blocks ?? [],
        private_metadata: v.privateMetadata ?? base?.private_metadata ?? '',
        callback_id: v.callbackId,
        state: { values: v.values },
        hash: base?.hash ?? `${Math.floor(Date.now() / 1000)}.${uniq()}`,
        title: base?.title ?? { type: 'plain_text', text: 'Firebell', emoji: true },
        clear_on_close: base?.clear_on_close ?? false,
        notify_on_close: base?.notify_on_close ?? false,
        close: base?.close ?? null,
        submit: base?.submit ?? { type: 'plain_text', text: 'Submit', emoji: true },
        previous_view_id: base?.previous_view_id ?? null,
        root_view_id: base?.root_view_id ?? id,
        app_id: fake.appId,
        external_id: base?.external_id ?? '',
        app_installed_team_id: teamId,
        bot_id: fake.botId,
      };
      const payload = {
        type: 'view_submission',
        team,
        user: { id: user, username: userName(user), name: userName(user), team_id: teamId },
        api_app_id: fake.appId,
        token: verificationToken,
        trigger_id: issue(),
        view,
        response_urls: [],
        is_enterprise_install: false,
        enterprise: null,
      };
      return postForm(payload, { ts: o.ts, bad: o.badSignature });
    },

    async event(event, o = {}) {
      const eventId = o.eventId ?? `Ev${String(uniq()).padStart(9, '0')}`;
      const envelope = payloads.eventCallback(event, eventId);
      const extra: Record<string, string> = {};
      if (o.retryNum !== undefined) extra['X-Slack-Retry-Num'] = String(o.retryNum);
      if (o.retryReason !== undefined) extra['X-Slack-Retry-Reason'] = o.retryReason;
      const r = await post(JSON.stringify(envelope), 'application/json', { ts: o.ts }, extra);
      return { ...r, eventId };
    },

    async raw(body, headers) {
      const r = await fetch(endpoint, { method: 'POST', headers, body });
      return { status: r.status, body: await r.text() };
    },

    openedView(triggerId) {
      return fake.callsTo('views.open').find((c) => c.args.trigger_id === triggerId || c.args.interactivity_pointer === triggerId)?.args.view;
    },
  };
}
