/**
 * Proves the Slack fake is faithful: the REAL @slack/web-api WebClient (and a real Bolt App) talk to it.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  WebClient,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
} from '@slack/web-api';
import { App, LogLevel, verifySlackRequest } from '@slack/bolt';
import { createFakeSlack, dmChannelId, type FakeSlack } from './slack-api';
import { createSlackClient, signSlack } from '../support/slack';

const TOKEN = 'xoxb-test-token';

let fake: FakeSlack;
let web: WebClient;
/** WebClient logs Slack's `response_metadata.messages` at ERROR level; keep expected failures quiet. */
const quiet = { debug() {}, info() {}, warn() {}, error() {}, setLevel() {}, getLevel: () => LogLevel.ERROR, setName() {} };

beforeAll(async () => {
  fake = await createFakeSlack({
    users: {
      U0ALICE: { name: 'alice', email: 'alice@example.com', tz: 'Europe/Berlin', locale: 'de-DE' },
      U0BOB: { name: 'bob', email: 'bob@example.com' },
    },
  });
  web = new WebClient(TOKEN, {
    slackApiUrl: fake.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logger: quiet,
  });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

/** Run a call that must fail and return the error. */
async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

describe('chat.*', () => {
  it('posts with strictly increasing ts and updates with history', async () => {
    const blocks = [
      { type: 'section', block_id: 'summary', text: { type: 'mrkdwn', text: '*INC-1* db down' } },
      { type: 'actions', elements: [{ type: 'button', action_id: 'ack', text: { type: 'plain_text', text: 'Ack' }, value: 'INC-1' }] },
    ];
    const a = await web.chat.postMessage({ channel: 'C0WAR', text: 'INC-1 db down', blocks });
    const b = await web.chat.postMessage({ channel: 'C0WAR', text: 'second', thread_ts: a.ts });
    expect(a.ok).toBe(true);
    expect(a.channel).toBe('C0WAR');
    expect(a.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(b.ts)).toBeGreaterThan(Number(a.ts));
    expect(a.message?.blocks).toEqual(blocks);
    expect(fake.messages.get(`C0WAR:${b.ts}`)?.thread_ts).toBe(a.ts);

    const u = await web.chat.update({ channel: 'C0WAR', ts: a.ts!, text: 'INC-1 acknowledged', blocks: [] });
    expect(u).toMatchObject({ ok: true, channel: 'C0WAR', ts: a.ts, text: 'INC-1 acknowledged' });
    const m = fake.messages.get(`C0WAR:${a.ts}`)!;
    expect(m.text).toBe('INC-1 acknowledged');
    expect(m.blocks).toEqual([]);
    expect(m.history.map((h) => [h.via, h.text])).toEqual([
      ['chat.postMessage', 'INC-1 db down'],
      ['chat.update', 'INC-1 acknowledged'],
    ]);
    expect(fake.messagePayload('C0WAR', a.ts!)).toMatchObject({ type: 'message', ts: a.ts, bot_id: fake.botId, user: fake.botUserId });

    const nf = await failure(web.chat.update({ channel: 'C0WAR', ts: '1.000000', text: 'x' }));
    expect(nf).toBeInstanceOf(WebAPIPlatformError);
    expect(nf.data.error).toBe('message_not_found');
  });

  it('validates like Slack: no_text and Block Kit limits', async () => {
    expect((await failure(web.chat.postMessage({ channel: 'C0WAR' } as any))).data.error).toBe('no_text');
    expect((await failure(web.chat.postMessage({ text: 'x' } as any))).data.error).toBe('channel_not_found');

    const bad = async (blocks: any[]): Promise<any> => (await failure(web.chat.postMessage({ channel: 'C0WAR', text: 'x', blocks }))).data;
    const btn = (action_id: string, value = 'v') => ({ type: 'button' as const, action_id, value, text: { type: 'plain_text' as const, text: 'B' } });

    const tooMany = await bad(Array.from({ length: 51 }, () => ({ type: 'divider' })));
    expect(tooMany.error).toBe('invalid_blocks');
    expect(tooMany.response_metadata.messages[0]).toMatch(/no more than 50 items.*json-pointer:\/blocks/);
    expect((await bad([{ type: 'nonsense' }])).error).toBe('invalid_blocks');
    const dup = await bad([{ type: 'actions', elements: [btn('a')] }, { type: 'actions', elements: [btn('a')] }]);
    expect(dup.response_metadata.messages.join()).toMatch(/action_id "a" already exists/);
    expect((await bad([{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }])).response_metadata.messages[0])
      .toMatch(/less than 3001.*\/blocks\/0\/text\/text/);
    expect((await bad([{ type: 'actions', elements: [btn('a', 'v'.repeat(2001))] }])).response_metadata.messages[0])
      .toMatch(/\/blocks\/0\/elements\/0\/value/);
    // 50 blocks, 2000-char value and 3000-char section are all fine
    await web.chat.postMessage({
      channel: 'C0WAR',
      text: 'x',
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3000) } },
        { type: 'actions', elements: [btn('a', 'v'.repeat(2000)), btn('b')] },
        ...Array.from({ length: 48 }, () => ({ type: 'divider' })),
      ],
    });
  });

  it('posts ephemerals (message_ts) and enforces channel membership', async () => {
    const r = await web.chat.postEphemeral({ channel: 'C0ORIGIN', user: 'U0ALICE', text: 'only you' });
    expect(r.ok).toBe(true);
    expect(r.message_ts).toMatch(/^\d+\.\d{6}$/);
    expect(fake.ephemerals[0]).toMatchObject({ channel: 'C0ORIGIN', user: 'U0ALICE', text: 'only you', message_ts: r.message_ts });
    expect(fake.messages.size).toBe(0);

    const missingUser = await failure(web.apiCall('chat.postEphemeral', { channel: 'C0ORIGIN', text: 'x' }));
    expect(missingUser.data.error).toBe('invalid_arguments');
    const { channel } = await web.conversations.create({ name: 'inc-7' });
    const notIn = await failure(web.chat.postEphemeral({ channel: channel!.id!, user: 'U0BOB', text: 'x' }));
    expect(notIn.data.error).toBe('user_not_in_channel');
  });

  it('DMs by user id: answers with the D… channel, which chat.update then accepts', async () => {
    const r = await web.chat.postMessage({ channel: 'U0ALICE', text: 'you are on call' });
    expect(r.channel).toBe(dmChannelId('U0ALICE'));
    expect(r.channel).toMatch(/^D/);
    expect(fake.dms.get(r.channel!)).toBe('U0ALICE');
    await web.chat.update({ channel: r.channel!, ts: r.ts!, text: 'ack’d' });
    expect(fake.messages.get(`${r.channel}:${r.ts}`)?.text).toBe('ack’d');
    // like real Slack, chat.update does not accept the user id
    expect((await failure(web.chat.update({ channel: 'U0ALICE', ts: r.ts!, text: 'x' }))).data.error).toBe('channel_not_found');
    // unknown user (directory given) → channel_not_found
    expect((await failure(web.chat.postMessage({ channel: 'U0NOBODY', text: 'x' }))).data.error).toBe('channel_not_found');

    const open = await web.conversations.open({ users: 'U0BOB' });
    expect(open.channel?.id).toBe(dmChannelId('U0BOB'));
  });
});

describe('views.*', () => {
  const modal = (over: Record<string, any> = {}) => ({
    type: 'modal' as const,
    callback_id: 'declare',
    title: { type: 'plain_text' as const, text: 'Declare incident' },
    submit: { type: 'plain_text' as const, text: 'Declare' },
    blocks: [{ type: 'input', block_id: 'title_b', label: { type: 'plain_text', text: 'Title' }, element: { type: 'plain_text_input', action_id: 'title' } }],
    ...over,
  });

  it('opens a modal once per trigger_id', async () => {
    const r = await web.views.open({ trigger_id: '111.222.aaa', view: modal() as any });
    expect(r.view).toMatchObject({ id: expect.stringMatching(/^V/), callback_id: 'declare', type: 'modal', hash: expect.any(String) });
    expect(fake.views.get(r.view!.id!)?.callback_id).toBe('declare');
    const again = await failure(web.views.open({ trigger_id: '111.222.aaa', view: modal() as any }));
    expect(again.data.error).toBe('exchanged_trigger_id');

    fake.issueTrigger('333.444.bbb', Date.now() - 3500);
    expect((await failure(web.views.open({ trigger_id: '333.444.bbb', view: modal() as any }))).data.error).toBe('expired_trigger_id');

    const upd = await web.views.update({ view_id: r.view!.id!, hash: r.view!.hash!, view: modal({ title: { type: 'plain_text', text: 'Declared' } }) as any });
    expect(upd.view?.hash).not.toBe(r.view!.hash);
    expect((await failure(web.views.update({ view_id: r.view!.id!, hash: r.view!.hash!, view: modal() as any }))).data.error).toBe('hash_conflict');
  });

  it('rejects views real Slack rejects, explaining why', async () => {
    const e = await failure(web.views.open({ trigger_id: 't1', view: modal({ title: { type: 'plain_text', text: 'Declare a brand new incident' } }) as any }));
    expect(e).toBeInstanceOf(WebAPIPlatformError);
    expect(e.data.error).toBe('invalid_arguments');
    expect(e.data.response_metadata.messages[0]).toMatch(/less than 25 characters.*\/view\/title\/text/);
    const noSubmit = await failure(web.views.open({ trigger_id: 't2', view: modal({ submit: undefined }) as any }));
    expect(noSubmit.data.response_metadata.messages.join()).toMatch(/submit is required/);
    const tooMany = await failure(web.views.open({ trigger_id: 't3', view: modal({ blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) }) as any }));
    expect(tooMany.data.response_metadata.messages.join()).toMatch(/no more than 100/);
    const noCb = await failure(web.views.open({ trigger_id: 't4', view: modal({ callback_id: undefined }) as any }));
    expect(noCb.data.response_metadata.messages.join()).toMatch(/callback_id/);
    // an invalid view does not consume the trigger
    await web.views.open({ trigger_id: 't1', view: modal() as any });
  });
});

describe('conversations.*, pins, bookmarks, users', () => {
  it('creates war rooms with Slack name rules and name_taken', async () => {
    for (const [name, error] of [
      ['INC-1', 'invalid_name_specials'],
      ['inc 1', 'invalid_name_specials'],
      ['', 'invalid_name_required'],
      ['x'.repeat(81), 'invalid_name_maxlength'],
    ] as const) {
      expect((await failure(web.conversations.create({ name }))).data.error, name).toBe(error);
    }
    const r = await web.conversations.create({ name: 'inc-42-db-down', is_private: false });
    expect(r.channel).toMatchObject({ id: expect.stringMatching(/^C/), name: 'inc-42-db-down', is_private: false, creator: fake.botUserId });
    expect((await failure(web.conversations.create({ name: 'inc-42-db-down' }))).data.error).toBe('name_taken');

    const id = r.channel!.id!;
    await web.conversations.invite({ channel: id, users: 'U0ALICE,U0BOB' });
    expect([...fake.channels.get(id)!.members]).toEqual([fake.botUserId, 'U0ALICE', 'U0BOB']);
    expect((await failure(web.conversations.invite({ channel: id, users: 'U0ALICE' }))).data.error).toBe('already_in_channel');
    await web.conversations.setTopic({ channel: id, topic: 'SEV1 · db down' });
    await web.conversations.setPurpose({ channel: id, purpose: 'War room for INC-42' });
    expect(fake.channels.get(id)).toMatchObject({ topic: 'SEV1 · db down', purpose: 'War room for INC-42' });
    expect((await failure(web.conversations.setTopic({ channel: id, topic: 't'.repeat(251) }))).data.error).toBe('too_long');

    const msg = await web.chat.postMessage({ channel: id, text: 'summary' });
    await web.pins.add({ channel: id, timestamp: msg.ts! });
    expect(fake.messages.get(`${id}:${msg.ts}`)?.pinned).toBe(true);
    expect((await failure(web.pins.add({ channel: id, timestamp: msg.ts! }))).data.error).toBe('already_pinned');

    const bm = await web.bookmarks.add({ channel_id: id, title: 'Runbook', type: 'link', link: 'https://runbooks/db' });
    expect(bm.bookmark).toMatchObject({ channel_id: id, title: 'Runbook', link: 'https://runbooks/db', type: 'link' });
    const wrongArg = await failure(web.apiCall('bookmarks.add', { channel: id, title: 'x', type: 'link', link: 'https://x' }));
    expect(wrongArg.data.response_metadata.messages[0]).toMatch(/channel_id/);

    await web.conversations.archive({ channel: id });
    expect(fake.channels.get(id)?.archived).toBe(true);
    expect((await failure(web.chat.postMessage({ channel: id, text: 'x' }))).data.error).toBe('is_archived');
    expect((await failure(web.conversations.create({ name: 'inc-42-db-down' }))).data.error).toBe('name_taken');
  });

  it('serves auth.test, users.info (locale only when asked) and users.lookupByEmail', async () => {
    expect(await web.auth.test()).toMatchObject({ ok: true, user_id: fake.botUserId, team_id: fake.teamId, bot_id: fake.botId });
    const plain = await web.users.info({ user: 'U0ALICE' });
    expect(plain.user).toMatchObject({ id: 'U0ALICE', name: 'alice', tz: 'Europe/Berlin', profile: { email: 'alice@example.com' } });
    expect(typeof plain.user?.tz_offset).toBe('number');
    expect(plain.user?.locale).toBeUndefined();
    expect((await web.users.info({ user: 'U0ALICE', include_locale: true })).user?.locale).toBe('de-DE');
    expect((await failure(web.users.info({ user: 'U0NOPE' }))).data.error).toBe('user_not_found');
    expect((await web.users.lookupByEmail({ email: 'bob@example.com' })).user?.id).toBe('U0BOB');
    expect((await failure(web.users.lookupByEmail({ email: 'carol@example.com' }))).data.error).toBe('users_not_found');
  });
});

describe('failures and the call log', () => {
  it('injected 429 surfaces as WebAPIRateLimitedError with retryAfter', async () => {
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 7 });
    const e = await failure(web.chat.postMessage({ channel: 'C0WAR', text: 'x' }));
    expect(e).toBeInstanceOf(WebAPIRateLimitedError);
    expect(e.code).toBe('slack_webapi_rate_limited_error');
    expect(e.retryAfter).toBe(7);
    // only the next call failed
    await web.chat.postMessage({ channel: 'C0WAR', text: 'x' });
    expect(fake.callsTo('chat.postMessage').map((c) => c.status)).toEqual([429, 200]);
  });

  it('injected platform errors and 500s surface as the matching WebClient errors', async () => {
    fake.failNext('conversations.create', { error: 'restricted_action' }, 2);
    for (let i = 0; i < 2; i++) {
      const e = await failure(web.conversations.create({ name: 'inc-1' }));
      expect(e).toBeInstanceOf(WebAPIPlatformError);
      expect(e.code).toBe('slack_webapi_platform_error');
      expect(e.data.error).toBe('restricted_action');
    }
    await web.conversations.create({ name: 'inc-1' });

    fake.failNext('chat.update', { status: 500 });
    const e = await failure(web.chat.update({ channel: 'C1', ts: '1.1', text: 'x' }));
    expect(e).toBeInstanceOf(WebAPIHTTPError);
    expect(e.statusCode).toBe(500);
  });

  it('records every call with decoded args and the bearer token', async () => {
    await web.chat.postMessage({ channel: 'C0WAR', text: 'hello', blocks: [{ type: 'divider' }], metadata: { event_type: 'incident', event_payload: { id: 'INC-1' } } });
    await failure(web.apiCall('no.such.method', {}));
    const [post, unknown] = fake.calls;
    expect(post).toMatchObject({ method: 'chat.postMessage', token: TOKEN, args: { channel: 'C0WAR', text: 'hello', blocks: [{ type: 'divider' }], metadata: { event_payload: { id: 'INC-1' } } } });
    expect(post!.at).toBeTypeOf('number');
    expect(unknown).toMatchObject({ method: 'no.such.method', response: { ok: false, error: 'unknown_method' } });

    const anon = new WebClient(undefined, { slackApiUrl: fake.url, retryConfig: { retries: 0 } });
    expect((await failure(anon.auth.test())).data.error).toBe('not_authed');
  });

  it('accepts JSON bodies and serves the response_url sink (with injectable failures)', async () => {
    const r = await fetch(`${fake.url}chat.postMessage`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8', Authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ channel: 'C0WAR', text: 'json', blocks: [{ type: 'divider' }] }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ok: true, channel: 'C0WAR' });
    expect(fake.calls[0]?.args.blocks).toEqual([{ type: 'divider' }]);

    const sink = `${fake.origin}/response/abc`;
    const ok = await fetch(sink, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"hi"}' });
    expect([ok.status, await ok.text()]).toEqual([200, 'ok']);
    expect(fake.responses).toMatchObject([{ id: 'abc', body: { text: 'hi' } }]);
    fake.failNext('response_url', { error: 'expired_url' });
    expect((await fetch(sink, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(fake.responses).toHaveLength(1);
  });

  it('waitFor resolves on state and times out listing the calls seen', async () => {
    setTimeout(() => void web.chat.postMessage({ channel: 'C0WAR', text: 'later' }), 30);
    await fake.waitFor((f) => f.callsTo('chat.postMessage').length === 1);
    const e = await failure(fake.waitFor((f) => f.callsTo('views.open').length > 0, 50));
    expect(e.message).toMatch(/timed out after 50ms/);
    expect(e.message).toMatch(/chat\.postMessage \{"channel":"C0WAR","text":"later"\} → ok/);
  });
});

describe('latency and failures after the work was done', () => {
  it('latencyMs delays every Web API response; the call runs and is recorded on arrival', async () => {
    const slow = await createFakeSlack({ latencyMs: 60 });
    try {
      expect(slow.latencyMs).toBe(60);
      const client = new WebClient(TOKEN, { slackApiUrl: slow.url, retryConfig: { retries: 0 }, logger: quiet });
      const t0 = Date.now();
      const pending = client.chat.postMessage({ channel: 'C0WAR', text: 'slow' });
      // the side effect is there before the answer leaves
      await slow.waitFor((f) => f.messages.size === 1, 50);
      const r = await pending;
      expect(r.ok).toBe(true);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
      expect(slow.calls[0]!.at - t0).toBeLessThan(40);

      // reset() keeps the latency; the property is mutable
      slow.reset();
      expect(slow.latencyMs).toBe(60);
      slow.latencyMs = 0;
      const t1 = Date.now();
      await client.auth.test();
      expect(Date.now() - t1).toBeLessThan(55);
    } finally {
      await slow.close(); // also drops responses still held back
    }
  });

  it('latencyMs set on the handle applies to the next calls', async () => {
    fake.latencyMs = 60;
    try {
      const t0 = Date.now();
      await web.auth.test();
      expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    } finally {
      fake.latencyMs = 0;
    }
  });

  it('{ status: 500, applied: true } does the work, then answers HTTP 500', async () => {
    fake.failNext('conversations.create', { status: 500, applied: true });
    const e = await failure(web.conversations.create({ name: 'inc-9-api-down' }));
    expect(e).toBeInstanceOf(WebAPIHTTPError);
    expect(e.statusCode).toBe(500);
    const created = [...fake.channels.values()].filter((c) => c.name === 'inc-9-api-down');
    expect(created).toHaveLength(1);
    // the retry learns the channel exists
    expect((await failure(web.conversations.create({ name: 'inc-9-api-down' }))).data.error).toBe('name_taken');
    const [first, second] = fake.callsTo('conversations.create');
    expect(first).toMatchObject({ status: 500, response: 'Internal Server Error', appliedResponse: { ok: true, channel: { id: created[0]!.id } } });
    expect(second).toMatchObject({ status: 200, response: { ok: false, error: 'name_taken' } });
    expect(second!.appliedResponse).toBeUndefined();

    // respond() posts too: the post is stored, the poster sees 500
    fake.failNext('response_url', { status: 500, applied: true });
    const r = await fetch(`${fake.origin}/response/r1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"x"}' });
    expect(r.status).toBe(500);
    expect(fake.responses).toMatchObject([{ id: 'r1', body: { text: 'x' } }]);
  });
});

describe('conversations.list / history / replies and seeded messages', () => {
  it('lists channels in creation order with cursor pagination', async () => {
    const names = ['inc-1', 'inc-2', 'inc-3', 'inc-4', 'inc-5'];
    for (const name of names) await web.conversations.create({ name });

    const p1 = await web.conversations.list({ limit: 2 });
    expect(p1.channels?.map((c) => c.name)).toEqual(['inc-1', 'inc-2']);
    const c1 = p1.response_metadata?.next_cursor ?? '';
    expect(c1).toMatch(/^[A-Za-z0-9+/]+=*$/); // opaque base64, like Slack's
    const p2 = await web.conversations.list({ limit: 2, cursor: c1 });
    expect(p2.channels?.map((c) => c.name)).toEqual(['inc-3', 'inc-4']);
    const p3 = await web.conversations.list({ limit: 2, cursor: p2.response_metadata!.next_cursor! });
    expect(p3.channels?.map((c) => c.name)).toEqual(['inc-5']);
    expect(p3.response_metadata?.next_cursor).toBe('');
    expect(p1.channels?.[0]).toMatchObject({ id: expect.stringMatching(/^C/), is_channel: true, is_private: false, is_archived: false, is_member: true });

    // the real client's paginate() follows next_cursor to the end
    const seen: string[] = [];
    for await (const page of web.paginate('conversations.list', { limit: 2 })) seen.push(...((page as any).channels as any[]).map((c) => c.name));
    expect(seen).toEqual(names);
    expect(fake.callsTo('conversations.list').slice(-3).map((c) => c.args.cursor ?? '')).toEqual(['', c1, p2.response_metadata!.next_cursor]);

    // default limit 100; Slack caps limit at 1000 instead of failing
    expect((await web.conversations.list()).channels).toHaveLength(5);
    expect((await web.conversations.list({ limit: 5000 })).channels).toHaveLength(5);
    expect((await failure(web.conversations.list({ cursor: 'bm9wZQ==' }))).data.error).toBe('invalid_cursor');
    expect((await failure(web.conversations.list({ cursor: '%%%' }))).data.error).toBe('invalid_cursor');
    expect((await failure(web.conversations.list({ limit: -1 }))).data.error).toBe('invalid_limit');
  });

  it('filters archived and private channels like a bot token sees them', async () => {
    fake.addChannel({ id: 'C0OPEN', name: 'open' });
    fake.addChannel({ id: 'C0OLD', name: 'old', archived: true });
    fake.addChannel({ id: 'C0SECRET', name: 'secret', isPrivate: true });
    fake.addChannel({ id: 'C0HIDDEN', name: 'hidden', isPrivate: true, members: ['U0ALICE'] });
    const ids = async (args: Record<string, any>): Promise<string[]> => ((await web.conversations.list(args)).channels ?? []).map((c) => c.id!);

    expect(await ids({})).toEqual(['C0OPEN', 'C0OLD']); // default types=public_channel
    expect(await ids({ exclude_archived: true })).toEqual(['C0OPEN']);
    expect(await ids({ types: 'private_channel' })).toEqual(['C0SECRET']); // not the one the bot is not in
    expect(await ids({ types: 'public_channel,private_channel', exclude_archived: true })).toEqual(['C0OPEN', 'C0SECRET']);
    expect(await ids({ types: 'im,mpim' })).toEqual([]);
    expect(fake.callsTo('conversations.list')[1]?.args.exclude_archived).toBe('true');
    expect((await failure(web.conversations.list({ types: 'public' }))).data.error).toBe('invalid_types');
    // a page boundary that falls among filtered-out channels still resumes correctly
    const p1 = await web.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: 1 });
    const p2 = await web.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: 1, cursor: p1.response_metadata!.next_cursor! });
    expect([p1.channels?.[0]?.id, p2.channels?.[0]?.id, p2.response_metadata?.next_cursor]).toEqual(['C0OPEN', 'C0SECRET', '']);
  });

  it('addMessage seeds a person’s message; conversations.history returns parents newest first', async () => {
    const room = fake.addChannel({ name: 'inc-7', members: [fake.botUserId, 'U0ALICE'] });
    const a = await web.chat.postMessage({ channel: room.id, text: 'a' });
    await web.chat.postMessage({ channel: room.id, text: 'a-reply', thread_ts: a.ts! });
    const c = await web.chat.postMessage({ channel: room.id, text: 'c' });
    const d = fake.addMessage({ channel: room.id, user: 'U0ALICE', text: 'd from alice' });
    expect(d).toMatchObject({ channel: room.id, user: 'U0ALICE', text: 'd from alice', pinned: false });
    expect(d.history).toMatchObject([{ via: 'seed', text: 'd from alice' }]);
    expect(Number(d.ts)).toBeGreaterThan(Number(c.ts));
    expect(fake.messages.get(`${room.id}:${d.ts}`)).toBe(d);

    const h = await web.conversations.history({ channel: room.id });
    expect(h.messages?.map((m) => m.text)).toEqual(['d from alice', 'c', 'a']);
    expect(h.messages?.[0]).toEqual(fake.messagePayload(room.id, d.ts));
    expect(h.messages?.[0]?.bot_id).toBeUndefined();
    expect(h.messages?.[1]).toMatchObject({ user: fake.botUserId, bot_id: fake.botId });
    expect(h.has_more).toBe(false);

    const texts = async (args: Record<string, any>): Promise<string[]> =>
      ((await web.conversations.history({ channel: room.id, ...args })).messages ?? []).map((m) => m.text!);
    expect(await texts({ latest: c.ts })).toEqual(['a']);
    expect(await texts({ latest: c.ts, inclusive: true })).toEqual(['c', 'a']);
    expect(await texts({ oldest: a.ts })).toEqual(['d from alice', 'c']);
    expect(await texts({ oldest: a.ts, latest: d.ts, inclusive: true })).toEqual(['d from alice', 'c', 'a']);
    expect(await texts({ oldest: a.ts, latest: d.ts })).toEqual(['c']);

    const p1 = await web.conversations.history({ channel: room.id, limit: 2 });
    expect([p1.messages?.map((m) => m.text), p1.has_more]).toEqual([['d from alice', 'c'], true]);
    const p2 = await web.conversations.history({ channel: room.id, limit: 2, cursor: p1.response_metadata!.next_cursor! });
    expect([p2.messages?.map((m) => m.text), p2.has_more]).toEqual([['a'], false]);

    expect((await failure(web.conversations.history({ channel: 'C0NEVERSEEN' }))).data.error).toBe('channel_not_found');
    const outside = fake.addChannel({ name: 'not-ours', members: ['U0ALICE'] });
    expect((await failure(web.conversations.history({ channel: outside.id }))).data.error).toBe('not_in_channel');
    expect((await failure(web.conversations.history({ channel: room.id, latest: 'soon' }))).data.error).toBe('invalid_ts_latest');

    // a channel first seen through addMessage is registered like on first API use; DMs are readable
    fake.addMessage({ channel: 'C0ORIGIN', user: 'U0BOB', text: 'hi' });
    expect((await web.conversations.history({ channel: 'C0ORIGIN' })).messages?.map((m) => m.user)).toEqual(['U0BOB']);
    const dm = await web.chat.postMessage({ channel: 'U0BOB', text: 'dm' });
    expect((await web.conversations.history({ channel: dm.channel! })).messages?.map((m) => m.text)).toEqual(['dm']);

    // reset forgets seeded messages too
    fake.reset();
    expect(fake.messages.size).toBe(0);
  });

  it('conversations.replies returns the whole thread for the parent or any reply', async () => {
    const room = fake.addChannel({ name: 'inc-8' });
    const parent = await web.chat.postMessage({ channel: room.id, text: 'parent' });
    const r1 = await web.chat.postMessage({ channel: room.id, text: 'r1', thread_ts: parent.ts! });
    fake.addMessage({ channel: room.id, user: 'U0ALICE', text: 'r2', thread_ts: parent.ts! });
    const lone = await web.chat.postMessage({ channel: room.id, text: 'lone' });

    const t = await web.conversations.replies({ channel: room.id, ts: parent.ts! });
    expect(t.messages?.map((m) => m.text)).toEqual(['parent', 'r1', 'r2']);
    expect(t.messages?.[1]).toEqual(fake.messagePayload(room.id, r1.ts!));
    expect(t.has_more).toBe(false);
    expect((await web.conversations.replies({ channel: room.id, ts: r1.ts! })).messages?.map((m) => m.text)).toEqual(['parent', 'r1', 'r2']);
    expect((await web.conversations.replies({ channel: room.id, ts: lone.ts! })).messages?.map((m) => m.text)).toEqual(['lone']);
    // replies never show up in history
    expect((await web.conversations.history({ channel: room.id })).messages?.map((m) => m.text)).toEqual(['lone', 'parent']);

    const p1 = await web.conversations.replies({ channel: room.id, ts: parent.ts!, limit: 2 });
    expect([p1.messages?.map((m) => m.text), p1.has_more]).toEqual([['parent', 'r1'], true]);
    const p2 = await web.conversations.replies({ channel: room.id, ts: parent.ts!, limit: 2, cursor: p1.response_metadata!.next_cursor! });
    expect([p2.messages?.map((m) => m.text), p2.has_more]).toEqual([['r2'], false]);

    expect((await failure(web.conversations.replies({ channel: room.id, ts: '1.000001' }))).data.error).toBe('thread_not_found');
    expect((await failure(web.conversations.replies({ channel: 'C0NEVERSEEN', ts: parent.ts! }))).data.error).toBe('channel_not_found');
  });
});

describe('conversations.invite: force and uninvitable users', () => {
  it('without force any per-user error fails the call; with force the valid users are invited', async () => {
    const { channel } = await web.conversations.create({ name: 'inc-11' });
    const id = channel!.id!;
    fake.uninvitable.add('U0BOB');

    const all = await failure(web.conversations.invite({ channel: id, users: 'U0ALICE,U0BOB,U0NOBODY' }));
    expect(all.data).toMatchObject({
      ok: false,
      error: 'user_is_restricted',
      errors: [
        { user: 'U0BOB', ok: false, error: 'user_is_restricted' },
        { user: 'U0NOBODY', ok: false, error: 'user_not_found' },
      ],
    });
    expect([...fake.channels.get(id)!.members]).toEqual([fake.botUserId]);

    const forced = await web.conversations.invite({ channel: id, users: 'U0ALICE,U0BOB,U0NOBODY', force: true });
    expect(forced.ok).toBe(true);
    expect((forced as any).errors).toEqual([
      { user: 'U0BOB', ok: false, error: 'user_is_restricted' },
      { user: 'U0NOBODY', ok: false, error: 'user_not_found' },
    ]);
    expect(fake.callsTo('conversations.invite')[1]?.args.force).toBe('true');
    expect([...fake.channels.get(id)!.members]).toEqual([fake.botUserId, 'U0ALICE']);
    // force with nobody left to invite is still an error
    expect((await failure(web.conversations.invite({ channel: id, users: 'U0BOB,U0ALICE', force: true }))).data.error).toBe('user_is_restricted');
    expect((await failure(web.conversations.invite({ channel: id, users: 'U0BOB' }))).data.error).toBe('user_is_restricted');

    fake.reset();
    expect(fake.uninvitable.size).toBe(0);
  });

  it('opts.uninvitable seeds the set and reset() restores it', async () => {
    const f = await createFakeSlack({ users: { U0ALICE: { name: 'alice' }, U0GUEST: { name: 'guest' } }, uninvitable: ['U0GUEST'] });
    try {
      const client = new WebClient(TOKEN, { slackApiUrl: f.url, retryConfig: { retries: 0 }, logger: quiet });
      const room = f.addChannel({ name: 'inc-12' });
      expect((await failure(client.conversations.invite({ channel: room.id, users: 'U0GUEST' }))).data.error).toBe('user_is_restricted');
      f.uninvitable.delete('U0GUEST');
      await client.conversations.invite({ channel: room.id, users: 'U0GUEST' });
      f.reset();
      expect([...f.uninvitable]).toEqual(['U0GUEST']);
    } finally {
      await f.close();
    }
  });
});

describe('signed inbound requests (test/support/slack.ts)', () => {
  it('are accepted by Bolt verifySlackRequest; tampered ones are rejected', () => {
    const secret = 'sekrit';
    const body = 'token=x&command=%2Fincident&text=declare';
    const h = signSlack(secret, body);
    const headers = { 'x-slack-signature': h['X-Slack-Signature']!, 'x-slack-request-timestamp': Number(h['X-Slack-Request-Timestamp']) };
    expect(() => verifySlackRequest({ signingSecret: secret, body, headers })).not.toThrow();
    expect(() => verifySlackRequest({ signingSecret: secret, body: `${body}x`, headers })).toThrow(/signature mismatch/);
    expect(() => verifySlackRequest({ signingSecret: 'other', body, headers })).toThrow();
    const stale = signSlack(secret, body, Math.floor(Date.now() / 1000) - 301);
    expect(() =>
      verifySlackRequest({ signingSecret: secret, body, headers: { 'x-slack-signature': stale['X-Slack-Signature']!, 'x-slack-request-timestamp': Number(stale['X-Slack-Request-Timestamp']) } }),
    ).toThrow(/stale/);
  });

  it('drive a real Bolt App end to end: command → modal → submission, click, event retry', async () => {
    const SECRET = 'bolt-secret';
    const seen: Record<string, any>[] = [];
    const app = new App({
      token: TOKEN,
      signingSecret: SECRET,
      botId: fake.botId,
      botUserId: fake.botUserId,
      logLevel: LogLevel.ERROR,
      clientOptions: { slackApiUrl: fake.url, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true },
    });
    app.command('/incident', async ({ ack, command, client, respond }) => {
      await ack({ response_type: 'ephemeral', text: `ack:${command.text}` });
      seen.push({ command: command.command, user: command.user_id, channel: command.channel_name });
      await client.views.open({
        trigger_id: command.trigger_id,
        view: {
          type: 'modal',
          callback_id: 'declare',
          private_metadata: JSON.stringify({ channel: command.channel_id }),
          title: { type: 'plain_text', text: 'Declare incident' },
          submit: { type: 'plain_text', text: 'Declare' },
          blocks: [{ type: 'input', block_id: 'sev_b', label: { type: 'plain_text', text: 'Severity' }, element: { type: 'static_select', action_id: 'sev', options: [{ text: { type: 'plain_text', text: 'SEV1' }, value: 'sev1' }] } }],
        },
      });
      await respond({ text: 'opening…' });
    });
    app.view('declare', async ({ ack, view }) => {
      seen.push({ meta: view.private_metadata, sev: view.state.values.sev_b?.sev?.selected_option?.value });
      await ack({ response_action: 'errors', errors: { sev_b: 'pick SEV2' } });
    });
    app.action('ack', async ({ ack, body, action, client }) => {
      await ack();
      const b = body as any;
      seen.push({ value: (action as any).value, block: (action as any).block_id, msgBlocks: b.message?.blocks?.length, ch: b.channel?.id });
      await client.chat.update({ channel: b.channel.id, ts: b.message.ts, text: 'acked', blocks: [] });
    });
    app.event('app_mention', async ({ event, context }) => {
      seen.push({ mention: event.text, retryNum: context.retryNum, retryReason: context.retryReason });
    });
    const server = (await app.start(0)) as unknown as Server;
    try {
      const port = (server.address() as AddressInfo).port;
      const slack = createSlackClient({ endpoint: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET, fake });

      const cmd = await slack.command('U0ALICE', 'declare db down', { channel: 'C0GENERAL' });
      expect(cmd.status).toBe(200);
      expect(JSON.parse(cmd.body)).toEqual({ response_type: 'ephemeral', text: 'ack:declare db down' });
      await fake.waitFor((f) => f.responses.some((r) => r.id === cmd.responseId));
      expect(fake.responses.find((r) => r.id === cmd.responseId)?.body).toMatchObject({ text: 'opening…' });
      expect(slack.openedView(cmd.triggerId)).toMatchObject({ callback_id: 'declare' });
      expect(seen[0]).toEqual({ command: '/incident', user: 'U0ALICE', channel: 'general' });

      const sub = await slack.submitView('U0ALICE', { callbackId: 'declare', values: { sev_b: { sev: { type: 'static_select', selected_option: { value: 'sev1', text: { type: 'plain_text', text: 'SEV1' } } } } } });
      expect(sub.status).toBe(200);
      expect(JSON.parse(sub.body)).toEqual({ response_action: 'errors', errors: { sev_b: 'pick SEV2' } });
      expect(seen[1]).toEqual({ meta: '{"channel":"C0GENERAL"}', sev: 'sev1' });

      const posted = await web.chat.postMessage({
        channel: 'C0GENERAL',
        text: 'INC-1',
        blocks: [{ type: 'actions', block_id: 'inc_actions', elements: [{ type: 'button', action_id: 'ack', value: 'INC-1', text: { type: 'plain_text', text: 'Ack' } }] }],
      });
      const click = await slack.click('U0BOB', { actionId: 'ack', value: 'INC-1', channel: 'C0GENERAL', messageTs: posted.ts! });
      expect(click.status).toBe(200);
      await fake.waitFor((f) => f.callsTo('chat.update').length === 1);
      expect(seen[2]).toEqual({ value: 'INC-1', block: 'inc_actions', msgBlocks: 1, ch: 'C0GENERAL' });
      expect(fake.messages.get(`C0GENERAL:${posted.ts}`)?.text).toBe('acked');

      const ev = await slack.event({ type: 'app_mention', user: 'U0ALICE', text: `<@${fake.botUserId}> status`, ts: '1700000001.000100', channel: 'C0GENERAL' }, { retryNum: 1, retryReason: 'http_timeout' });
      expect(ev.status).toBe(200);
      await expect.poll(() => seen.length).toBe(4);
      expect(seen[3]).toEqual({ mention: `<@${fake.botUserId}> status`, retryNum: 1, retryReason: 'http_timeout' });

      expect((await slack.command('U0ALICE', 'x', { badSignature: true })).status).toBe(401);
      expect((await slack.command('U0ALICE', 'x', { ts: Math.floor(Date.now() / 1000) - 600 })).status).toBe(401);
      const body = 'token=x&command=%2Fincident&text=x';
      expect((await slack.raw(body, { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8', ...signSlack(SECRET, body) })).status).toBe(400);
    } finally {
      await app.stop();
    }
  });
});
