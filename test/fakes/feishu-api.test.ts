/**
 * Proves the Feishu fake is faithful: the REAL @larksuiteoapi/node-sdk Client talks to it, and the inbound helpers
 * produce requests the SDK's own EventDispatcher (and adaptDefault HTTP adapter) accept.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDecipheriv, createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as lark from '@larksuiteoapi/node-sdk';
import { createFakeFeishu, p2pChatId, type FakeFeishu } from './feishu-api';
import {
  FEISHU_BOT,
  cardAction,
  decryptFeishu,
  encryptFeishu,
  feishuSignature,
  menuEvent,
  messageEvent,
  postFeishu,
  signFeishu,
  urlVerification,
} from '../support/feishu';

const ALICE = 'ou_alice';
const BOB = 'ou_bob';
const GONE = 'ou_gone'; // resigned
const HIDDEN = 'ou_hidden'; // outside the app's availability (invalidUsers)

/** The SDK logs every failed call at error level; keep expected failures quiet. */
const quiet = { error() {}, warn() {}, info() {}, debug() {}, trace() {} };

let fake: FakeFeishu;
let client: lark.Client;

function newClient(o: { appId?: string; appSecret?: string; cache?: lark.DefaultCache } = {}): lark.Client {
  return new lark.Client({
    appId: o.appId ?? fake.appId,
    appSecret: o.appSecret ?? fake.appSecret,
    domain: fake.url,
    cache: o.cache ?? new lark.DefaultCache(),
    logger: quiet,
    loggerLevel: lark.LoggerLevel.error,
  });
}

/** Run a call that must fail and return the error. */
async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

const card = (title: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  schema: '2.0',
  config: { update_multi: true },
  header: { title: { tag: 'plain_text', content: title }, template: 'red' },
  body: {
    elements: [
      { tag: 'markdown', content: `**${title}**` },
      { tag: 'button', text: { tag: 'plain_text', content: '确认' }, type: 'primary', behaviors: [{ type: 'callback', value: { action: 'ack' } }] },
    ],
  },
  ...extra,
});

const sendText = (receiveIdType: 'open_id' | 'chat_id' | 'email' | 'user_id' | 'union_id', receiveId: string, text: string, uuid?: string) =>
  client.im.v1.message.create({
    params: { receive_id_type: receiveIdType },
    data: { receive_id: receiveId, msg_type: 'text', content: JSON.stringify({ text }), ...(uuid ? { uuid } : {}) },
  });

const sendCard = (chatId: string, c: unknown, uuid?: string) =>
  client.im.v1.message.create({
    params: { receive_id_type: 'chat_id' },
    data: { receive_id: chatId, msg_type: 'interactive', content: JSON.stringify(c), ...(uuid ? { uuid } : {}) },
  });

beforeAll(async () => {
  fake = await createFakeFeishu({
    users: {
      [ALICE]: { name: '爱丽丝', userId: 'alice', unionId: 'on_alice', email: 'alice@example.com', mobile: '13800000001' },
      [BOB]: { name: '鲍勃', userId: 'bob', email: 'bob@example.com', mobile: '+8613800000002' },
      [GONE]: { name: 'Gone', email: 'gone@example.com', resigned: true },
      [HIDDEN]: { name: 'Hidden', email: 'hidden@example.com' },
    },
    invalidUsers: [HIDDEN],
    apps: { cli_other: 'other-secret' },
    templates: ['AAqTemplate1'],
  });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

beforeAll(() => {
  client = newClient();
});

describe('tenant_access_token', () => {
  it('is fetched once, sent as Bearer on every call, and reused while valid', async () => {
    const c = newClient();
    await c.im.v1.message.create({ params: { receive_id_type: 'open_id' }, data: { receive_id: ALICE, msg_type: 'text', content: '{"text":"一"}' } });
    await c.im.v1.message.create({ params: { receive_id_type: 'open_id' }, data: { receive_id: BOB, msg_type: 'text', content: '{"text":"二"}' } });
    const tokenCalls = fake.callsTo('auth.tenantAccessToken.internal');
    expect(tokenCalls).toHaveLength(1);
    expect(tokenCalls[0]?.body).toEqual({ app_id: fake.appId, app_secret: fake.appSecret });
    const issued = tokenCalls[0]?.response;
    expect(issued).toMatchObject({ code: 0, msg: 'ok' });
    expect(issued.expire).toBeGreaterThan(7000); // 7200 s, or what remains of the app's current token
    expect(issued.tenant_access_token).toMatch(/^t-/);
    const sends = fake.callsTo('im.message.create');
    expect(sends.map((s) => s.token)).toEqual([issued.tenant_access_token, issued.tenant_access_token]);

    // A second client (own cache) asking again gets the same token while ≥ 30 min remain.
    const c2 = newClient();
    await c2.im.v1.message.create({ params: { receive_id_type: 'open_id' }, data: { receive_id: ALICE, msg_type: 'text', content: '{"text":"三"}' } });
    expect(fake.callsTo('auth.tenantAccessToken.internal')[1]?.response.tenant_access_token).toBe(issued.tenant_access_token);
  });

  it('is refreshed after expiry (a fresh token once < 30 min remain; the old one stays valid until it expires)', async () => {
    // A fresh app: Feishu would hand the default app its still-valid (7200 s) token from the earlier tests.
    fake.apps.set('cli_refresh', 'refresh-secret');
    fake.tokenTtlSeconds = 180; // the SDK caches until expire - 3 min → fetches again on the next call
    const c = newClient({ appId: 'cli_refresh', appSecret: 'refresh-secret' });
    await sendTextWith(c, ALICE, 'a');
    await sendTextWith(c, ALICE, 'b');
    const tokens = fake.callsTo('auth.tenantAccessToken.internal').map((t) => t.response.tenant_access_token);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toBe(tokens[1]);
    expect(fake.callsTo('im.message.create').map((s) => s.token)).toEqual(tokens);
    expect(fake.tokens.get(tokens[0] as string)?.expiresAt).toBeGreaterThan(Date.now());
  });

  it('refuses a wrong secret (10014) and tokens that expired or were revoked (99991663), or are missing (99991661)', async () => {
    const wrong = newClient({ appSecret: 'nope' });
    const e1 = await failure(wrong.im.v1.message.create({ params: { receive_id_type: 'open_id' }, data: { receive_id: ALICE, msg_type: 'text', content: '{"text":"x"}' } }));
    expect(e1.response?.status).toBe(400);
    expect(e1.response?.data).toMatchObject({ code: 10014 });
    expect(fake.callsTo('im.message.create')).toHaveLength(0);

    const c = newClient();
    await sendTextWith(c, ALICE, 'ok');
    fake.expireTokens();
    // The SDK keeps using its cached token (PLATFORMS.md "More facts"): every call now fails until the cache is dropped.
    const e2 = await failure(sendTextWith(c, ALICE, 'again'));
    expect(e2).toBeInstanceOf(Error);
    expect(e2.name).toBe('AxiosError');
    expect(e2.response?.status).toBe(400);
    expect(e2.response?.data.code).toBe(99991663);
    await sendTextWith(newClient(), ALICE, 'fresh cache, fresh token');

    const res = await fetch(`${fake.url}/open-apis/im/v1/messages?receive_id_type=open_id`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ receive_id: ALICE, msg_type: 'text', content: '{"text":"x"}' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 99991661 });
  });

  it('accepts the other configured apps (isolating the SDK cache by appId)', async () => {
    const other = newClient({ appId: 'cli_other', appSecret: 'other-secret' });
    const res = await sendTextWith(other, ALICE, 'from other app');
    expect(res.code).toBe(0);
    expect(fake.callsTo('auth.tenantAccessToken.internal')[0]?.body.app_id).toBe('cli_other');
  });
});

function sendTextWith(c: lark.Client, openId: string, text: string) {
  return c.im.v1.message.create({ params: { receive_id_type: 'open_id' }, data: { receive_id: openId, msg_type: 'text', content: JSON.stringify({ text }) } });
}

describe('im.v1.message', () => {
  it('creates messages to users (p2p chat) and chats, with the documented response', async () => {
    const res = await sendText('open_id', ALICE, '你好 <at user_id="ou_bob">鲍勃</at>');
    expect(res.code).toBe(0);
    expect(res.msg).toBe('success');
    const d = res.data!;
    expect(d.message_id).toMatch(/^om_/);
    expect(d.chat_id).toBe(p2pChatId(ALICE));
    expect(d).toMatchObject({ msg_type: 'text', deleted: false, updated: false, sender: { id: fake.appId, id_type: 'app_id', sender_type: 'app', tenant_key: fake.tenantKey } });
    expect(d.create_time).toMatch(/^\d{13}$/);
    // Text mentions are echoed as @_user_N placeholders plus a mentions list.
    expect(JSON.parse(d.body!.content)).toEqual({ text: '你好 @_user_1' });
    expect(d.mentions).toEqual([{ key: '@_user_1', id: BOB, id_type: 'open_id', name: '鲍勃', tenant_key: fake.tenantKey }]);

    await sendText('email', 'Bob@Example.com', 'by email');
    await sendText('user_id', 'alice', 'by user_id');
    await sendText('union_id', 'on_alice', 'by union_id');

    const chat = fake.addChat({ name: 'INC-1 作战室', members: [ALICE] });
    const c = await sendCard(chat.chat_id, card('INC-1 SEV1'));
    expect(c.data?.chat_id).toBe(chat.chat_id);

    expect(fake.messagesTo(ALICE).map((m) => m.parsed.text)).toEqual(['你好 <at user_id="ou_bob">鲍勃</at>', 'by user_id', 'by union_id']);
    expect(fake.messagesTo(p2pChatId(ALICE))).toHaveLength(3);
    expect(fake.messagesTo('Bob@Example.com')).toHaveLength(1);
    expect(fake.messagesTo(BOB)).toHaveLength(1);
    const m = fake.messagesTo(chat.chat_id)[0]!;
    expect(m).toMatchObject({ msg_type: 'interactive', receive_id_type: 'chat_id', pinned: false });
    expect(m.parsed.header.title.content).toBe('INC-1 SEV1');
    expect(fake.chats.get(p2pChatId(ALICE))?.chat_mode).toBe('p2p');

    const got = await client.im.v1.message.get({ path: { message_id: d.message_id! } });
    expect(got.data?.items?.[0]?.message_id).toBe(d.message_id);
  });

  it('refuses unreachable receivers with the documented codes', async () => {
    const code = async (p: Promise<unknown>) => (await failure(p)).response?.data?.code;
    expect(await code(sendText('open_id', 'ou_nobody', 'x'))).toBe(230013); // not in the directory / availability
    expect(await code(sendText('open_id', GONE, 'x'))).toBe(230013); // resigned
    expect(await code(sendText('open_id', HIDDEN, 'x'))).toBe(230013); // invalidUsers
    expect(await code(sendText('open_id', 'oc_notauser', 'x'))).toBe(230034); // id does not fit receive_id_type
    expect(await code(sendText('email', 'nobody@example.com', 'x'))).toBe(230013);
    const outside = fake.addChat({ name: 'no bot', botIsMember: false });
    expect(await code(sendText('chat_id', outside.chat_id, 'x'))).toBe(230002);
    const dissolved = fake.addChat({ name: 'gone' });
    dissolved.dissolved = true;
    expect(await code(sendText('chat_id', dissolved.chat_id, 'x'))).toBe(232009);
    // An unseen group is taken as an existing one the bot is in (non-strict chats).
    expect((await sendText('chat_id', 'oc_existing_group', 'x')).code).toBe(0);
    expect(fake.chats.get('oc_existing_group')?.autoRegistered).toBe(true);
    expect(fake.messages.size).toBe(1);
  });

  it('validates content per msg_type and cards (JSON 2.0, 1.0, templates) with the documented codes', async () => {
    const chat = fake.addChat({ name: 'cards' });
    const send = (msg_type: string, content: string) =>
      client.im.v1.message.create({ params: { receive_id_type: 'chat_id' }, data: { receive_id: chat.chat_id, msg_type, content } });
    const err = async (p: Promise<unknown>) => (await failure(p)).response?.data;

    expect((await err(send('text', 'not json'))).code).toBe(230001);
    expect((await err(send('text', '{"txt":"x"}'))).code).toBe(230001);
    expect((await err(send('interactive', '{"text":"not a card"}'))).msg).toMatch(/^Failed to create card content, ext=ErrCode: 200621/);
    expect((await err(send('interactive', JSON.stringify({ schema: '2.0', elements: [] })))).code).toBe(230099);
    const removedTag = await err(send('interactive', JSON.stringify(card('x', { body: { elements: [{ tag: 'action', actions: [] }] } }))));
    expect(removedTag.code).toBe(230099);
    expect(removedTag.msg).toContain('ErrCode: 200861');
    const many = { tag: 'column_set', columns: Array.from({ length: 201 }, () => ({ tag: 'column', elements: [] })) };
    expect((await err(send('interactive', JSON.stringify(card('x', { body: { elements: [many] } }))))).msg).toContain('element exceeds the limit');
    expect((await err(send('interactive', JSON.stringify({ type: 'template', data: { template_id: 'AAqMissing' } })))).msg).toContain('ErrCode: 200380');
    expect((await err(send('post', JSON.stringify({ zh_cn: { title: 't', content: 'flat' } })))).code).toBe(230001);
    expect((await err(send('bogus', '{"text":"x"}'))).code).toBe(99992402);

    expect((await send('interactive', JSON.stringify({ type: 'template', data: { template_id: 'AAqTemplate1', template_variable: { n: 1 } } }))).code).toBe(0);
    expect((await send('interactive', JSON.stringify({ config: { wide_screen_mode: true }, elements: [{ tag: 'div', text: { tag: 'lark_md', content: 'v1' } }] }))).code).toBe(0);
    expect((await send('post', JSON.stringify({ zh_cn: { title: '标题', content: [[{ tag: 'text', text: '正文' }]] } }))).code).toBe(0);
    expect(fake.messagesTo(chat.chat_id)).toHaveLength(3);
  });

  it('enforces the 30 KB card limit (230025) and the 150 KB text limit', async () => {
    const chat = fake.addChat({ name: 'big' });
    const body = (n: number) => card('big', { body: { elements: [{ tag: 'markdown', content: 'x'.repeat(n) }] } });
    const small = JSON.stringify(body(0)).length;
    const fits = await sendCard(chat.chat_id, body(30 * 1024 - small));
    expect(fits.code).toBe(0);
    const e = await failure(sendCard(chat.chat_id, body(30 * 1024 - small + 1)));
    expect(e.response?.status).toBe(400);
    expect(e.response?.data).toMatchObject({ code: 230025, msg: 'The length of the message content reaches its limit.' });
    // Multi-byte characters count as bytes: 10 241 × 3 bytes > 30 KB.
    expect((await failure(sendCard(chat.chat_id, card('中'.repeat(10241))))).response?.data.code).toBe(230025);
    expect((await sendText('chat_id', chat.chat_id, 'y'.repeat(100 * 1024))).code).toBe(0);
    expect((await failure(sendText('chat_id', chat.chat_id, 'y'.repeat(150 * 1024)))).response?.data.code).toBe(230025);
  });

  it('de-duplicates by uuid within an hour: same message_id, no second message', async () => {
    const a = await sendText('open_id', ALICE, 'first', 'inc-1-ack');
    const b = await sendText('open_id', ALICE, 'second (ignored)', 'inc-1-ack');
    expect(b.data?.message_id).toBe(a.data?.message_id);
    expect(JSON.parse(b.data!.body!.content)).toEqual({ text: 'first' });
    expect(fake.messagesTo(ALICE)).toHaveLength(1);
    const c = await sendText('open_id', ALICE, 'other', 'inc-1-other');
    expect(c.data?.message_id).not.toBe(a.data?.message_id);
    expect((await failure(sendText('open_id', ALICE, 'x', 'u'.repeat(51)))).response?.data.code).toBe(99992402);
  });

  it('replies (root/parent ids, threads, uuid) and patches cards, keeping every version', async () => {
    const chat = fake.addChat({ name: 'war room', members: [ALICE] });
    const root = await sendCard(chat.chat_id, card('INC-7 SEV2'));
    const rootId = root.data!.message_id!;
    const r1 = await client.im.v1.message.reply({ path: { message_id: rootId }, data: { msg_type: 'text', content: '{"text":"已确认"}', uuid: 'r-1' } });
    expect(r1.data).toMatchObject({ chat_id: chat.chat_id, root_id: rootId, parent_id: rootId });
    expect(r1.data?.thread_id).toBeUndefined();
    const again = await client.im.v1.message.reply({ path: { message_id: rootId }, data: { msg_type: 'text', content: '{"text":"dup"}', uuid: 'r-1' } });
    expect(again.data?.message_id).toBe(r1.data?.message_id);
    const r2 = await client.im.v1.message.reply({ path: { message_id: r1.data!.message_id! }, data: { msg_type: 'text', content: '{"text":"话题"}', reply_in_thread: true } });
    expect(r2.data).toMatchObject({ root_id: rootId, parent_id: r1.data?.message_id });
    expect(r2.data?.thread_id).toMatch(/^omt_/);
    expect(fake.messagesTo(chat.chat_id)).toHaveLength(3);
    expect((await failure(client.im.v1.message.reply({ path: { message_id: 'om_missing' }, data: { msg_type: 'text', content: '{"text":"x"}' } }))).response?.data.code).toBe(230001);

    const p = await client.im.v1.message.patch({ path: { message_id: rootId }, data: { content: JSON.stringify(card('INC-7 已确认')) } });
    expect(p.code).toBe(0);
    await client.im.v1.message.patch({ path: { message_id: rootId }, data: { content: JSON.stringify(card('INC-7 已解决')) } });
    const m = fake.messages.get(rootId)!;
    expect(m.parsed.header.title.content).toBe('INC-7 已解决');
    expect(m.history.map((h) => [h.via, h.parsed.header.title.content])).toEqual([
      ['im.message.create', 'INC-7 SEV2'],
      ['im.message.patch', 'INC-7 已确认'],
      ['im.message.patch', 'INC-7 已解决'],
    ]);
    expect((await client.im.v1.message.get({ path: { message_id: rootId } })).data?.items?.[0]?.updated).toBe(true);

    // Only cards the bot sent can be patched; text messages are refused; oversize cards too.
    const userMsg = fake.addMessage({ chatId: chat.chat_id, senderOpenId: ALICE, text: '用户消息' });
    const patch = (id: string, c: unknown) => client.im.v1.message.patch({ path: { message_id: id }, data: { content: JSON.stringify(c) } });
    expect((await failure(patch(userMsg.message_id, card('x')))).response?.data.code).toBe(230027);
    expect((await failure(patch(r1.data!.message_id!, card('x')))).response?.data.code).toBe(230001);
    expect((await failure(patch(rootId, card('x'.repeat(31 * 1024))))).response?.data.code).toBe(230025);
    expect((await failure(patch('om_missing', card('x')))).response?.data.code).toBe(230001);
    m.create_time -= 15 * 24 * 3600 * 1000;
    expect((await failure(patch(rootId, card('late')))).response?.data.code).toBe(230031);
    expect(m.history).toHaveLength(3);
  });
});

describe('im.v1.chat', () => {
  const create = (uuid: string | undefined, data: Record<string, unknown>) =>
    client.im.v1.chat.create({ params: { user_id_type: 'open_id', set_bot_manager: true, ...(uuid ? { uuid } : {}) }, data: { chat_mode: 'group', chat_type: 'private', ...data } as any });

  it('creates a war-room group once per uuid (10 h window) with members, owner and the bot', async () => {
    const a = await create('inc-42', { name: 'INC-42 数据库故障', description: 'SEV1', owner_id: ALICE, user_id_list: [ALICE, BOB], bot_id_list: [] });
    expect(a.code).toBe(0);
    const chatId = a.data!.chat_id!;
    expect(chatId).toMatch(/^oc_/);
    expect(a.data).toMatchObject({ name: 'INC-42 数据库故障', description: 'SEV1', owner_id: ALICE, owner_id_type: 'open_id', chat_mode: 'group', chat_type: 'private' });
    const b = await create('inc-42', { name: 'INC-42 数据库故障', owner_id: ALICE, user_id_list: [ALICE, BOB] });
    expect(b.data?.chat_id).toBe(chatId);
    expect([...fake.chats.values()].filter((c) => c.chat_mode === 'group')).toHaveLength(1);
    const chat = fake.chats.get(chatId)!;
    expect([...chat.members].sort()).toEqual([ALICE, BOB]);
    expect(chat.bots.has(fake.appId)).toBe(true);
    expect(chat.managers.has(fake.appId)).toBe(true);
    expect(chat.uuid).toBe('inc-42');
    // The window is per uuid + owner_id.
    const c = await create('inc-42', { name: 'other owner', owner_id: BOB });
    expect(c.data?.chat_id).not.toBe(chatId);
    const got = await client.im.v1.chat.get({ path: { chat_id: chatId } });
    expect(got.data?.name).toBe('INC-42 数据库故障');
  });

  it('validates names and member lists with the documented codes', async () => {
    const code = async (p: Promise<unknown>) => (await failure(p)).response?.data?.code;
    expect(await code(create(undefined, { name: '名'.repeat(61) }))).toBe(232001);
    expect(await code(create(undefined, { name: 'x', chat_type: 'public' }))).toBe(232020);
    expect(await code(create(undefined, { chat_type: 'public' }))).toBe(232042);
    expect(await code(create(undefined, { name: 'n', user_id_list: Array.from({ length: 51 }, (_, i) => `ou_${i}`) }))).toBe(232001);
    expect(await code(create(undefined, { name: 'n', user_id_list: [GONE] }))).toBe(232022);
    expect(await code(create(undefined, { name: 'n', user_id_list: [HIDDEN] }))).toBe(232043);
    expect(await code(create(undefined, { name: 'n', user_id_list: ['ou_nobody'] }))).toBe(232043);
    expect(fake.chats.size).toBe(0);
    const unnamed = await create(undefined, {});
    expect(unnamed.data?.name).toBe('(无主题)');
  });

  it('adds members: invalid users listed, unknown ones per succeed_type', async () => {
    const chat = fake.addChat({ name: 'war room', members: [ALICE] });
    const add = (ids: string[], succeed_type?: number) =>
      client.im.v1.chatMembers.create({ path: { chat_id: chat.chat_id }, params: { member_id_type: 'open_id', ...(succeed_type !== undefined ? { succeed_type } : {}) }, data: { id_list: ids } });
    const r = await add([BOB, HIDDEN, GONE]);
    expect(r.data).toEqual({ invalid_id_list: [HIDDEN, GONE], not_existed_id_list: [], pending_approval_id_list: [] });
    expect(chat.members.has(BOB)).toBe(true);
    expect(chat.members.has(HIDDEN)).toBe(false);

    const e = await failure(add([BOB, 'ou_nobody']));
    expect(e.response?.data.code).toBe(99992351);
    expect(e.response?.data.msg).toContain('ou_nobody');
    const lenient = await add(['ou_nobody', HIDDEN], 1);
    expect(lenient.data).toEqual({ invalid_id_list: [HIDDEN], not_existed_id_list: ['ou_nobody'], pending_approval_id_list: [] });
    expect((await failure(add([HIDDEN], 2))).response?.data.code).toBe(232043);
    expect((await failure(add([]))).response?.data.code).toBe(232027);
    const byUserId = await client.im.v1.chatMembers.create({ path: { chat_id: chat.chat_id }, params: { member_id_type: 'user_id' }, data: { id_list: ['bob'] } });
    expect(byUserId.code).toBe(0);

    const outside = fake.addChat({ name: 'no bot', botIsMember: false });
    expect((await failure(client.im.v1.chatMembers.create({ path: { chat_id: outside.chat_id }, data: { id_list: [BOB] } }))).response?.data.code).toBe(232011);
  });

  it('sets the group announcement (docx blocks; legacy doc refused) and the description', async () => {
    const chat = fake.addChat({ name: 'war room' });
    const info = await client.docx.v1.chatAnnouncement.get({ path: { chat_id: chat.chat_id } });
    expect(info.data).toMatchObject({ revision_id: 1, announcement_type: 'docx' });
    const text = (content: string) => ({ block_type: 2, text: { elements: [{ text_run: { content } }], style: {} } });
    const res = await client.docx.v1.chatAnnouncementBlockChildren.create({
      path: { chat_id: chat.chat_id, block_id: chat.chat_id },
      params: { revision_id: -1, client_token: 'inc-9-announce' },
      data: { children: [text('INC-9 SEV1：支付失败'), text('指挥官：爱丽丝')], index: 0 },
    });
    expect(res.data?.revision_id).toBe(2);
    expect(res.data?.children?.[0]).toMatchObject({ block_type: 2, parent_id: chat.chat_id });
    expect(res.data?.children?.[0]?.block_id).toMatch(/^doxcn/);
    // Same client_token: the same answer, applied once.
    const again = await client.docx.v1.chatAnnouncementBlockChildren.create({ path: { chat_id: chat.chat_id, block_id: chat.chat_id }, params: { client_token: 'inc-9-announce' }, data: { children: [text('dup')] } });
    expect(again.data?.revision_id).toBe(2);
    expect(chat.announcement.text).toBe('INC-9 SEV1：支付失败\n指挥官：爱丽丝');
    expect(chat.announcement.revision).toBe(2);

    const legacy = await failure(client.im.v1.chatAnnouncement.patch({ path: { chat_id: chat.chat_id }, data: { revision: '2', requests: ['{}'] } }));
    expect(legacy.response?.data.code).toBe(232097);

    const old = fake.addChat({ name: 'old', announcementType: 'doc' });
    const req = JSON.stringify({ requestType: 'InsertBlocksRequestType', insertBlocksRequest: { payload: JSON.stringify({ blocks: [{ type: 'paragraph', paragraph: { elements: [{ type: 'textRun', textRun: { text: '旧版公告', style: {} } }], style: {} } }] }), location: { zoneId: '0', index: 0, endOfZone: true } } });
    expect((await client.im.v1.chatAnnouncement.patch({ path: { chat_id: old.chat_id }, data: { revision: '1', requests: [req] } })).code).toBe(0);
    expect(old.announcement.text).toBe('旧版公告');
    expect((await failure(client.docx.v1.chatAnnouncementBlockChildren.create({ path: { chat_id: old.chat_id, block_id: old.chat_id }, data: { children: [text('x')] } }))).response?.data.code).toBe(1772006);

    expect((await client.im.v1.chat.update({ path: { chat_id: chat.chat_id }, data: { description: '处理中：INC-9' } })).code).toBe(0);
    expect(chat.description).toBe('处理中：INC-9');
  });
});

describe('im.v1.pin', () => {
  it('pins a message once (pinning again returns the existing pin)', async () => {
    const chat = fake.addChat({ name: 'war room' });
    const sent = await sendCard(chat.chat_id, card('INC-3 摘要'));
    const id = sent.data!.message_id!;
    const p1 = await client.im.v1.pin.create({ data: { message_id: id } });
    expect(p1.data?.pin).toMatchObject({ message_id: id, chat_id: chat.chat_id, operator_id: fake.appId, operator_id_type: 'app_id' });
    const p2 = await client.im.v1.pin.create({ data: { message_id: id } });
    expect(p2.data?.pin).toEqual(p1.data?.pin);
    expect(fake.messages.get(id)?.pinned).toBe(true);
    expect((await failure(client.im.v1.pin.create({ data: { message_id: 'om_missing' } }))).response?.data.code).toBe(230001);
    chat.bots.delete(fake.appId);
    const other = fake.addMessage({ chatId: chat.chat_id, senderOpenId: ALICE, text: 'hi' });
    expect((await failure(client.im.v1.pin.create({ data: { message_id: other.message_id } }))).response?.data.code).toBe(230002);
  });
});

describe('contact.v3.user.batchGetId', () => {
  it('resolves emails and mobiles; unknown and resigned users come back without user_id', async () => {
    const res = await client.contact.v3.user.batchGetId({
      params: { user_id_type: 'open_id' },
      data: { emails: ['alice@example.com', 'nobody@example.com', 'gone@example.com'], mobiles: ['+8613800000001', '13800000002'] },
    });
    expect(res.data?.user_list).toEqual([
      { user_id: ALICE, email: 'alice@example.com', status: { is_frozen: false, is_resigned: false, is_activated: true, is_exited: false, is_unjoin: false } },
      { email: 'nobody@example.com' },
      { email: 'gone@example.com' },
      { user_id: ALICE, mobile: '+8613800000001', status: expect.any(Object) },
      { user_id: BOB, mobile: '13800000002', status: expect.any(Object) },
    ]);
    const withResigned = await client.contact.v3.user.batchGetId({ params: { user_id_type: 'user_id' }, data: { emails: ['gone@example.com', 'bob@example.com'], include_resigned: true } });
    expect(withResigned.data?.user_list?.[0]).toMatchObject({ email: 'gone@example.com', status: { is_resigned: true } });
    expect(withResigned.data?.user_list?.[1]?.user_id).toBe('bob');
    const tooMany = await failure(client.contact.v3.user.batchGetId({ data: { emails: Array.from({ length: 51 }, (_, i) => `u${i}@x.com`) } }));
    expect(tooMany.response?.data.code).toBe(99992402);
  });
});

describe('interactive.v1.card.update (delayed card update)', () => {
  it('updates the clicked card with the callback token: 30 min, two uses', async () => {
    const chat = fake.addChat({ name: 'war room' });
    const sent = await sendCard(chat.chat_id, card('INC-5'));
    const id = sent.data!.message_id!;
    const token = fake.issueCardToken(id);
    const update = (t: string, c: unknown) => client.request({ method: 'POST', url: '/open-apis/interactive/v1/card/update', data: { token: t, card: c } });
    expect(await update(token, card('INC-5 已确认'))).toEqual({ code: 0, msg: 'ok' });
    await update(token, card('INC-5 已解决'));
    expect(fake.messages.get(id)?.history.map((h) => h.via)).toEqual(['im.message.create', 'interactive.card.update', 'interactive.card.update']);
    expect(fake.messages.get(id)?.parsed.header.title.content).toBe('INC-5 已解决');
    expect((await failure(update(token, card('third')))).response?.data.code).toBe(300040);
    expect((await failure(update('nope', card('x')))).response?.data.code).toBe(300020);
    const old = fake.issueCardToken(id, { issuedAt: Date.now() - 31 * 60 * 1000 });
    expect((await failure(update(old, card('late')))).response?.data.code).toBe(300030);
    const exclusive = fake.issueCardToken(id);
    expect((await failure(update(exclusive, { elements: [{ tag: 'div', text: { tag: 'plain_text', content: '1.0' } }] }))).response?.data.code).toBe(300090);
    expect(await update(exclusive, { open_ids: [ALICE], elements: [{ tag: 'div', text: { tag: 'plain_text', content: '1.0' } }] })).toMatchObject({ code: 0 });
    expect(fake.messages.get(id)?.history.at(-1)?.openIds).toEqual([ALICE]);
  });
});

describe('failure injection', () => {
  it('rate limits surface as the SDK does: AxiosError with response.data.code 99991400 and x-ogw-ratelimit-reset', async () => {
    fake.failNext('im.message.create', { rateLimited: true, resetSeconds: 7 });
    const e = await failure(sendText('open_id', ALICE, 'x'));
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('AxiosError');
    expect(e.response.status).toBe(400);
    expect(e.response.data.code).toBe(99991400);
    expect(e.response.headers['x-ogw-ratelimit-reset']).toBe('7');
    expect(e.response.headers['x-ogw-ratelimit-limit']).toBe('100');
    expect(fake.messages.size).toBe(0);

    fake.failNext('/open-apis/im/v1/messages', { rateLimited: true, status: 429 });
    const e429 = await failure(sendText('open_id', ALICE, 'x'));
    expect(e429.response.status).toBe(429);
    expect(e429.response.data.code).toBe(99991400);
    expect((await sendText('open_id', ALICE, 'now it works')).code).toBe(0);
  });

  it('injects outages, business errors (HTTP 400 or 200), failures after the work, and counts', async () => {
    fake.failNext('im.message.create', { status: 500 });
    expect((await failure(sendText('open_id', ALICE, 'x'))).response.status).toBe(500);

    fake.failNext('im.message.create', { code: 230020, msg: 'This operation triggers the frequency limit.' });
    expect((await failure(sendText('open_id', ALICE, 'x'))).response.data).toMatchObject({ code: 230020 });

    // HTTP 200 with code != 0: the SDK does not throw.
    fake.failNext('im.message.create', { code: 230020, status: 200 });
    expect((await sendText('open_id', ALICE, 'x')).code).toBe(230020);

    // The work happens, the caller sees a 500: a retry with the same uuid finds the message.
    fake.failNext('im.message.create', { status: 500, applied: true });
    expect((await failure(sendText('open_id', ALICE, 'applied', 'retry-1'))).response.status).toBe(500);
    const applied = fake.callsTo('im.message.create').at(-1)!;
    expect(applied.appliedResponse?.data?.message_id).toMatch(/^om_/);
    const retry = await sendText('open_id', ALICE, 'applied', 'retry-1');
    expect(retry.data?.message_id).toBe(applied.appliedResponse.data.message_id);
    expect(fake.messagesTo(ALICE)).toHaveLength(1);

    // times, and path templates.
    const chat = fake.addChat({ name: 'c' });
    fake.failNext('/open-apis/im/v1/chats/:chat_id/members', { rateLimited: true }, 2);
    const add = () => client.im.v1.chatMembers.create({ path: { chat_id: chat.chat_id }, data: { id_list: [BOB] } });
    await failure(add());
    await failure(add());
    expect((await add()).code).toBe(0);
    expect(fake.callsTo('im.chatMembers.create').map((c) => c.status)).toEqual([400, 400, 200]);

    // The token endpoint can fail too.
    fake.failNext('auth.tenantAccessToken.internal', { status: 500 });
    expect((await failure(sendTextWith(newClient(), ALICE, 'x'))).response.status).toBe(500);
  });

  it('holds answers back by latencyMs and waits for state', async () => {
    await sendText('open_id', ALICE, 'warm up (token cached)');
    fake.latencyMs = 150;
    try {
      const t0 = Date.now();
      const p = sendText('open_id', ALICE, 'slow');
      await fake.waitFor((f) => f.messagesTo(ALICE).length === 2, 1000);
      expect(Date.now() - t0).toBeLessThan(150);
      await p;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    } finally {
      fake.latencyMs = 0;
    }
    await expect(fake.waitFor((f) => f.messages.size > 5, 50)).rejects.toThrow(/im\.message\.create/);
  });

  it('answers unknown paths with 404 like the gateway', async () => {
    const e = await failure(client.request({ method: 'GET', url: '/open-apis/nope/v1/x' }));
    expect(e.response.status).toBe(404);
    expect(fake.callsTo('unknown')).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Inbound helpers (test/support/feishu.ts) against node:crypto and the real EventDispatcher
// ---------------------------------------------------------------------------------------------

describe('inbound helpers', () => {
  const KEY = 'enc_key_firebell';

  it('encryptFeishu is AES-256-CBC with key sha256(encryptKey) and the IV prepended', () => {
    const obj = { schema: '2.0', text: '报障 数据库挂了' };
    const { encrypt } = encryptFeishu(KEY, obj);
    const buf = Buffer.from(encrypt, 'base64');
    const decipher = createDecipheriv('aes-256-cbc', createHash('sha256').update(KEY).digest(), buf.subarray(0, 16));
    const plain = Buffer.concat([decipher.update(buf.subarray(16)), decipher.final()]).toString('utf8');
    expect(JSON.parse(plain)).toEqual(obj);
    expect(decryptFeishu(KEY, encrypt)).toEqual(obj);
    expect(encryptFeishu(KEY, obj).encrypt).not.toBe(encrypt); // random IV
    // The SDK's own cipher decrypts it.
    expect(JSON.parse(new lark.AESCipher(KEY).decrypt(encrypt))).toEqual(obj);
  });

  it('signFeishu is hex sha256(timestamp + nonce + encryptKey + body) in the X-Lark-* headers', () => {
    const body = JSON.stringify({ encrypt: 'abc' });
    const h = signFeishu(KEY, '1700000000', 'n0nce', body);
    const expected = createHash('sha256').update(`1700000000n0nce${KEY}${body}`).digest('hex');
    expect(h).toEqual({ 'X-Lark-Request-Timestamp': '1700000000', 'X-Lark-Request-Nonce': 'n0nce', 'X-Lark-Signature': expected });
    expect(feishuSignature(KEY, '1700000000', 'n0nce', body)).toBe(expected);
  });

  it('builds envelopes the SDK dispatcher accepts (message with mentions, card action, menu)', async () => {
    const seen: any[] = [];
    const dispatcher = new lark.EventDispatcher({ loggerLevel: lark.LoggerLevel.error, logger: quiet }).register<any>({
      'im.message.receive_v1': async (d: any) => void seen.push(['msg', d]),
      'card.action.trigger': async (d: any) => {
        seen.push(['card', d]);
        return { toast: { type: 'success', content: '已确认' } };
      },
      'application.bot.menu_v6': async (d: any) => void seen.push(['menu', d]),
    });
    const msg = messageEvent({ openId: ALICE, chatId: 'oc_group', chatType: 'group', text: '报障 数据库挂了', messageId: 'om_in_1', eventId: 'ev_1' });
    expect(JSON.parse(msg.event.message.content)).toEqual({ text: '@_user_1 报障 数据库挂了' });
    expect(msg.event.message.mentions[0]).toMatchObject({ key: '@_user_1', id: { open_id: FEISHU_BOT.openId }, name: FEISHU_BOT.name });
    await dispatcher.invoke(msg, { needCheck: false });
    const p2p = messageEvent({ openId: BOB, chatId: p2pChatId(BOB), chatType: 'p2p', text: '状态 7' });
    expect(p2p.event.message.mentions).toBeUndefined();
    await dispatcher.invoke(p2p, { needCheck: false });
    const cardRes = await dispatcher.invoke(cardAction({ openId: ALICE, value: { action: 'ack', incident: 'INC-1' }, messageId: 'om_card', chatId: 'oc_group', token: 'c-tok', formValue: { note: '处理中' } }), { needCheck: false });
    expect(cardRes).toEqual({ toast: { type: 'success', content: '已确认' } });
    await dispatcher.invoke(menuEvent({ openId: BOB, eventKey: 'report_incident' }), { needCheck: false });

    const [m, p, c, mn] = seen;
    expect(m[1]).toMatchObject({ event_id: 'ev_1', event_type: 'im.message.receive_v1', app_id: 'cli_firebell', sender: { sender_id: { open_id: ALICE } }, message: { message_id: 'om_in_1', chat_id: 'oc_group', chat_type: 'group', message_type: 'text' } });
    expect(p[1].message.chat_type).toBe('p2p');
    expect(c[1]).toMatchObject({ operator: { open_id: ALICE }, token: 'c-tok', action: { value: { action: 'ack', incident: 'INC-1' }, tag: 'button', form_value: { note: '处理中' } }, context: { open_message_id: 'om_card', open_chat_id: 'oc_group' } });
    expect(lark.normalizeCardAction(c[1])).toMatchObject({ messageId: 'om_card', chatId: 'oc_group', operator: { openId: ALICE } });
    expect(mn[1]).toMatchObject({ event_key: 'report_incident', operator: { operator_id: { open_id: BOB } } });
  });

  it('postFeishu sends encrypted, signed requests the SDK adapter verifies (and refuses forged ones)', async () => {
    const seen: string[] = [];
    const dispatcher = new lark.EventDispatcher({ encryptKey: KEY, loggerLevel: lark.LoggerLevel.error, logger: quiet }).register<any>({
      'im.message.receive_v1': async (d: any) => void seen.push(JSON.parse(d.message.content).text),
      'card.action.trigger': async () => ({ toast: { type: 'info', content: 'ok' } }),
    });
    const srv = http.createServer(lark.adaptDefault('/feishu/events', dispatcher, { autoChallenge: true }));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/feishu/events`;
    try {
      const ok = await postFeishu(url, messageEvent({ openId: ALICE, chatId: p2pChatId(ALICE), chatType: 'p2p', text: '列表' }), { encryptKey: KEY });
      expect(ok.status).toBe(200);
      const forged = await postFeishu(url, messageEvent({ openId: ALICE, chatId: p2pChatId(ALICE), chatType: 'p2p', text: 'forged' }), { encryptKey: KEY, sign: 'bad' });
      expect(forged.status).toBe(200); // the SDK answers 200 with an empty body and drops the event
      expect(forged.text).toBe('');
      const card = await postFeishu(url, cardAction({ openId: ALICE, value: { action: 'ack' }, messageId: 'om_1', chatId: 'oc_1' }), { encryptKey: KEY });
      expect(card.json).toEqual({ toast: { type: 'info', content: 'ok' } });
      const challenge = await postFeishu(url, urlVerification('ch-123'), { encryptKey: KEY, sign: false });
      expect(challenge.json).toEqual({ challenge: 'ch-123' });
      expect(seen).toEqual(['列表']);
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
