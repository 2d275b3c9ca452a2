/**
 * DingTalk end to end, in Chinese (issue 6): the whole bot against a fake DingTalk (APIs and the
 * Stream gateway) speaking the real wire formats: robot messages and card callbacks as Stream
 * frames, each acknowledged with socketCallBackResponse; interactive cards from the template;
 * the war room as a scene group; HTTP outgoing-robot callbacks with their signature; and the
 * no-template fallback whose buttons type the command.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPolicy } from '../../src/config/policy-schema';
import { DINGTALK_DEFAULTS, postDingTalk, robotMessage } from '../support/dingtalk';
import { CARD_TEMPLATE, SCENE_TEMPLATE, startDingTalkBot, type DingTalkBotHarness } from '../support/dingtalk-bot';
import { testPolicyDoc } from '../support/policy';

const STAFF: Record<string, string> = { 'zhang.san': 'staff_desk', 'li.wei': 'staff_l1', 'wang.wu': 'staff_l2', 'chen.jing': 'staff_im', 'pm.gao': 'staff_pm', 'reporter.a': 'staff_rep' };
const QUEUE = { desk: 'cidDeskQueue==', l1: 'cidL1Queue==', l2: 'cidL2Queue==', l3: 'cidL3Queue==' } as const;

function dingPolicy() {
  const doc = testPolicyDoc();
  doc.locale = 'zh-CN';
  const people = doc.people as Record<string, Record<string, string>>;
  for (const [key, id] of Object.entries(STAFF)) people[key]!.dingtalk = id;
  // Zhao Liu is configured by mobile only: his staff id comes from getbymobile at start.
  people['zhao.liu']!.mobile = '+8613800000003';
  for (const tier of ['desk', 'l1', 'l2', 'l3'] as const) doc.tiers[tier] = { ...doc.tiers[tier], queue: { dingtalk: QUEUE[tier] } };
  doc.tiers.l2 = { ...doc.tiers.l2, on_duty: ['wang.wu'] };
  return buildPolicy(doc, 'dingtalk e2e policy');
}

function prepare(api: DingTalkBotHarness['api']) {
  for (const [tier, cid] of Object.entries(QUEUE)) api.addGroup({ openConversationId: cid, title: `${tier} 队列` });
  for (const [key, userid] of Object.entries(STAFF)) api.addUser({ userid, name: key });
  api.addUser({ userid: 'staff_l3', name: 'zhao.liu', mobile: '13800000003' });
  api.addTemplate(CARD_TEMPLATE);
  api.addGroupTemplate(SCENE_TEMPLATE);
}

const dm = (staffId: string) => ({ staffId, conversationId: `cidDm_${staffId}==`, conversationType: '1' as const });
const inGroup = (staffId: string, cid: string) => ({ staffId, conversationId: cid, conversationType: '2' as const });

describe('DingTalk over Stream mode with the card template, in Chinese', () => {
  let h: DingTalkBotHarness;
  beforeAll(async () => {
    h = await startDingTalkBot(dingPolicy(), { transport: 'stream', prepare });
  });
  afterAll(async () => h?.close());

  it('report by DM → queue card → concurrent clicks, one winner → escalate by typing → L1 → resolve → confirm → rate', async () => {
    const { api, store } = h;
    await h.say({ ...dm('staff_rep'), text: '报障 VPN 每隔几分钟断开' });
    const [incident, ...more] = await store.list({ limit: 5 });
    expect(more).toEqual([]);
    expect(incident).toMatchObject({ title: 'VPN 每隔几分钟断开', reporter: { id: 'reporter.a', platform: 'dingtalk', platformUserId: 'staff_rep' } });
    const n = incident!.number;
    // The receipt went back through the message's sessionWebhook.
    await api.waitFor(() => h.textsTo(`cidDm_staff_rep==`).some((t) => t.includes('已收到') && t.includes(n)), 8000);

    // The queue card: a template instance in the desk group, every value a string.
    await api.waitFor(() => h.cardsIn(QUEUE.desk).length === 1, 8000);
    const deskCard = h.cardsIn(QUEUE.desk)[0]!;
    expect(deskCard).toMatchObject({ cardTemplateId: CARD_TEMPLATE, callbackType: 'STREAM', openSpaceId: `dtv1.card//IM_GROUP.${QUEUE.desk}` });
    expect(Object.values(deskCard.cardParamMap).every((v) => typeof v === 'string')).toBe(true);
    expect(deskCard.cardParamMap.title).toContain(n);
    expect(h.buttons(deskCard).map((b) => b.action)).toEqual(['incident.accept', 'incident.resolve', 'incident.reject', 'incident.declare_major']);

    // Someone outside the desk is refused privately, in Chinese; nothing changes.
    expect(await h.click('staff_l1', deskCard, 'incident.accept')).toEqual({});
    await api.waitFor(() => h.textsTo('staff_l1').some((t) => t.includes('服务台')), 8000);

    // Five desk clicks at once (distinct deliveries): exactly one accept.
    const accept = h.buttons(deskCard).find((b) => b.action === 'incident.accept')!;
    const acks = await Promise.all(Array.from({ length: 5 }, () => h.click('staff_desk', { ...deskCard, cardParamMap: { ...deskCard.cardParamMap, buttons: JSON.stringify([accept]) } }, 'incident.accept')));
    const won = acks.filter((a) => a?.cardData);
    expect(won).toHaveLength(1);
    expect(won[0].cardData.cardParamMap.markdown + won[0].cardData.cardParamMap.title).toContain('处理中');
    expect((await store.get(incident!.id))!.assignee?.id).toBe('zhang.san');
    // The four late clicks are each told privately why nothing happened.
    await api.waitFor(() => h.textsTo('staff_desk').length >= 4, 8000);
    expect(h.textsTo('staff_desk')).toEqual(Array(4).fill(`您已经受理了 ${n}。`));
    // The card instance itself is updated by the outbox (PUT /v1.0/card/instances).
    await api.waitFor(() => deskCard.history.some((v) => v.via === 'card.instances.update' && (v.cardParamMap.markdown ?? '').includes('处理中')), 8000);

    // Escalate needs a reason: the button tells the agent what to type; typing it escalates.
    await h.click('staff_desk', deskCard, 'incident.escalate');
    await api.waitFor(() => h.textsTo('staff_desk').some((t) => t.includes(`升级 ${n}`)), 8000);
    await h.say({ ...inGroup('staff_desk', QUEUE.desk), text: `升级 ${n} 需要网络组的权限` });
    await api.waitFor(() => h.cardsIn(QUEUE.l1).length === 1, 8000);
    expect((await store.get(incident!.id))!.tier).toBe('l1');

    const l1Card = h.cardsIn(QUEUE.l1)[0]!;
    await h.click('staff_l1', l1Card, 'incident.accept');
    await api.waitFor(() => (l1Card.cardParamMap.markdown ?? '').includes('处理中') || h.buttons(l1Card).some((b) => b.action === 'incident.escalate'), 8000);
    await h.say({ ...inGroup('staff_l1', QUEUE.l1), text: `解决 ${n} config_change VPN 集中器 MTU 改回 1400` });
    expect((await store.get(incident!.id))!).toMatchObject({ status: 'resolved', resolutionCode: 'config_change' });

    // The reporter's card comes 1:1 (IM_ROBOT) with confirm / reopen.
    await api.waitFor(() => h.cardsIn('staff_rep').some((c) => h.buttons(c).some((b) => b.action === 'incident.confirm')), 8000);
    const repCard = h.cardsIn('staff_rep').find((c) => h.buttons(c).some((b) => b.action === 'incident.confirm'))!;
    expect(repCard.openSpaceId).toBe('dtv1.card//IM_ROBOT.staff_rep');
    expect(repCard.cardParamMap.markdown).toContain('MTU 改回 1400');
    await h.click('staff_rep', repCard, 'incident.confirm');
    await api.waitFor(() => h.buttons(repCard).some((b) => b.action === 'incident.rate'), 8000);
    expect(h.buttons(repCard).map((b) => b.text)).toEqual(['1 ★', '2 ★', '3 ★', '4 ★', '5 ★']);
    await h.click('staff_rep', repCard, 'incident.rate', '5 ★');
    await api.waitFor(() => (repCard.cardParamMap.markdown ?? '').includes('5/5'), 8000);

    const closed = (await store.get(incident!.id))!;
    expect(closed).toMatchObject({ status: 'closed', rating: 5, resolverTier: 'l1' });
    const timeline = await store.timeline(closed.id);
    expect(timeline.map((e) => e.event.type)).toEqual(['IncidentReported', 'IncidentAccepted', 'IncidentEscalated', 'IncidentAccepted', 'IncidentResolved', 'ResolutionConfirmed', 'IncidentRated']);
    expect(timeline.every((e) => e.platform === 'dingtalk')).toBe(true);
    expect(timeline.map((e) => (e.actor.kind === 'person' ? e.actor.person.platformUserId : '-'))).toEqual(['staff_rep', 'staff_desk', 'staff_desk', 'staff_l1', 'staff_l1', 'staff_rep', 'staff_rep']);
  });

  it('a robot message whose ack was lost is pushed again with the same messageId and processed once', async () => {
    const { gateway, store } = h;
    const before = (await store.list({ limit: 100 })).length;
    gateway!.dropNextAck();
    const id = await h.say({ ...dm('staff_rep'), text: '报障 三楼打印机卡纸', ack: false });
    await gateway!.waitForDelivery(id, 2, 8000);
    await gateway!.waitFor(() => gateway!.acksFor(id).length >= 2, 8000);
    const after = await store.list({ limit: 100 });
    expect(after.length).toBe(before + 1);
    expect(after.filter((i) => i.title === '三楼打印机卡纸')).toHaveLength(1);
  });

  it('a garbage frame and a card callback with no params are acknowledged, change nothing, and the bot carries on', async () => {
    const { gateway, store } = h;
    const before = (await store.list({ limit: 100 })).length;
    const garbage = gateway!.push('/v1.0/im/bot/messages/get', 'not json at all');
    await gateway!.waitForAck(garbage, 8000);
    const card = h.cardsIn(QUEUE.desk)[0]!;
    const junk = gateway!.push('/v1.0/card/instances/callback', { userId: 'staff_desk', outTrackId: card.outTrackId, content: '{"cardPrivateData":{"params":{"action":"incident.accept","value":"tampered"}}}' });
    expect((await gateway!.waitForAck(junk, 8000)) && gateway!.ackOf(junk)).toEqual({});
    await h.api.waitFor(() => h.textsTo('staff_desk').some((t) => t.includes('按钮')), 8000);
    await h.say({ ...dm('staff_rep'), text: '报障 会议室投影仪没信号' });
    expect((await store.list({ limit: 100 })).length).toBe(before + 1);
  });

  it('a rate-limited card delivery is retried through the outbox and arrives once', async () => {
    const { api, store } = h;
    api.failNext('card.instances.createAndDeliver', { rateLimited: true });
    await h.say({ ...dm('staff_rep'), text: '报障 打印机缺纸' });
    const incident = (await store.list({ limit: 100 })).find((i) => i.title === '打印机缺纸')!;
    await api.waitFor(() => h.cardsIn(QUEUE.desk).some((c) => (c.cardParamMap.title ?? '').includes(incident.number)), 8000);
    expect(h.cardsIn(QUEUE.desk).filter((c) => (c.cardParamMap.title ?? '').includes(incident.number))).toHaveLength(1);
    expect(api.callsTo('card.instances.createAndDeliver').filter((c) => c.status === 403).length).toBeGreaterThanOrEqual(1);
  });


  it('finds people configured by mobile once, at start', () => {
    expect(h.api.callsTo('user.getbymobile').map((c) => c.body)).toEqual([{ mobile: '13800000003' }]);
  });

  it('重大 INC-n in the queue group opens one scene group with its people and the summary card', async () => {
    const { api, store } = h;
    await h.say({ ...dm('staff_rep'), text: '报障 财务系统打不开' });
    const incident = (await store.list({ limit: 10 })).find((i) => i.title === '财务系统打不开')!;
    await h.say({ ...inGroup('staff_desk', QUEUE.desk), text: `重大 ${incident.number}` });
    await api.waitFor(() => api.callsTo('scenegroup.create').length > 0, 8000);
    const create = api.callsTo('scenegroup.create')[0]!;
    expect(create.body).toMatchObject({ template_id: SCENE_TEMPLATE, owner_user_id: 'staff_im', title: `${incident.number} 财务系统打不开` });
    const room = [...api.groups.values()].find((g) => g.kind === 'scene')!;
    // The incident and project managers, L2 on duty and the reporter (DOMAIN.md §6).
    await api.waitFor(() => ['staff_im', 'staff_pm', 'staff_l2', 'staff_rep'].every((u) => room.members.has(u)), 8000);
    await api.waitFor(() => h.cardsIn(room.openConversationId).some((c) => (c.cardParamMap.title ?? '').includes('重大事件')), 8000);
    const summary = h.cardsIn(room.openConversationId).find((c) => (c.cardParamMap.title ?? '').includes('重大事件'))!;
    expect(h.buttons(summary).map((b) => b.action)).toEqual(expect.arrayContaining(['war_room.update']));
    // An update typed in the scene group goes on the timeline and into the group.
    await h.say({ ...inGroup('staff_im', room.openConversationId), text: '进展 已切换到备用数据库' });
    await api.waitFor(() => h.textsTo(room.openConversationId).some((t) => t.includes('已切换到备用数据库')), 8000);
    expect(api.callsTo('scenegroup.create')).toHaveLength(1);
    expect((await store.timeline(incident.id)).some((e) => e.event.type === 'StatusUpdatePosted')).toBe(true);
  });

  it('a scene-group create whose answer was lost is repeated with the same uuid: one group', async () => {
    const { api, store } = h;
    await h.say({ ...dm('staff_rep'), text: '报障 OA 系统全部无法登录' });
    const incident = (await store.list({ limit: 20 })).find((i) => i.title === 'OA 系统全部无法登录')!;
    api.failNext('scenegroup.create', { status: 500, applied: true });
    const creates = api.callsTo('scenegroup.create').length;
    await h.say({ ...inGroup('staff_desk', QUEUE.desk), text: `重大 ${incident.number}` });
    await api.waitFor(() => api.callsTo('scenegroup.create').length >= creates + 2, 8000);
    const mine = [...api.groups.values()].filter((g) => g.kind === 'scene' && g.title.startsWith(incident.number));
    expect(mine).toHaveLength(1);
    await api.waitFor(() => h.cardsIn(mine[0]!.openConversationId).some((c) => (c.cardParamMap.title ?? '').includes('重大事件')), 8000);
  });
});

describe('DingTalk: throttling past the outbox’s usual attempts', () => {
  // A bot of its own, so nothing else of the test's is sent while the fake throttles.
  let h: DingTalkBotHarness;
  beforeAll(async () => {
    h = await startDingTalkBot(dingPolicy(), { transport: 'stream', prepare });
  });
  afterAll(async () => h?.close());

  it('a message throttled more often than the outbox’s usual eight tries still arrives, once', async () => {
    const { api, store } = h;
    api.failNext('robot.oToMessages.batchSend', { rateLimited: true }, 9);
    await h.say({ ...dm('staff_rep'), text: '报障 键盘失灵' });
    const incident = (await store.list({ limit: 100 })).find((i) => i.title === '键盘失灵')!;
    await api.waitFor(() => h.textsTo('staff_rep').filter((t) => t.includes(incident.number) && t.includes('已收到')).length >= 2, 20_000);
    const sends = api.callsTo('robot.oToMessages.batchSend').filter((c) => JSON.stringify(c.body).includes(incident.number));
    expect(sends.filter((c) => c.status === 403)).toHaveLength(9);
    expect(sends.filter((c) => c.status === 200)).toHaveLength(1);
  }, 30_000);
});

describe('DingTalk over HTTP outgoing-robot callbacks, without a card template', () => {
  let h: DingTalkBotHarness;
  beforeAll(async () => {
    h = await startDingTalkBot(dingPolicy(), { transport: 'http', template: false, scene: false, prepare });
  });
  afterAll(async () => h?.close());

  it('refuses forged, unsigned and stale callbacks with nothing stored', async () => {
    const msg = robotMessage({ ...dm('staff_rep'), text: '报障 伪造的', sessionWebhook: h.api.sessionWebhook('cidDm_staff_rep==') });
    const url = `${h.base}/dingtalk/events`;
    expect((await postDingTalk(url, msg, { appSecret: DINGTALK_DEFAULTS.clientSecret, sign: 'bad' })).status).toBe(401);
    expect((await postDingTalk(url, msg, { appSecret: DINGTALK_DEFAULTS.clientSecret, sign: false })).status).toBe(401);
    expect((await postDingTalk(url, msg, { appSecret: DINGTALK_DEFAULTS.clientSecret, timestamp: Date.now() - 2 * 3_600_000 })).status).toBe(401);
    expect(await h.store.list({ limit: 10 })).toEqual([]);
    expect(h.logs.join('\n')).not.toContain(DINGTALK_DEFAULTS.clientSecret);
  });

  it('the fallback ActionCard: its buttons are links that type the command, and typing it acts', async () => {
    const { api, store } = h;
    await h.say({ ...dm('staff_rep'), text: '报障 邮件发不出去' });
    const incident = (await store.list({ limit: 5 }))[0]!;
    await api.waitFor(() => api.messagesTo(QUEUE.desk).some((m) => (m.msgKey ?? '').startsWith('sampleActionCard')), 8000);
    const card = api.messagesTo(QUEUE.desk).find((m) => (m.msgKey ?? '').startsWith('sampleActionCard'))!;
    const links = Object.entries(card.params as Record<string, string>).filter(([k]) => /^actionURL\d$/.test(k)).map(([, v]) => v);
    const commands = links.map((l) => decodeURIComponent(new URL(l.replace('dtmd://', 'http://')).searchParams.get('content') ?? ''));
    expect(commands).toContain(`受理 ${incident.number}`);
    // Pressing the link sends its text as the agent: the same accept.
    await h.say({ ...inGroup('staff_desk', QUEUE.desk), text: `受理 ${incident.number}` });
    expect((await store.get(incident.id))!).toMatchObject({ status: 'in_progress', assignee: { id: 'zhang.san' } });
    // The card changed what it offers, and robot messages cannot be edited: the new one is posted.
    await api.waitFor(() => api.messagesTo(QUEUE.desk).filter((m) => (m.msgKey ?? '').startsWith('sampleActionCard')).length === 2, 8000);
    // A redelivered callback (same msgId) is processed once.
    const again = robotMessage({ ...inGroup('staff_desk', QUEUE.desk), text: `解决 ${incident.number} 重启了邮件网关`, msgId: 'msgRetry01==', sessionWebhook: api.sessionWebhook(QUEUE.desk) });
    for (let i = 0; i < 2; i++) expect((await postDingTalk(`${h.base}/dingtalk/events`, again, { appSecret: DINGTALK_DEFAULTS.clientSecret })).status).toBe(200);
    const timeline = await store.timeline(incident.id);
    expect(timeline.filter((e) => e.event.type === 'IncidentResolved')).toHaveLength(1);
  });
});
