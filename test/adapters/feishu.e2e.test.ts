/**
 * Feishu end to end over its wire format (issue 5): the whole bot (createFirebell) with Feishu
 * over HTTP callbacks, encrypted and signed events and card callbacks into /feishu/events and
 * /feishu/card, the real SDK client pointed at the fake open-apis, a fresh PostgreSQL database,
 * Chinese first. The long connection hands the same payloads to the same handler.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirebell, type Firebell } from '../../src/app';
import { buildPolicy } from '../../src/config/policy-schema';
import { loadEnv } from '../../src/config/env';
import { createPostgresStore } from '../../src/db/index';
import type { IncidentStore } from '../../src/flows/ports';
import { createLogger } from '../../src/logger';
import { createFakeFeishu, p2pChatId, type FakeFeishu, type FeishuMessage } from '../fakes/feishu-api';
import { cardAction, messageEvent, postFeishu } from '../support/feishu';
import { feishuButtons } from '../support/feishu-bot';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { testPolicyDoc } from '../support/policy';

const ENCRYPT_KEY = 'e2e-encrypt-key-feishu';
const VERIFICATION_TOKEN = 'vtoken-firebell';
const OPEN_IDS: Record<string, string> = { 'zhang.san': 'ou_desk', 'li.wei': 'ou_l1', 'wang.wu': 'ou_l2', 'zhao.liu': 'ou_l3', 'chen.jing': 'ou_im', 'pm.gao': 'ou_pm', 'reporter.a': 'ou_rep' };
const QUEUE = { desk: 'oc_desk', l1: 'oc_l1', l2: 'oc_l2', l3: 'oc_l3' } as const;

function policy() {
  const doc = testPolicyDoc();
  doc.locale = 'zh-CN';
  const people = doc.people as Record<string, Record<string, string>>;
  for (const [key, id] of Object.entries(OPEN_IDS)) people[key]!.feishu = id;
  for (const tier of ['desk', 'l1', 'l2', 'l3'] as const) doc.tiers[tier] = { ...doc.tiers[tier], queue: { feishu: QUEUE[tier] } };
  doc.tiers.l2 = { ...doc.tiers.l2, on_duty: ['wang.wu'] };
  // Configured by e-mail only: the open_id comes from the contact API at start.
  (people['sun.li'] as Record<string, string>).email = 'sun.li@example.com';
  return buildPolicy(doc, 'feishu e2e policy');
}

/** The callback values of the buttons on a card message, by action id. */
const buttonsOf = (m: FeishuMessage | undefined): Record<string, unknown> => Object.fromEntries(feishuButtons(m).map((b) => [b.action, b.value]));

const textOf = (m: FeishuMessage | undefined) => JSON.stringify(m?.parsed ?? '');

describe('Feishu end to end, HTTP callbacks, in Chinese', () => {
  let fake: FakeFeishu;
  let db: TestDatabase;
  let store: IncidentStore;
  let bot: Firebell;
  let base = '';
  const logs: string[] = [];
  const pol = policy();

  beforeAll(async () => {
    fake = await createFakeFeishu();
    for (const chat of Object.values(QUEUE)) fake.addChat({ chat_id: chat, name: chat });
    // The directory (strict once it has users): everyone here, and Sun Li found by e-mail.
    for (const [key, openId] of Object.entries(OPEN_IDS)) fake.addUser({ openId, name: key });
    fake.addUser({ openId: 'ou_guest', name: 'Guest' });
    fake.addUser({ openId: 'ou_appr', name: 'Sun Li', email: 'sun.li@example.com' });
    db = await createTestDatabase();
    store = await createPostgresStore(db.url);
    const env = loadEnv({
      PORT: '0',
      DATABASE_URL: db.url,
      FEISHU_APP_ID: fake.appId,
      FEISHU_APP_SECRET: fake.appSecret,
      FEISHU_ENCRYPT_KEY: ENCRYPT_KEY,
      FEISHU_VERIFICATION_TOKEN: VERIFICATION_TOKEN,
      FEISHU_DOMAIN: fake.url,
      FEISHU_CONNECTION: 'http',
    });
    const logger = createLogger({ level: 'debug', secrets: [fake.appSecret, ENCRYPT_KEY, VERIFICATION_TOKEN], write: (l) => logs.push(l) });
    bot = await createFirebell({ env, policy: pol, logger, store, outboxIntervalMs: 50 });
    const { port } = await bot.start();
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await bot?.stop();
    await store?.close();
    await fake?.close();
    await db?.drop();
  });

  const send = (body: unknown, path = '/feishu/events', sign: true | 'bad' | false = true) => postFeishu(`${base}${path}`, body, { encryptKey: ENCRYPT_KEY, sign });

  it('a report by direct message → the queue card → accept by card click (toast, card patched) → the reporter told', async () => {
    const reportEv = messageEvent({ openId: 'ou_guest', chatId: p2pChatId('ou_guest'), chatType: 'p2p', text: '报障 财务系统打不开' });
    expect(await send(reportEv)).toMatchObject({ status: 200, json: {} });
    // Feishu redelivers what it thinks was lost: processed once.
    expect((await send(reportEv)).status).toBe(200);
    await fake.waitFor(() => fake.messagesTo(QUEUE.desk).some((m) => m.msg_type === 'interactive'), 8000);
    const [incident, ...more] = await store.list({ limit: 10 });
    expect(more).toEqual([]);
    expect(incident).toMatchObject({ title: '财务系统打不开', reporter: { id: 'feishu:ou_guest', platform: 'feishu' } });
    const card = fake.messagesTo(QUEUE.desk).find((m) => m.msg_type === 'interactive')!;
    expect(card.parsed.schema).toBe('2.0');
    expect(textOf(card)).toContain(`${incident!.number} · 财务系统打不开`);
    await fake.waitFor(() => fake.messagesTo('ou_guest').some((m) => textOf(m).includes('已收到')));

    // A click from someone outside the desk is refused with a toast in their language.
    const accept = buttonsOf(card)['incident.accept'];
    expect(accept).toBeDefined();
    const refused = await send(cardAction({ openId: 'ou_l1', value: accept, messageId: card.message_id, chatId: QUEUE.desk }), '/feishu/card');
    expect(refused.json).toMatchObject({ toast: { type: 'error', content: expect.stringContaining('服务台') } });

    // Five clicks at once by the desk: one accept.
    const clicks = await Promise.all(
      Array.from({ length: 5 }, () => send(cardAction({ openId: 'ou_desk', value: accept, messageId: card.message_id, chatId: QUEUE.desk }), '/feishu/card')),
    );
    expect(clicks.filter((c) => c.json?.toast?.type === 'success').map((c) => c.json.toast.content)).toEqual([`您已受理 ${incident!.number}。`]);
    // The winner's answer carries the card as it is now: in progress, with the next buttons.
    const won = clicks.find((c) => c.json?.toast?.type === 'success')!;
    expect(won.json.card.type).toBe('raw');
    expect(JSON.stringify(won.json.card.data)).toContain('处理中');
    expect(Object.keys(buttonsOf({ parsed: won.json.card.data } as FeishuMessage))).toContain('incident.resolve');
    // A refused click changes nothing on the card: no card in its answer.
    expect(clicks.filter((c) => c.json?.toast?.type === 'error').every((c) => c.json.card === undefined)).toBe(true);
    await fake.waitFor(() => fake.messages.get(card.message_id)!.history.some((v) => v.via === 'im.message.patch' && v.content.includes('处理中')));
    expect((await store.get(incident!.id))!.assignee?.id).toBe('zhang.san');
    await fake.waitFor(() => fake.messagesTo('ou_guest').some((m) => textOf(m).includes('已受理')));
  });

  it('finds people configured by e-mail through the contact API, once, at start', () => {
    expect(pol.people['sun.li']!.accounts.feishu).toBe('ou_appr');
    expect(fake.callsTo('contact.user.batchGetId')).toHaveLength(1);
    expect(fake.callsTo('contact.user.batchGetId')[0]!.body).toEqual({ emails: ['sun.li@example.com'] });
  });

  it('a rate limit (99991400) on a card update is waited out through the outbox: patched once, after the reset', async () => {
    await send(messageEvent({ openId: 'ou_guest', chatId: p2pChatId('ou_guest'), chatType: 'p2p', text: '报障 打印机卡纸' }));
    await fake.waitFor(() => fake.messagesTo(QUEUE.desk).some((m) => textOf(m).includes('打印机卡纸')), 8000);
    const card = fake.messagesTo(QUEUE.desk).find((m) => textOf(m).includes('打印机卡纸'))!;
    await bot.scheduler.flush();
    fake.failNext('im.message.patch', { rateLimited: true, resetSeconds: 1 });
    const click = await send(cardAction({ openId: 'ou_desk', value: buttonsOf(card)['incident.accept'], messageId: card.message_id, chatId: QUEUE.desk }), '/feishu/card');
    expect(click.json).toMatchObject({ toast: { type: 'success' } });
    await fake.waitFor(() => fake.messages.get(card.message_id)!.history.some((v) => v.via === 'im.message.patch' && v.content.includes('处理中')), 8000);
    const patches = fake.callsTo('im.message.patch').filter((c) => c.path.endsWith(card.message_id));
    expect(patches.map((c) => c.status)).toEqual([400, 200]);
    expect(patches[1]!.at - patches[0]!.at).toBeGreaterThanOrEqual(900);
    expect(fake.messages.get(card.message_id)!.history.filter((v) => v.via === 'im.message.patch')).toHaveLength(1);
  });


  it('a send Feishu made but whose answer was lost is not made twice: every try carries the same uuid', async () => {
    await bot.scheduler.flush();
    // Feishu does the work, then answers HTTP 500 (code 1500): the first three sends of this
    // report (the answer in the chat, the queue card, the reporter's receipt) all look failed.
    fake.failNext('im.message.create', { status: 500, applied: true }, 3);
    await send(messageEvent({ openId: 'ou_guest', chatId: p2pChatId('ou_guest'), chatType: 'p2p', text: '报障 门禁读卡器离线' }));
    const about = () => fake.callsTo('im.message.create').filter((c) => JSON.stringify(c.body).includes('门禁读卡器离线'));
    // The outbox's sends are retried (a 500 is Feishu's trouble, not a refusal) until answered.
    await fake.waitFor(() => about().filter((c) => c.body.uuid !== undefined && c.status === 200).length >= 2, 10_000);
    await bot.scheduler.flush();
    const byUuid = new Map<string, number[]>();
    for (const c of about().filter((x) => x.body.uuid !== undefined)) byUuid.set(String(c.body.uuid), [...(byUuid.get(String(c.body.uuid)) ?? []), c.status]);
    // Every outbox send that looked failed was tried again with its uuid, and then answered.
    expect([...byUuid.values()].some((s) => s.length > 1)).toBe(true);
    for (const statuses of byUuid.values()) expect(statuses.at(-1)).toBe(200);
    for (const uuid of byUuid.keys()) expect(uuid).toMatch(/^[0-9a-f]{50}$/);
    // And Feishu kept one of each: one queue card, one receipt.
    expect(fake.messagesTo(QUEUE.desk).filter((m) => textOf(m).includes('门禁读卡器离线'))).toHaveLength(1);
    expect(fake.messagesTo('ou_guest').filter((m) => textOf(m).includes('门禁读卡器离线'))).toHaveLength(1);
    expect(await store.undelivered(10)).toEqual([]);
  });

  it('refuses a forged signature and an unsigned event with nothing stored', async () => {
    const before = (await store.list({ limit: 100 })).length;
    const ev = messageEvent({ openId: 'ou_guest', chatId: p2pChatId('ou_guest'), chatType: 'p2p', text: '报障 伪造的' });
    expect((await send(ev, '/feishu/events', 'bad')).status).toBe(401);
    expect((await send(ev, '/feishu/events', false)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect((await store.list({ limit: 100 })).length).toBe(before);
    expect(logs.join('\n')).not.toContain(ENCRYPT_KEY);
    expect(logs.join('\n')).not.toContain(fake.appSecret);
  });

  it('an @mention in a group declares a major incident: a war-room group with its people and the pinned summary', async () => {
    const incident = (await store.list({ limit: 10 })).find((i) => i.title === '财务系统打不开');
    const ev = messageEvent({ openId: 'ou_desk', chatId: QUEUE.desk, chatType: 'group', text: `重大 ${incident!.number}` });
    expect((await send(ev)).status).toBe(200);
    await fake.waitFor(() => fake.callsTo('im.chat.create').length > 0, 8000);
    const create = fake.callsTo('im.chat.create')[0]!;
    await fake.waitFor(() => [...fake.chats.values()].some((c) => c.name.startsWith(incident!.number) && c.members.has('ou_im')), 8000);
    const room = [...fake.chats.values()].find((c) => c.name.startsWith(incident!.number))!;
    expect(room.name).toBe(`${incident!.number} 财务系统打不开`);
    for (const u of ['ou_im', 'ou_pm', 'ou_l2', 'ou_desk']) expect(room.members.has(u)).toBe(true);
    await fake.waitFor(() => fake.messagesTo(room.chat_id).some((m) => m.pinned), 8000);
    const summary = fake.messagesTo(room.chat_id).find((m) => m.pinned)!;
    expect(textOf(summary)).toContain(`重大事件 ${incident!.number}`);
    expect(Object.keys(buttonsOf(summary))).toEqual(expect.arrayContaining(['war_room.update', 'war_room.roles']));
    expect(create.query?.uuid ?? create.body?.uuid).toBeTruthy();
    expect(fake.callsTo('im.chat.create')).toHaveLength(1);
  });
});
