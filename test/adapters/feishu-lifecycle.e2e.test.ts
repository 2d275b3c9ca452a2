/**
 * Feishu end to end, in Chinese, on both transports (issue 5): the whole life of an incident over
 * HTTP callbacks, a major incident with its war-room group over the long connection's dispatcher,
 * and one deployment serving Slack and Feishu at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPolicy } from '../../src/config/policy-schema';
import { cardAction, menuEvent, messageEvent } from '../support/feishu';
import { FEISHU_ENCRYPT_KEY, FEISHU_VERIFICATION_TOKEN, feishuButtons, feishuText, startFeishuBot, type FeishuBotHarness } from '../support/feishu-bot';
import { createSlackClient } from '../support/slack';
import { BOT_TOKEN, SIGNING_SECRET } from '../support/slack-bot';
import { testPolicyDoc } from '../support/policy';

const OPEN_IDS: Record<string, string> = { 'zhang.san': 'ou_desk', 'li.wei': 'ou_l1', 'wang.wu': 'ou_l2', 'chen.jing': 'ou_im', 'pm.gao': 'ou_pm', 'reporter.a': 'ou_rep' };
const QUEUE = { desk: 'oc_desk', l1: 'oc_l1', l2: 'oc_l2', l3: 'oc_l3' } as const;

function feishuPolicy(opts: { slackToo?: boolean } = {}) {
  const doc = testPolicyDoc();
  doc.locale = 'zh-CN';
  const people = doc.people as Record<string, Record<string, string>>;
  for (const [key, id] of Object.entries(OPEN_IDS)) people[key]!.feishu = id;
  // Zhao Liu is configured by his employee user_id: his open_id comes from the contact API.
  people['zhao.liu']!.feishu = 'E1003';
  for (const tier of ['desk', 'l1', 'l2', 'l3'] as const) {
    const queue: Record<string, string> = opts.slackToo ? (tier === 'desk' ? { slack: 'C0DESK' } : { feishu: QUEUE[tier] }) : { feishu: QUEUE[tier] };
    doc.tiers[tier] = { ...doc.tiers[tier], queue };
  }
  doc.tiers.l2 = { ...doc.tiers.l2, on_duty: ['wang.wu'] };
  return buildPolicy(doc, 'feishu lifecycle policy');
}

function prepare(fake: FeishuBotHarness['fake']) {
  for (const chat of Object.values(QUEUE)) fake.addChat({ chat_id: chat, name: chat });
  for (const [key, openId] of Object.entries(OPEN_IDS)) fake.addUser({ openId, name: key });
  fake.addUser({ openId: 'ou_l3', userId: 'E1003', name: 'zhao.liu' });
}

/** Polls an async condition (the database) until it holds. */
async function until(pred: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const latest = (h: FeishuBotHarness, id: string) => h.fake.messages.get(id)!;
const cardIn = (h: FeishuBotHarness, chat: string, text: string) => h.fake.messagesTo(chat).find((m) => m.msg_type === 'interactive' && feishuText(m).includes(text));

describe('Feishu over HTTP: the whole life of an incident, in Chinese', () => {
  let h: FeishuBotHarness;
  beforeAll(async () => {
    h = await startFeishuBot(feishuPolicy(), { transport: 'http', prepare });
  });
  afterAll(async () => h?.close());

  it('report form from the bot menu → accept → escalate with a reason → L1 accepts and resolves → reopened → resolved → confirmed → rated', async () => {
    const { fake, store } = h;
    // The bot menu's "report" opens the report form in the reporter's chat with the bot.
    expect((await h.deliver(menuEvent({ openId: 'ou_rep', eventKey: 'report' }))).status).toBe(200);
    const reportForm = await h.formFor('ou_rep', '报告事件');
    const filed = await h.submit('ou_rep', reportForm, { title: 'VPN 每隔几分钟断开', description: '上海办公室全部同事', category: 'fault', impact: 'medium', urgency: 'medium', system: 'VPN' });
    expect(filed.json.toast).toMatchObject({ type: 'success' });
    const [incident] = await store.list({ limit: 5 });
    expect(incident).toMatchObject({ title: 'VPN 每隔几分钟断开', system: 'VPN', reporter: { id: 'reporter.a', platformUserId: 'ou_rep' } });
    const number = incident!.number;
    expect(filed.json.toast.content).toContain(number);

    // The queue card; status and list answer in Chinese.
    await fake.waitFor(() => cardIn(h, QUEUE.desk, number) !== undefined, 8000);
    const deskCard = cardIn(h, QUEUE.desk, number)!;
    expect(feishuButtons(deskCard).map((b) => b.action)).toEqual(['incident.accept', 'incident.resolve', 'incident.reject', 'incident.declare_major']);
    await h.say('ou_rep', 'ou_rep', `状态 ${number}`);
    await fake.waitFor(() => fake.messagesTo('ou_rep').some((m) => m.msg_type === 'interactive' && feishuText(m).includes('新建')));

    // Accept, then escalate: the reason form comes to the desk agent's chat with the bot.
    expect((await h.click('ou_desk', deskCard, 'incident.accept')).json.toast).toMatchObject({ type: 'success', content: `您已受理 ${number}。` });
    await fake.waitFor(() => feishuButtons(latest(h, deskCard.message_id)).some((b) => b.action === 'incident.escalate'));
    const esc = await h.click('ou_desk', latest(h, deskCard.message_id), 'incident.escalate');
    expect(esc.json.toast).toMatchObject({ type: 'info', content: expect.stringContaining('表单已发送') });
    const escForm = await h.formFor('ou_desk', `升级 ${number}`);
    // An empty reason is refused in the toast, and nothing changes.
    const empty = await h.submit('ou_desk', escForm, { reason: '' });
    expect(empty.json.toast.type).toBe('error');
    expect((await store.get(incident!.id))!.tier).toBe('desk');
    expect((await h.submit('ou_desk', escForm, { reason: '需要网络组的权限' })).json.toast.type).toBe('success');
    await fake.waitFor(() => cardIn(h, QUEUE.l1, number) !== undefined, 8000);
    await fake.waitFor(() => feishuText(latest(h, deskCard.message_id)).includes('已转至') && feishuButtons(latest(h, deskCard.message_id)).length === 0);

    // L1 accepts and resolves through the resolve form.
    const l1Card = cardIn(h, QUEUE.l1, number)!;
    await h.click('ou_l1', l1Card, 'incident.accept');
    await fake.waitFor(() => feishuText(latest(h, l1Card.message_id)).includes('处理中'));
    expect((await h.click('ou_l1', latest(h, l1Card.message_id), 'incident.resolve')).json).toEqual({ toast: { type: 'info', content: '表单已发送到您与 Firebell 的单聊中。' } });
    const resolveForm = await h.formFor('ou_l1', `解决 ${number}`);
    expect((await h.submit('ou_l1', resolveForm, { code: 'config_change', note: 'VPN 集中器的 MTU 改回 1400' })).json.toast.type).toBe('success');

    // The reporter confirms or reopens from a card in their chat with the bot.
    const confirmCard = () => fake.messagesTo('ou_rep').find((m) => feishuButtons(m).some((b) => b.action === 'incident.confirm'));
    await fake.waitFor(() => confirmCard() !== undefined, 8000);
    expect(feishuText(confirmCard())).toContain('MTU 改回 1400');
    const confirmId = confirmCard()!.message_id;
    await h.click('ou_rep', confirmCard()!, 'incident.reopen');
    const reopenForm = await h.formFor('ou_rep', `重新打开 ${number}`);
    await h.submit('ou_rep', reopenForm, { reason: '午饭后还是断' });
    await fake.waitFor(() => feishuButtons(latest(h, l1Card.message_id)).some((b) => b.action === 'incident.resolve') && feishuText(latest(h, l1Card.message_id)).includes('处理中'), 8000);
    expect((await store.get(incident!.id))!).toMatchObject({ status: 'in_progress', assignee: { id: 'li.wei' } });

    await h.click('ou_l1', latest(h, l1Card.message_id), 'incident.resolve');
    const resolveAgain = await h.formFor('ou_l1', `解决 ${number}`);
    await h.submit('ou_l1', resolveAgain, { code: 'fixed', note: '更换了抖动的上联' });
    await fake.waitFor(() => feishuText(latest(h, confirmId)).includes('更换了抖动的上联') && feishuButtons(latest(h, confirmId)).some((b) => b.action === 'incident.confirm'), 8000);
    await h.click('ou_rep', latest(h, confirmId), 'incident.confirm');
    await fake.waitFor(() => feishuButtons(latest(h, confirmId)).some((b) => b.action === 'incident.rate'), 8000);
    expect(feishuButtons(latest(h, confirmId)).map((b) => b.text)).toEqual(['1 ★', '2 ★', '3 ★', '4 ★', '5 ★']);
    await h.click('ou_rep', latest(h, confirmId), 'incident.rate', '5 ★');
    await fake.waitFor(() => feishuText(latest(h, confirmId)).includes('5/5'), 8000);

    const closed = (await store.get(incident!.id))!;
    expect(closed).toMatchObject({ status: 'closed', rating: 5, resolverTier: 'l1', assignee: { id: 'li.wei' } });
    const timeline = await store.timeline(closed.id);
    expect(timeline.map((e) => e.event.type)).toEqual([
      'IncidentReported',
      'IncidentAccepted',
      'IncidentEscalated',
      'IncidentAccepted',
      'IncidentResolved',
      'IncidentReopened',
      'IncidentResolved',
      'ResolutionConfirmed',
      'IncidentRated',
    ]);
    // The Feishu user behind every step is on the timeline.
    expect(timeline.every((e) => e.platform === 'feishu')).toBe(true);
    expect(timeline.map((e) => (e.actor.kind === 'person' ? e.actor.person.platformUserId : '-'))).toEqual(['ou_rep', 'ou_desk', 'ou_desk', 'ou_l1', 'ou_l1', 'ou_rep', 'ou_l1', 'ou_rep', 'ou_rep']);
    // Every change reached the reporter in Chinese.
    const dms = fake.messagesTo('ou_rep').map(feishuText).join('\n');
    expect(dms).toContain('已升级');
    expect(dms).toContain('已受理');
  });

  it('a stale button and a tampered one get a toast in Chinese and change nothing', async () => {
    const incident = (await h.store.list({ limit: 5 }))[0]!;
    const live = cardIn(h, QUEUE.desk, incident.number)!;
    // The card as it first came, with its Accept button: long since acted on.
    const deskCard = { ...live, parsed: live.history[0]!.parsed };
    const stale = await h.click('ou_desk', deskCard, 'incident.accept');
    expect(stale.json.toast.type).toBe('error');
    const tampered = await h.deliver(cardAction({ openId: 'ou_desk', value: { action: 'incident.accept', value: 'not-ours' }, messageId: deskCard.message_id, chatId: QUEUE.desk }));
    expect(tampered.json.toast).toMatchObject({ type: 'error' });
    expect(tampered.json.toast.content).toMatch(/[\u4e00-\u9fff]/);
    expect((await h.store.get(incident.id))!.status).toBe('closed');
  });

  it('resolves a person configured by user_id to their open_id at start', () => {
    expect(h.fake.callsTo('contact.user.get').map((c) => c.query?.user_id_type)).toEqual(['user_id']);
    expect(h.bot.store).toBeDefined();
  });
});

describe('Feishu over the long connection: a major incident with its war-room group, in Chinese', () => {
  let h: FeishuBotHarness;
  beforeAll(async () => {
    h = await startFeishuBot(feishuPolicy(), { transport: 'ws', prepare });
  });
  afterAll(async () => h?.close());

  it('重大 <text> files and declares a P1 → a group with its people, announcement and pinned summary → updates and notes in the group → resolved → report in the group', async () => {
    const { fake, store } = h;
    const said = fake.addMessage({ chatId: QUEUE.desk, senderOpenId: 'ou_desk', text: '重大 财务系统全部宕机' });
    const declare = messageEvent({ openId: 'ou_desk', chatId: QUEUE.desk, chatType: 'group', text: '重大 财务系统全部宕机', messageId: said.message_id });
    expect(await h.deliver(declare)).toEqual({ status: 200, json: {} });
    // The long connection redelivers a frame it thinks was lost: processed once.
    await h.deliver(declare);
    await fake.waitFor(() => [...fake.chats.values()].some((c) => c.name.includes('财务系统全部宕机') && c.members.has('ou_im')), 8000);
    const incidents = await store.list({ limit: 5 });
    expect(incidents).toHaveLength(1);
    const incident = incidents[0]!;
    expect(incident).toMatchObject({ priority: 'P1', major: { state: expect.any(String) } });
    const room = [...fake.chats.values()].find((c) => c.name.includes('财务系统全部宕机'))!;
    expect(room.name).toBe(`${incident.number} 财务系统全部宕机`);
    expect(fake.callsTo('im.chat.create')).toHaveLength(1);
    for (const u of ['ou_im', 'ou_pm', 'ou_l2', 'ou_desk']) expect(room.members.has(u)).toBe(true);
    await fake.waitFor(() => room.announcement.text.includes(incident.number) && fake.messagesTo(room.chat_id).some((m) => m.pinned), 8000);
    expect(room.announcement.text).toContain('「进展 <内容>」');
    const summary = fake.messagesTo(room.chat_id).find((m) => m.pinned)!;
    expect(feishuText(summary)).toContain(`重大事件 ${incident.number}`);

    // A status update typed in the group: posted there, on the timeline, summary current.
    await h.say('ou_im', room.chat_id, '进展 已切换到备用数据库，正在验证');
    await fake.waitFor(() => fake.messagesTo(room.chat_id).some((m) => m.msg_type === 'text' && feishuText(m).includes('已切换到备用数据库')), 8000);
    await fake.waitFor(() => feishuText(latest(h, summary.message_id)).includes('已切换到备用数据库'), 8000);
    await h.say('ou_l2', room.chat_id, '记录 主库磁盘控制器报错');
    await until(async () => (await store.timeline(incident.id)).some((e) => e.event.type === 'NoteAdded'));

    // Ten presses of Accept on the queue card at once (the agent and the platform retrying): one winner.
    const queueCard = cardIn(h, QUEUE.desk, incident.number)!;
    const accept = feishuButtons(queueCard).find((b) => b.action === 'incident.accept')!;
    const clicks = await Promise.all(Array.from({ length: 10 }, () => h.deliver(cardAction({ openId: 'ou_desk', value: accept.value, messageId: queueCard.message_id, chatId: QUEUE.desk }))));
    expect(clicks.filter((c) => c.json.toast?.type === 'success')).toHaveLength(1);
    expect(clicks.filter((c) => c.json.toast?.type === 'error')).toHaveLength(9);

    // Resolved from the queue card's form; the analysis report is posted in the group.
    await fake.waitFor(() => feishuText(latest(h, queueCard.message_id)).includes('处理中'), 8000);
    await h.click('ou_desk', latest(h, queueCard.message_id), 'incident.resolve');
    const form = await h.formFor('ou_desk', `解决 ${incident.number}`);
    await h.submit('ou_desk', form, { code: 'workaround', note: '切换到备用库，主库待厂商更换控制器' });
    await fake.waitFor(() => fake.messagesTo(room.chat_id).some((m) => feishuText(m).includes('重大事件处理分析报告')), 8000);
    const report = fake.messagesTo(room.chat_id).filter((m) => feishuText(m).includes('重大事件处理分析报告')).map(feishuText).join('\n');
    expect(report).toContain('已切换到备用数据库');
    expect(report).toContain('主库磁盘控制器报错');
    expect(report).toContain('切换到备用库');

    const timeline = await store.timeline(incident.id);
    const types = timeline.map((e) => e.event.type);
    expect(types).toEqual(expect.arrayContaining(['IncidentReported', 'MajorIncidentDeclared', 'StatusUpdatePosted', 'NoteAdded', 'IncidentAccepted', 'IncidentResolved']));
    expect(types.filter((t) => t === 'IncidentReported')).toHaveLength(1);
    // Each message in the group was answered there, quoting it.
    const answers = fake.callsTo('im.message.reply').filter((c) => c.status === 200).map((c) => String(c.body?.content));
    expect(answers.join('\n')).toContain('已写入 INC-1 的时间线');
    expect(answers.join('\n')).not.toContain('暂时无法保存');
    const update = timeline.find((e) => e.event.type === 'StatusUpdatePosted')!;
    expect(update.actor.kind === 'person' && update.actor.person.platformUserId).toBe('ou_im');
  });
});

describe('One deployment serving Slack and Feishu: reported on Slack, worked on Feishu', () => {
  let h: FeishuBotHarness;
  beforeAll(async () => {
    h = await startFeishuBot(feishuPolicy({ slackToo: true }), { transport: 'ws', slack: true, prepare });
  });
  afterAll(async () => h?.close());

  it('the desk queue on Slack, L1 on Feishu: escalated on Slack, accepted and resolved on Feishu, confirmed on Slack', async () => {
    const { fake, store } = h;
    const slackFake = h.slackFake!;
    const slack = createSlackClient({ endpoint: `${h.base}/slack/events`, signingSecret: SIGNING_SECRET, fake: slackFake });
    const reported = await slack.command('U0REP', '打印机无法连接');
    expect(reported.status).toBe(200);
    await slackFake.waitFor(() => [...slackFake.messages.values()].some((m) => m.channel === 'C0DESK'), 8000);
    const incident = (await store.list({ limit: 5 }))[0]!;
    expect(incident.reporter).toMatchObject({ id: 'reporter.a', platform: 'slack' });
    // No Feishu queue for the desk: nothing was posted there.
    expect(fake.messagesTo(QUEUE.desk)).toEqual([]);

    const deskCard = [...slackFake.messages.values()].find((m) => m.channel === 'C0DESK')!;
    const buttons = (m: typeof deskCard) => (m.blocks ?? []).filter((b: any) => b.type === 'actions').flatMap((b: any) => b.elements) as { action_id: string; value: string }[];
    const press = (user: string, m: typeof deskCard, id: string) => {
      const b = buttons(m).find((x) => x.action_id === id)!;
      return slack.click(user, { actionId: b.action_id, value: b.value, channel: m.channel, messageTs: m.ts });
    };
    await press('U0DESK', deskCard, 'incident.accept');
    await slackFake.waitFor(() => buttons(slackFake.messages.get(`C0DESK:${deskCard.ts}`)!).some((b) => b.action_id === 'incident.escalate'), 8000);
    const esc = await press('U0DESK', slackFake.messages.get(`C0DESK:${deskCard.ts}`)!, 'incident.escalate');
    await slackFake.waitFor(() => slack.openedView(esc.triggerId) !== undefined);
    const view = slack.openedView(esc.triggerId);
    await slack.submitView('U0DESK', { callbackId: view.callback_id, privateMetadata: view.private_metadata, values: { reason: { reason: { type: 'plain_text_input', value: '需要 L1 现场处理' } } } });

    // The L1 card appears in the Feishu group; an L1 engineer works it there.
    await fake.waitFor(() => cardIn(h, QUEUE.l1, incident.number) !== undefined, 8000);
    const l1Card = cardIn(h, QUEUE.l1, incident.number)!;
    expect((await h.click('ou_l1', l1Card, 'incident.accept')).json.toast.type).toBe('success');
    await fake.waitFor(() => feishuText(latest(h, l1Card.message_id)).includes('处理中'), 8000);
    await h.click('ou_l1', latest(h, l1Card.message_id), 'incident.resolve');
    const form = await h.formFor('ou_l1', `解决 ${incident.number}`);
    await h.submit('ou_l1', form, { code: 'fixed', note: '重新安装了打印机驱动' });

    // The Slack reporter confirms in Slack.
    const confirmMsg = () => [...slackFake.messages.values()].find((m) => m.channel === 'DU0REP' && buttons(m).some((b) => b.action_id === 'incident.confirm'));
    await slackFake.waitFor(() => confirmMsg() !== undefined, 8000);
    expect(JSON.stringify(confirmMsg()!.blocks)).toContain('重新安装了打印机驱动');
    await press('U0REP', confirmMsg()!, 'incident.confirm');
    await slackFake.waitFor(() => [...slackFake.messages.values()].some((m) => buttons(m).some((b) => b.action_id.startsWith('incident.rate'))), 8000);

    const done = (await store.get(incident.id))!;
    expect(done.status).toBe('closed');
    const timeline = await store.timeline(incident.id);
    expect(timeline.map((e) => `${e.event.type}@${e.platform}`)).toEqual([
      'IncidentReported@slack',
      'IncidentAccepted@slack',
      'IncidentEscalated@slack',
      'IncidentAccepted@feishu',
      'IncidentResolved@feishu',
      'ResolutionConfirmed@slack',
    ]);
    // Li Wei is one person across both: his Feishu click is his, not a guest's.
    expect(timeline[3]!.actor).toMatchObject({ kind: 'person', person: { id: 'li.wei', platformUserId: 'ou_l1' } });
    // A whole run across both platforms at debug level: no secret of either in any log line.
    const all = h.logs.join('\n');
    expect(h.logs.length).toBeGreaterThan(20);
    for (const secret of [BOT_TOKEN, SIGNING_SECRET, fake.appSecret, FEISHU_ENCRYPT_KEY, FEISHU_VERIFICATION_TOKEN]) expect(all).not.toContain(secret);
  });
});
