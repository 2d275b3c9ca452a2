/**
 * Feishu events as Firebell interactions (src/adapters/feishu/events.ts), over the real flows on
 * an embedded store: messages (direct and @mention), redeliveries, the bot menu, and card
 * callbacks (clicks, forms, refusals as toasts). The replies are recorded here; the wire to
 * Feishu's open-apis is the port's (tested against the fake Feishu).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createFeishuEvents, messageText, type FeishuCallbackCodec, type FeishuPlace } from '../../src/adapters/feishu/events';
import { buildPolicy } from '../../src/config/policy-schema';
import { createPgliteStore } from '../../src/db';
import { createDispatcher } from '../../src/flows/dispatch';
import type { FormContext } from '../../src/flows/interactions';
import { createInteractions } from '../../src/flows/interactions';
import type { NeutralCard, NeutralForm } from '../../src/flows/messages/card';
import { systemClock, type IncidentStore } from '../../src/flows/ports';
import { silentLogger } from '../../src/logger';
import { testPolicyDoc } from '../support/policy';

const OPEN_IDS: Record<string, string> = { 'zhang.san': 'ou_desk', 'li.wei': 'ou_l1', 'reporter.a': 'ou_rep', 'chen.jing': 'ou_im' };

function feishuPolicy() {
  const doc = testPolicyDoc();
  doc.locale = 'zh-CN';
  const people = doc.people as Record<string, Record<string, string>>;
  for (const [key, id] of Object.entries(OPEN_IDS)) people[key]!.feishu = id;
  for (const tier of ['desk', 'l1', 'l2', 'l3'] as const) doc.tiers[tier] = { ...doc.tiers[tier], queue: { feishu: `oc_${tier}` } };
  return buildPolicy(doc, 'feishu test policy');
}

/** The callback value shape the renderer gives buttons, as the test's stand-in codec reads it. */
const codec: FeishuCallbackCodec = {
  decode: (v) => {
    const x = v as { action?: unknown; value?: unknown; form?: unknown; context?: unknown } | null;
    if (x && x.action === 'form.submit' && typeof x.form === 'string' && typeof x.context === 'string') return { formSubmit: true, form: x.form, context: x.context };
    return x && typeof x.action === 'string' && typeof x.value === 'string' ? { actionId: x.action, value: x.value } : null;
  },
  readForm: (v) => (v && typeof v === 'object' ? (v as Record<string, string>) : {}),
};

let seq = 0;
const envelope = (type: string, event: Record<string, unknown>, eventId = `ev_${++seq}`) => ({
  schema: '2.0',
  header: { event_id: eventId, event_type: type, create_time: String(Date.now()), token: 't', app_id: 'cli_x', tenant_key: 'tk' },
  event,
});
const message = (openId: string, text: string, o: { chatType?: 'p2p' | 'group'; chatId?: string; mentions?: unknown[] } = {}) => ({
  sender: { sender_id: { open_id: openId }, sender_type: 'user' },
  message: { message_id: `om_${++seq}`, chat_id: o.chatId ?? `oc_p2p_${openId}`, chat_type: o.chatType ?? 'p2p', message_type: 'text', content: JSON.stringify({ text }), mentions: o.mentions ?? [] },
});

describe('Feishu events', () => {
  let store: IncidentStore;
  const said: { to: FeishuPlace | string; kind: 'text' | 'card' | 'form'; text?: string; card?: NeutralCard; form?: NeutralForm; context?: FormContext }[] = [];
  let handle: (p: Record<string, unknown>) => Promise<unknown>;
  const settle = () => new Promise((r) => setTimeout(r, 150));

  beforeAll(async () => {
    store = await createPgliteStore(null);
    const policy = feishuPolicy();
    const dispatcher = createDispatcher({ store, clock: systemClock(), policy, platforms: ['feishu'], newId: randomUUID, logger: silentLogger });
    const events = createFeishuEvents({
      interactions: createInteractions(dispatcher),
      store,
      policy,
      logger: silentLogger,
      codec,
      botOpenId: 'ou_bot',
      replies: {
        text: async (to, text) => {
          // A quoted reply to a recalled message fails on Feishu (230011); posting in the chat works.
          if (typeof to !== 'string' && to.messageId?.startsWith('om_recalled')) throw new Error('feishu error 230011: The message is recalled.');
          said.push({ to, kind: 'text', text });
        },
        card: async (to, card) => void said.push({ to, kind: 'card', card }),
        form: async (to, form, context) => void said.push({ to, kind: 'form', form, context }),
      },
    });
    handle = events.handle;
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(() => {
    said.length = 0;
  });

  it('files a report written to the bot in Chinese and answers in Chinese; a redelivery is processed once', async () => {
    const payload = envelope('im.message.receive_v1', message('ou_guest', '报障 三楼打印机卡纸'));
    expect(await handle(payload)).toEqual({});
    expect(await handle(payload)).toEqual({});
    await settle();
    const all = await store.list({ limit: 10 });
    expect(all.map((i) => i.title)).toEqual(['三楼打印机卡纸']);
    expect(all[0]!.reporter).toMatchObject({ id: 'feishu:ou_guest', platform: 'feishu' });
    expect(said).toHaveLength(1);
    expect(said[0]!.text).toContain('已收到');
  });

  it('an @mention in a group: the bot mention dropped, others named, the reply quoting the message', async () => {
    const [incident] = await store.list({ limit: 1 });
    const text = `@_user_1 状态 ${incident!.number}`;
    const ev = message('ou_desk', text, { chatType: 'group', chatId: 'oc_ops', mentions: [{ key: '@_user_1', id: { open_id: 'ou_bot' }, name: 'Firebell' }] });
    await handle(envelope('im.message.receive_v1', ev));
    await settle();
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ kind: 'card', to: { chatId: 'oc_ops', messageId: ev.message.message_id } });
    expect(messageText({ message_type: 'text', content: JSON.stringify({ text: '@_user_1 升级 @_user_2 请看' }), mentions: [{ key: '@_user_1', id: { open_id: 'ou_bot' } }, { key: '@_user_2', id: { open_id: 'ou_x' }, name: '李伟' }] }, 'ou_bot')).toBe('升级 @李伟 请看');
    expect(messageText({ message_type: 'text', content: JSON.stringify({ text: '/incident list' }) })).toBe('list');
    expect(messageText({ message_type: 'image', content: '{}' })).toBeNull();
  });

  it('card clicks: the desk accepts (a toast), the reporter is refused (an error toast), a tampered value is refused', async () => {
    const [incident] = await store.list({ limit: 1 });
    const value = { action: 'incident.accept', value: `${incident!.id}|${incident!.version}|` };
    const click = (openId: string, v: unknown) => envelope('card.action.trigger', { operator: { open_id: openId }, action: { tag: 'button', value: v }, context: { open_message_id: 'om_card', open_chat_id: 'oc_desk' } });
    expect(await handle(click('ou_guest', value))).toMatchObject({ toast: { type: 'error', content: expect.stringContaining('服务台') } });
    expect(await handle(click('ou_desk', value))).toEqual({ toast: { type: 'success', content: `您已受理 ${incident!.number}。` } });
    expect((await store.get(incident!.id))!.assignee?.id).toBe('zhang.san');
    expect(await handle(click('ou_desk', { action: 'incident.accept', value: 'not-a-button' }))).toMatchObject({ toast: { type: 'error' } });
    expect(await handle(click('ou_desk', 'garbage'))).toMatchObject({ toast: { type: 'error' } });
  });

  it('a button that needs a form sends it to the person; the submitted form acts', async () => {
    const [incident] = await store.list({ limit: 1 });
    const value = { action: 'incident.resolve', value: `${incident!.id}|${incident!.version}|` };
    const answer = await handle(envelope('card.action.trigger', { operator: { open_id: 'ou_desk' }, action: { tag: 'button', value }, context: { open_message_id: 'om_card', open_chat_id: 'oc_desk' } }));
    expect(answer).toEqual({ toast: { type: 'info', content: '表单已发送到您与 Firebell 的单聊中。' } });
    const form = said.find((s) => s.kind === 'form')!;
    expect(form.to).toBe('ou_desk');
    expect(form.form!.id).toBe('incident.resolve');
    const submit = { action: 'form.submit', form: 'incident.resolve', context: JSON.stringify(form.context) };
    const empty = await handle(envelope('card.action.trigger', { operator: { open_id: 'ou_desk' }, action: { tag: 'button', value: submit, form_value: { code: 'fixed', note: '' } }, context: {} }));
    expect(empty).toMatchObject({ toast: { type: 'error' } });
    const done = await handle(envelope('card.action.trigger', { operator: { open_id: 'ou_desk' }, action: { tag: 'button', value: submit, form_value: { code: 'fixed', note: '换了硒鼓' } }, context: {} }));
    expect(done).toMatchObject({ toast: { type: 'success' } });
    expect((await store.get(incident!.id))!.status).toBe('resolved');
  });

  it('the bot menu runs its key as a command in the person’s own chat', async () => {
    await handle(envelope('application.bot.menu_v6', { operator: { operator_id: { open_id: 'ou_desk' }, operator_name: '张三' }, event_key: 'list' }));
    await settle();
    expect(said).toEqual([expect.objectContaining({ kind: 'text', to: { chatId: 'ou_desk' } })]);
    await handle(envelope('application.bot.menu_v6', { operator: { operator_id: { open_id: 'ou_desk' } }, event_key: 'report' }));
    await settle();
    expect(said.at(-1)).toMatchObject({ kind: 'form', to: 'ou_desk', form: { id: 'report' } });
  });

  it('when the quoted reply fails, the answer is posted in the chat; nobody is told nothing changed', async () => {
    const ev = message('ou_desk', '@_user_1 报障 会议室投影仪没信号', { chatType: 'group', chatId: 'oc_ops', mentions: [{ key: '@_user_1', id: { open_id: 'ou_bot' }, name: 'Firebell' }] });
    ev.message.message_id = `om_recalled_${++seq}`;
    await handle(envelope('im.message.receive_v1', ev));
    await settle();
    expect((await store.list({ limit: 10 })).some((i) => i.title === '会议室投影仪没信号')).toBe(true);
    expect(said).toEqual([expect.objectContaining({ kind: 'text', to: { chatId: 'oc_ops' }, text: expect.stringContaining('已收到') })]);
  });

  it('ignores other events and the bot’s own messages', async () => {
    expect(await handle(envelope('im.chat.member.bot.added_v1', {}))).toEqual({});
    await handle(envelope('im.message.receive_v1', { ...message('ou_bot', 'hello'), sender: { sender_id: { open_id: 'ou_bot' }, sender_type: 'app' } }));
    await settle();
    expect(said).toEqual([]);
  });
});
