/**
 * Exercises the DingTalk fake the way our client will talk to it: plain `fetch` against two bases (both the fake's
 * URL), JSON bodies, `x-acs-dingtalk-access-token` on the new API and `?access_token=` on the old oapi.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFakeDingTalk, type FakeDingTalk } from './dingtalk-api';

const ALICE = 'alice01';
const BOB = 'bob02';
const CAROL = 'carol03';
const TEMPLATE = 'incident-card.schema';
const GROUP_TEMPLATE = 'war-room-template';

let fake: FakeDingTalk;

type Answer = { status: number; json: any };

async function api(path: string, o: { method?: string; body?: unknown; token?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.token) headers['x-acs-dingtalk-access-token'] = o.token;
  const res = await fetch(`${fake.apiUrl}${path}`, { method: o.method ?? 'POST', headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) });
  return { status: res.status, json: await res.json() };
}

async function oapi(path: string, body: unknown, token: string | null, query: Record<string, string> = {}): Promise<Answer> {
  const q = new URLSearchParams({ ...(token ? { access_token: token } : {}), ...query }).toString();
  const res = await fetch(`${fake.oapiUrl}${path}${q ? `?${q}` : ''}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function getToken(): Promise<string> {
  const r = await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey, appSecret: fake.appSecret } });
  expect(r.status).toBe(200);
  return r.json.accessToken as string;
}

const sendGroup = (token: string, openConversationId: string, msgKey: string, params: unknown, extra: Record<string, unknown> = {}) =>
  api('/v1.0/robot/groupMessages/send', {
    token,
    body: { robotCode: fake.robotCode, openConversationId, msgKey, msgParam: typeof params === 'string' ? params : JSON.stringify(params), ...extra },
  });

const groupCard = (outTrackId: string, cid: string, cardParamMap: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  cardTemplateId: TEMPLATE,
  outTrackId,
  callbackType: 'STREAM',
  cardData: { cardParamMap },
  openSpaceId: `dtv1.card//IM_GROUP.${cid}`,
  imGroupOpenSpaceModel: { supportForward: true },
  imGroupOpenDeliverModel: { robotCode: fake.robotCode, atUserIds: { [ALICE]: 'Alice' } },
  ...extra,
});

beforeAll(async () => {
  fake = await createFakeDingTalk({
    users: [
      { userid: ALICE, name: 'Alice', mobile: '13800000001', unionid: 'unionAlice', title: 'SRE' },
      { userid: BOB, name: 'Bob', mobile: '+86 138-0000-0002' },
      { userid: CAROL, name: 'Carol' },
    ],
    templates: [TEMPLATE],
    groupTemplates: [GROUP_TEMPLATE],
    apps: { dingotherapp: 'other-secret' },
  });
});
afterEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

describe('access tokens', () => {
  it('issues a token from oauth2/accessToken and gettoken, returning (and renewing) the same one while valid', async () => {
    const r1 = await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey, appSecret: fake.appSecret } });
    expect(r1).toMatchObject({ status: 200, json: { expireIn: 7200 } });
    expect(r1.json.accessToken).toMatch(/^[0-9a-f]{32}$/);
    const r2 = await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey, appSecret: fake.appSecret } });
    expect(r2.json.accessToken).toBe(r1.json.accessToken);

    const res = await fetch(`${fake.oapiUrl}/gettoken?appkey=${fake.appKey}&appsecret=${fake.appSecret}`);
    const legacy = await res.json();
    expect(res.status).toBe(200);
    expect(legacy).toEqual({ errcode: 0, access_token: r1.json.accessToken, errmsg: 'ok', expires_in: 7200 });
    expect(fake.callsTo('oauth2.accessToken')).toHaveLength(2);
    expect(fake.callsTo('gettoken')[0]?.query).toEqual({ appkey: fake.appKey, appsecret: fake.appSecret });

    // The token works on both bases.
    const t = r1.json.accessToken as string;
    expect((await oapi('/topapi/v2/user/get', { userid: ALICE }, t)).json.errcode).toBe(0);
    fake.addGroup({ openConversationId: 'cidQueue==' });
    expect((await sendGroup(t, 'cidQueue==', 'sampleText', { content: 'hi' })).status).toBe(200);
    expect(fake.callsTo('robot.groupMessages.send')[0]?.token).toBe(t);
  });

  it('refuses wrong or missing credentials like DingTalk', async () => {
    const wrong = await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey, appSecret: 'nope' } });
    expect(wrong.status).toBe(400);
    expect(wrong.json).toMatchObject({ code: 'invalidClientIdOrSecret', message: '无效的clientId或者clientSecret' });
    expect(wrong.json.requestid).toMatch(/^[0-9A-F-]{36}$/);
    const missing = await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey } });
    expect(missing).toMatchObject({ status: 400, json: { code: 'MissingappSecret' } });
    const formBody = await fetch(`${fake.apiUrl}/v1.0/oauth2/accessToken`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `appKey=${fake.appKey}&appSecret=${fake.appSecret}`,
    });
    expect(formBody.status).toBe(400);
    expect(await formBody.json()).toMatchObject({ code: 'Missingbody' });

    const g1 = await (await fetch(`${fake.oapiUrl}/gettoken?appkey=${fake.appKey}&appsecret=nope`)).json();
    expect(g1).toMatchObject({ errcode: 40096, errmsg: '不合法的appKey或appSecret' });
    const g2 = await (await fetch(`${fake.oapiUrl}/gettoken?appkey=${fake.appKey}`)).json();
    expect(g2).toMatchObject({ errcode: 40035 });

    // Other apps registered with the fake get their own tokens.
    const other = await api('/v1.0/oauth2/accessToken', { body: { appKey: 'dingotherapp', appSecret: 'other-secret' } });
    expect(other.status).toBe(200);
    expect(fake.tokens.get(other.json.accessToken)?.appKey).toBe('dingotherapp');
  });

  it('answers missing, unknown and expired tokens with the real errors, and issues a new token after expiry', async () => {
    fake.addGroup({ openConversationId: 'cidQueue==' });
    const noHeader = await sendGroup('', 'cidQueue==', 'sampleText', { content: 'x' });
    expect(noHeader).toMatchObject({ status: 400, json: { code: 'AuthenticationFailed.MissingParameter', message: '缺少参数：x-acs-dingtalk-access-token' } });
    const bogus = await sendGroup('deadbeef', 'cidQueue==', 'sampleText', { content: 'x' });
    expect(bogus).toMatchObject({ status: 400, json: { code: 'InvalidAuthentication', message: '不合法的access_token' } });
    const blank = await oapi('/topapi/v2/user/get', { userid: ALICE }, null);
    expect(blank.json).toMatchObject({ errcode: 88, sub_code: '40000', sub_msg: 'access_token is blank' });

    const t1 = await getToken();
    fake.expireTokens();
    const expiredApi = await sendGroup(t1, 'cidQueue==', 'sampleText', { content: 'x' });
    expect(expiredApi).toMatchObject({ status: 400, json: { code: 'InvalidAuthentication' } });
    const expiredOapi = await oapi('/topapi/v2/user/get', { userid: ALICE }, t1);
    expect(expiredOapi.status).toBe(200);
    expect(expiredOapi.json).toMatchObject({ errcode: 88, sub_code: '40014', sub_msg: '不合法的access_token' });
    expect(expiredOapi.json.errmsg).toContain('subcode=40014');

    const t2 = await getToken();
    expect(t2).not.toBe(t1);
    expect((await sendGroup(t2, 'cidQueue==', 'sampleText', { content: 'ok' })).status).toBe(200);
    expect(fake.messages).toHaveLength(1);
  });

  it('accepts the oapi token in a form-urlencoded body', async () => {
    const t = await getToken();
    const res = await fetch(`${fake.oapiUrl}/topapi/v2/user/getbymobile`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=utf-8' },
      body: `access_token=${t}&mobile=13800000001`,
    });
    expect(await res.json()).toMatchObject({ errcode: 0, result: { userid: ALICE } });
  });
});

describe('robot group messages', () => {
  it('sends to a group the robot is in and records the parsed msgParam per conversation', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidOps==', title: 'ops', members: [ALICE, BOB] });
    const r1 = await sendGroup(t, 'cidOps==', 'sampleText', { content: 'INC-1 declared' });
    expect(r1.status).toBe(200);
    expect(Object.keys(r1.json)).toEqual(['processQueryKey']);
    const r2 = await sendGroup(t, 'cidOps==', 'sampleMarkdown', { title: 'INC-1', text: '**sev1** db down' });
    expect(r2.status).toBe(200);
    const msgs = fake.messagesTo('cidOps==');
    expect(msgs.map((m) => [m.via, m.msgKey, m.text])).toEqual([
      ['robot.groupMessages.send', 'sampleText', 'INC-1 declared'],
      ['robot.groupMessages.send', 'sampleMarkdown', '**sev1** db down'],
    ]);
    expect(msgs[1]?.params).toEqual({ title: 'INC-1', text: '**sev1** db down' });
    expect(msgs[0]?.processQueryKey).toBe(r1.json.processQueryKey);
    expect(fake.callsTo('/v1.0/robot/groupMessages/send')).toHaveLength(2);
    expect(fake.calls[1]?.headers['x-acs-dingtalk-access-token']).toBe(t);
  });

  it('refuses unknown groups, groups without the robot, other robots and malformed messages', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidOps==' });
    fake.addGroup({ openConversationId: 'cidNoBot==', botIsMember: false });
    const cases: [string, unknown, string, Record<string, unknown>?][] = [
      ['cidNope==', { content: 'x' }, 'invalid.openConversationId'],
      ['cidNoBot==', { content: 'x' }, 'resource.not.found'],
      ['cidOps==', { content: 'x' }, 'invalidParameter.robotCode.auth', { robotCode: 'dingsomeoneelse' }],
      ['cidOps==', 'not json', 'invalidParameter.msgParam.invalid'],
      ['cidOps==', { text: 'no content' }, 'miss.param.contentOfText'],
      ['cidOps==', { content: 'x' }, 'invalidParameter.msgKey.invalid', { msgKey: 'sampleNope' }],
      ['cidOps==', { content: 'x'.repeat(15001) }, 'invalidParameter.msgParam.tooLong'],
    ];
    for (const [cid, params, code, extra] of cases) {
      const r = await sendGroup(t, cid, 'sampleText', params, extra);
      expect([r.status, r.json.code], code).toEqual([400, code]);
    }
    const noCid = await api('/v1.0/robot/groupMessages/send', { token: t, body: { robotCode: fake.robotCode, msgKey: 'sampleText', msgParam: '{"content":"x"}' } });
    expect(noCid.json.code).toBe('miss.openConversationId');
    expect(fake.messages).toHaveLength(0);
  });

  it('throttles a group over groupSendLimitPerMinute and keeps it locked', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidBusy==' });
    fake.addGroup({ openConversationId: 'cidCalm==' });
    fake.groupSendLimitPerMinute = 2;
    expect((await sendGroup(t, 'cidBusy==', 'sampleText', { content: '1' })).status).toBe(200);
    expect((await sendGroup(t, 'cidBusy==', 'sampleText', { content: '2' })).status).toBe(200);
    const third = await sendGroup(t, 'cidBusy==', 'sampleText', { content: '3' });
    expect(third).toMatchObject({ status: 400, json: { code: 'send.too.fast' } });
    expect((await sendGroup(t, 'cidCalm==', 'sampleText', { content: 'other group' })).status).toBe(200);
    // Session replies count against the same group.
    const hook = fake.sessionWebhook('cidBusy==');
    const reply = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msgtype: 'text', text: { content: 'x' } }) });
    expect(await reply.json()).toMatchObject({ errcode: 410100 });
    expect(fake.messagesTo('cidBusy==')).toHaveLength(2);
  });
});

describe('robot 1:1 batch messages', () => {
  it('delivers to known users and reports invalid and flow-controlled ones', async () => {
    const t = await getToken();
    fake.flowControlledUsers.add(BOB);
    const r = await api('/v1.0/robot/oToMessages/batchSend', {
      token: t,
      body: { robotCode: fake.robotCode, userIds: [ALICE, BOB, 'ghost'], msgKey: 'sampleMarkdown', msgParam: JSON.stringify({ title: 'Paged', text: 'you are on call' }) },
    });
    expect(r.status).toBe(200);
    expect(r.json.processQueryKey).toEqual(expect.any(String));
    expect(r.json.invalidStaffIdList).toEqual(['ghost']);
    expect(r.json.flowControlledStaffIdList).toEqual([BOB]);
    expect(fake.messagesTo(ALICE).map((m) => [m.via, m.msgKey, m.params])).toEqual([['robot.oToMessages.batchSend', 'sampleMarkdown', { title: 'Paged', text: 'you are on call' }]]);
    expect(fake.messagesTo(BOB)).toHaveLength(0);
  });

  it('refuses empty and oversized recipient lists', async () => {
    const t = await getToken();
    const body = { robotCode: fake.robotCode, msgKey: 'sampleText', msgParam: '{"content":"x"}' };
    expect((await api('/v1.0/robot/oToMessages/batchSend', { token: t, body: { ...body, userIds: [] } })).json.code).toBe('invalidParameter.userIds.empty');
    const many = Array.from({ length: 21 }, (_, i) => `u${i}`);
    expect((await api('/v1.0/robot/oToMessages/batchSend', { token: t, body: { ...body, userIds: many } })).json.code).toBe('invalidParameter.userIds.overMax');
  });
});

describe('session webhook replies', () => {
  it('records what each session received, by conversation, without a token', async () => {
    const hook = fake.sessionWebhook('cidChat==');
    expect(hook).toMatch(new RegExp(`^${fake.oapiUrl}/robot/sendBySession\\?session=[0-9a-f]{32}$`));
    const post = (b: unknown) => fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) }).then((r) => r.json() as Promise<any>);
    expect(await post({ msgtype: 'text', text: { content: 'ack' }, at: { atUserIds: [ALICE], isAtAll: false } })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post({ msgtype: 'markdown', markdown: { title: 'INC-2', text: '## INC-2' } })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post({ msgtype: 'actionCard', actionCard: { title: 'Open', text: 'see', singleTitle: 'Open', singleURL: 'https://example.com' } })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(await post({ msgtype: 'empty' })).toEqual({ errcode: 0, errmsg: 'ok' });
    const msgs = fake.messagesTo('cidChat==');
    expect(msgs.map((m) => [m.via, m.msgKey, m.text])).toEqual([
      ['robot.sendBySession', 'text', 'ack'],
      ['robot.sendBySession', 'markdown', '## INC-2'],
      ['robot.sendBySession', 'actionCard', 'see'],
    ]);
    expect(msgs[0]?.body.at).toEqual({ atUserIds: [ALICE], isAtAll: false });
    const session = [...fake.sessions.values()][0];
    expect(session?.received).toHaveLength(4);
    expect(fake.callsTo('robot.sendBySession').every((c) => c.token === null)).toBe(true);
  });

  it('tags 1:1 sessions with the user and refuses bad bodies, unknown and expired sessions', async () => {
    const hook = fake.sessionWebhook('cidOneToOne==', { userId: ALICE });
    const post = (url: string, b: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) }).then((r) => r.json() as Promise<any>);
    expect((await post(hook, { msgtype: 'text', text: { content: 'hello' } })).errcode).toBe(0);
    expect(fake.messagesTo(ALICE).map((m) => m.text)).toEqual(['hello']);
    expect((await post(hook, { msgtype: 'text', text: {} })).errcode).toBe(40035);
    expect((await post(hook, { msgtype: 'video' })).errcode).toBe(400105);
    expect((await post(`${fake.oapiUrl}/robot/sendBySession?session=nope`, { msgtype: 'text', text: { content: 'x' } })).errcode).toBe(300005);
    const old = fake.sessionWebhook('cidOneToOne==', { expiresInMs: -1 });
    expect(await post(old, { msgtype: 'text', text: { content: 'late' } })).toMatchObject({ errcode: 300005, errmsg: 'session is expired' });
    expect(fake.messagesTo('cidOneToOne==')).toHaveLength(1);
  });
});

describe('interactive cards', () => {
  it('creates and delivers a card to a group, then updates it by key and by overwrite, keeping every version', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidWar==' });
    const r = await api('/v1.0/card/instances/createAndDeliver', { token: t, body: groupCard('inc-1-card', 'cidWar==', { title: 'INC-1', status: 'open', sev: '1' }) });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ success: true, result: { outTrackId: 'inc-1-card', deliverResults: [{ spaceType: 'IM_GROUP', spaceId: 'cidWar==', success: true }] } });
    expect(r.json.result.deliverResults[0].carrierId).toEqual(expect.any(String));

    const card = fake.cards.get('inc-1-card');
    expect(card).toMatchObject({ cardTemplateId: TEMPLATE, callbackType: 'STREAM', spaces: [{ spaceType: 'IM_GROUP', spaceId: 'cidWar==' }] });
    expect(fake.messagesTo('cidWar==').map((m) => [m.via, m.card?.outTrackId])).toEqual([['card.instances.createAndDeliver', 'inc-1-card']]);

    const byKey = await api('/v1.0/card/instances', {
      method: 'PUT',
      token: t,
      body: { outTrackId: 'inc-1-card', cardData: { cardParamMap: { status: 'acked' } }, privateData: { [ALICE]: { cardParamMap: { mine: 'yes' } } }, cardUpdateOptions: { updateCardDataByKey: true, updatePrivateDataByKey: true } },
    });
    expect(byKey).toEqual({ status: 200, json: { success: true, result: true } });
    const overwrite = await api('/v1.0/card/instances', { method: 'PUT', token: t, body: { outTrackId: 'inc-1-card', cardData: { cardParamMap: { status: 'resolved' } } } });
    expect(overwrite.status).toBe(200);

    expect(card?.history.map((v) => v.cardParamMap)).toEqual([
      { title: 'INC-1', status: 'open', sev: '1' },
      { title: 'INC-1', status: 'acked', sev: '1' },
      { status: 'resolved' },
    ]);
    expect(card?.history.map((v) => [v.via, v.byKey])).toEqual([
      ['card.instances.createAndDeliver', false],
      ['card.instances.update', true],
      ['card.instances.update', false],
    ]);
    expect(card?.privateData).toEqual({ [ALICE]: { mine: 'yes' } });
    // The message in the group points at the live card.
    expect(fake.messagesTo('cidWar==')[0]?.card?.cardParamMap).toEqual({ status: 'resolved' });
  });

  it('delivers 1:1 cards through IM_ROBOT and reports per-space delivery failures', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidNoBot==', botIsMember: false });
    const r = await api('/v1.0/card/instances/createAndDeliver', {
      token: t,
      body: {
        cardTemplateId: TEMPLATE,
        outTrackId: 'page-alice',
        cardData: { cardParamMap: { title: 'You are paged' } },
        openSpaceId: `dtv1.card//IM_ROBOT.${ALICE};IM_ROBOT.ghost;im_group.cidNoBot==`,
        imRobotOpenSpaceModel: { supportForward: false },
        imRobotOpenDeliverModel: { spaceType: 'IM_ROBOT', robotCode: fake.robotCode },
        imGroupOpenDeliverModel: { robotCode: fake.robotCode },
      },
    });
    expect(r.status).toBe(200);
    expect(r.json.result.deliverResults.map((d: any) => [d.spaceType, d.spaceId, d.success])).toEqual([
      ['IM_ROBOT', ALICE, true],
      ['IM_ROBOT', 'ghost', false],
      ['IM_GROUP', 'cidNoBot==', false],
    ]);
    expect(fake.messagesTo(ALICE).map((m) => m.card?.outTrackId)).toEqual(['page-alice']);
    expect(fake.messagesTo('cidNoBot==')).toHaveLength(0);
  });

  it('accepts only string cardParamMap values, known templates, well-formed spaces and new outTrackIds', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidWar==' });
    const create = (b: unknown) => api('/v1.0/card/instances/createAndDeliver', { token: t, body: b });
    const nonString = await create(groupCard('c-num', 'cidWar==', { count: 3 }));
    expect(nonString).toMatchObject({ status: 400, json: { code: 'param.invalid', message: 'param.invalid' } });
    expect((await create(groupCard('c-bool', 'cidWar==', { open: true }))).json.code).toBe('param.invalid');
    expect((await create(groupCard('c-obj', 'cidWar==', { who: { name: 'a' } }))).json.code).toBe('param.invalid');
    expect((await create(groupCard('c-ok', 'cidWar==', { count: '3', open: 'true', who: JSON.stringify({ name: 'a' }) }))).status).toBe(200);

    const dup = await create(groupCard('c-ok', 'cidWar==', { count: '4' }));
    expect(dup).toMatchObject({ status: 400, json: { code: 'param.cardAlreadyExist' } });
    expect(fake.cards.get('c-ok')?.cardParamMap.count).toBe('3');

    expect((await create(groupCard('c-tpl', 'cidWar==', {}, { cardTemplateId: 'other.schema' }))).json.code).toBe('param.templateNotExist');
    expect((await create(groupCard('c-space', 'cidWar==', {}, { openSpaceId: 'IM_GROUP.cidWar==' }))).json.code).toBe('param.openSpaceIdInvalid');
    expect((await create(groupCard('c-model', 'cidWar==', {}, { imGroupOpenDeliverModel: undefined }))).json.code).toBe('param.openDeliverModelEmpty');
    expect((await create(groupCard('', 'cidWar==', {}))).json.code).toBe('param.outTrackIdEmpty');
    expect((await create(groupCard('c-nodata', 'cidWar==', {}, { cardData: undefined }))).json.code).toBe('param.cardPublicDataEmpty');
    expect((await create(groupCard('c-long', 'cidWar==', { big: 'x'.repeat(1025) }))).json.code).toBe('param.invalid');

    fake.addTemplate('other.schema');
    expect((await create(groupCard('c-tpl', 'cidWar==', {}, { cardTemplateId: 'other.schema' }))).status).toBe(200);
  });

  it('refuses updates of unknown cards, empty updates and non-string values', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidWar==' });
    await api('/v1.0/card/instances/createAndDeliver', { token: t, body: groupCard('u-1', 'cidWar==', { a: '1' }) });
    const put = (b: unknown) => api('/v1.0/card/instances', { method: 'PUT', token: t, body: b });
    expect((await put({ outTrackId: 'nope', cardData: { cardParamMap: { a: '2' } } })).json.code).toBe('param.cardNotExist');
    expect((await put({ outTrackId: 'u-1' })).json.code).toBe('param.cardDataAndPrivateDataBothEmpty');
    expect((await put({ outTrackId: 'u-1', cardData: { cardParamMap: { a: 2 } } })).json.code).toBe('param.invalid');
    expect((await put({ cardData: { cardParamMap: { a: '2' } } })).json.code).toBe('param.outTrackIdEmpty');
    expect(fake.cards.get('u-1')?.history).toHaveLength(1);
  });
});

describe('scene groups', () => {
  it('creates a scene group with the robot in it; the same uuid returns the same group', async () => {
    const t = await getToken();
    const body = { title: 'INC-7 war room', template_id: GROUP_TEMPLATE, owner_user_id: ALICE, user_ids: `${BOB},${CAROL}`, uuid: 'inc-7', searchable: 0 };
    const r1 = await oapi('/topapi/im/chat/scenegroup/create', body, t);
    expect(r1.status).toBe(200);
    expect(r1.json).toMatchObject({ errcode: 0, errmsg: 'ok', success: true });
    const { open_conversation_id: cid, chat_id: chatId } = r1.json.result;
    expect(cid).toMatch(/^cid/);
    expect(chatId).toMatch(/^chat/);
    const r2 = await oapi('/topapi/im/chat/scenegroup/create', { ...body, title: 'retry' }, t);
    expect(r2.json.result).toEqual({ open_conversation_id: cid, chat_id: chatId });
    expect(fake.groups.size).toBe(1);
    const group = fake.groups.get(cid);
    expect(group).toMatchObject({ title: 'INC-7 war room', kind: 'scene', botIsMember: true, templateId: GROUP_TEMPLATE, ownerUserId: ALICE });
    expect([...(group?.members ?? [])].sort()).toEqual([ALICE, BOB, CAROL].sort());

    // The template's robot is in the new group: robot messages and cards work there.
    expect((await sendGroup(t, cid, 'sampleText', { content: 'war room open' })).status).toBe(200);
    const card = await api('/v1.0/card/instances/createAndDeliver', { token: t, body: groupCard('inc-7-card', cid, { title: 'INC-7' }) });
    expect(card.json.result.deliverResults[0].success).toBe(true);
    expect(fake.messagesTo(cid).map((m) => m.via)).toEqual(['robot.groupMessages.send', 'card.instances.createAndDeliver']);

    const got = await oapi('/topapi/im/chat/scenegroup/get', { open_conversation_id: cid }, t);
    expect(got.json).toMatchObject({ errcode: 0, result: { open_conversation_id: cid, title: 'INC-7 war room', template_id: GROUP_TEMPLATE, owner_staff_id: ALICE, searchable: '0' } });
  });

  it('refuses unknown templates, unknown users, list-typed user_ids and missing fields', async () => {
    const t = await getToken();
    const base = { title: 'x', template_id: GROUP_TEMPLATE, owner_user_id: ALICE };
    expect((await oapi('/topapi/im/chat/scenegroup/create', { ...base, template_id: 'nope' }, t)).json).toMatchObject({ errcode: 665036 });
    expect((await oapi('/topapi/im/chat/scenegroup/create', { ...base, owner_user_id: 'ghost' }, t)).json).toMatchObject({ errcode: 660041 });
    expect((await oapi('/topapi/im/chat/scenegroup/create', { ...base, user_ids: [BOB] }, t)).json).toMatchObject({ errcode: 40035 });
    expect((await oapi('/topapi/im/chat/scenegroup/create', { title: 'x' }, t)).json).toMatchObject({ errcode: 40035 });
    expect((await oapi('/topapi/im/chat/scenegroup/create', { ...base, title: 'x'.repeat(31) }, t)).json).toMatchObject({ errcode: 40035 });
    expect(fake.groups.size).toBe(0);
  });

  it('adds members with a comma list and refuses unknown groups and users', async () => {
    const t = await getToken();
    const created = await oapi('/topapi/im/chat/scenegroup/create', { title: 'INC-8', template_id: GROUP_TEMPLATE, owner_user_id: ALICE }, t);
    const cid = created.json.result.open_conversation_id as string;
    const add = await oapi('/topapi/im/chat/scenegroup/member/add', { open_conversation_id: cid, user_ids: `${BOB}, ${CAROL}` }, t);
    expect(add.json).toMatchObject({ errcode: 0, errmsg: 'ok', success: true });
    expect([...(fake.groups.get(cid)?.members ?? [])].sort()).toEqual([ALICE, BOB, CAROL].sort());
    expect((await oapi('/topapi/im/chat/scenegroup/member/add', { open_conversation_id: 'cidNope==', user_ids: BOB }, t)).json.errcode).toBe(400020);
    expect((await oapi('/topapi/im/chat/scenegroup/member/add', { open_conversation_id: cid, user_ids: 'ghost' }, t)).json.errcode).toBe(660041);
    expect((await oapi('/topapi/im/chat/scenegroup/member/add', { open_conversation_id: cid }, t)).json.errcode).toBe(40035);
    expect((await oapi('/topapi/im/chat/scenegroup/get', { open_conversation_id: 'cidNope==' }, t)).json.errcode).toBe(4000003);
  });
});

describe('users', () => {
  it('finds users by mobile and returns details', async () => {
    const t = await getToken();
    expect((await oapi('/topapi/v2/user/getbymobile', { mobile: '13800000001' }, t)).json).toMatchObject({ errcode: 0, errmsg: 'ok', result: { userid: ALICE } });
    expect((await oapi('/topapi/v2/user/getbymobile', { mobile: '+8613800000002' }, t)).json.result).toEqual({ userid: BOB });
    expect((await oapi('/topapi/v2/user/getbymobile', { mobile: '13900000000' }, t)).json).toMatchObject({ errcode: 60121 });
    expect((await oapi('/topapi/v2/user/getbymobile', { mobile: 'abc' }, t)).json).toMatchObject({ errcode: 40104 });
    expect((await oapi('/topapi/v2/user/getbymobile', {}, t)).json).toMatchObject({ errcode: 400002 });
    const got = await oapi('/topapi/v2/user/get', { userid: ALICE }, t);
    expect(got.json).toMatchObject({ errcode: 0, result: { userid: ALICE, name: 'Alice', mobile: '13800000001', unionid: 'unionAlice', title: 'SRE', active: true } });
    expect((await oapi('/topapi/v2/user/get', { userid: 'ghost' }, t)).json).toMatchObject({ errcode: 60121 });
    fake.addUser({ userid: 'dave04', name: 'Dave', mobile: '13800000004' });
    expect((await oapi('/topapi/v2/user/getbymobile', { mobile: '13800000004' }, t)).json.result).toEqual({ userid: 'dave04' });
  });
});

describe('failure injection and timing', () => {
  it('answers injected throttling like each base does', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidOps==' });
    fake.failNext('robot.groupMessages.send', { rateLimited: true });
    const api1 = await sendGroup(t, 'cidOps==', 'sampleText', { content: 'x' });
    expect(api1).toMatchObject({ status: 403, json: { code: 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi' } });
    fake.failNext('/v1.0/robot/groupMessages/send', { rateLimited: true, scope: 'global' });
    expect((await sendGroup(t, 'cidOps==', 'sampleText', { content: 'x' })).json.code).toBe('Forbidden.AccessDenied.QpsLimitForApi');
    fake.failNext('user.getbymobile', { rateLimited: true });
    const o1 = await oapi('/topapi/v2/user/getbymobile', { mobile: '13800000001' }, t);
    expect(o1.status).toBe(200);
    expect(o1.json.errcode).toBe(90018);
    fake.failNext('scenegroup.create', { rateLimited: true, scope: 'global' });
    expect((await oapi('/topapi/im/chat/scenegroup/create', { title: 'x', template_id: GROUP_TEMPLATE, owner_user_id: ALICE }, t)).json.errcode).toBe(90002);
    fake.failNext('gettoken', { rateLimited: true, scope: 'ip' });
    expect(await (await fetch(`${fake.oapiUrl}/gettoken?appkey=${fake.appKey}&appsecret=${fake.appSecret}`)).json()).toMatchObject({ status: 1111, punish: 'deny' });
    const hook = fake.sessionWebhook('cidOps==');
    fake.failNext('robot.sendBySession', { rateLimited: true });
    expect(await (await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ msgtype: 'text', text: { content: 'x' } }) })).json()).toMatchObject({ errcode: 410100 });
    expect(fake.messages).toHaveLength(0);
    expect(fake.groups.size).toBe(1);
    // The next call goes through.
    expect((await sendGroup(t, 'cidOps==', 'sampleText', { content: 'now' })).status).toBe(200);
  });

  it('injects outages, business errors, repeated failures and lost answers (applied)', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidOps==' });
    fake.failNext('robot.groupMessages.send', { status: 500 });
    expect(await sendGroup(t, 'cidOps==', 'sampleText', { content: 'x' })).toMatchObject({ status: 500, json: { code: 'system.error' } });
    fake.failNext('user.get', { status: 500 });
    expect(await oapi('/topapi/v2/user/get', { userid: ALICE }, t)).toMatchObject({ status: 500, json: { errcode: -1 } });
    fake.failNext('robot.groupMessages.send', { code: 'bot.stopped', message: '群机器人已经停用' });
    expect(await sendGroup(t, 'cidOps==', 'sampleText', { content: 'x' })).toMatchObject({ status: 400, json: { code: 'bot.stopped', message: '群机器人已经停用' } });
    fake.failNext('scenegroup.member.add', { code: 400001, message: '系统错误' });
    expect((await oapi('/topapi/im/chat/scenegroup/member/add', { open_conversation_id: 'cidOps==', user_ids: BOB }, t)).json).toMatchObject({ errcode: 400001 });
    fake.failNext('oauth2.accessToken', { status: 500 }, 2);
    expect((await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey, appSecret: fake.appSecret } })).status).toBe(500);
    expect((await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey, appSecret: fake.appSecret } })).status).toBe(500);
    expect((await api('/v1.0/oauth2/accessToken', { body: { appKey: fake.appKey, appSecret: fake.appSecret } })).status).toBe(200);
    expect(fake.messages).toHaveLength(0);

    // applied: the work happens, the caller sees the failure; a retry with the same uuid / outTrackId shows it was done.
    fake.failNext('scenegroup.create', { status: 500, applied: true });
    const body = { title: 'INC-9', template_id: GROUP_TEMPLATE, owner_user_id: ALICE, uuid: 'inc-9' };
    expect((await oapi('/topapi/im/chat/scenegroup/create', body, t)).status).toBe(500);
    const lost = fake.callsTo('scenegroup.create')[0];
    expect(lost?.appliedResponse).toMatchObject({ errcode: 0 });
    const retry = await oapi('/topapi/im/chat/scenegroup/create', body, t);
    expect(retry.json.result.open_conversation_id).toBe(lost?.appliedResponse.result.open_conversation_id);
    fake.failNext('card.instances.createAndDeliver', { status: 500, applied: true });
    expect((await api('/v1.0/card/instances/createAndDeliver', { token: t, body: groupCard('lost-card', 'cidOps==', { a: '1' }) })).status).toBe(500);
    expect((await api('/v1.0/card/instances/createAndDeliver', { token: t, body: groupCard('lost-card', 'cidOps==', { a: '1' }) })).json.code).toBe('param.cardAlreadyExist');
    expect(fake.messagesTo('cidOps==').map((m) => m.card?.outTrackId)).toEqual(['lost-card']);
  });

  it('holds answers back by latencyMs, waits for state, and reports the calls on timeout', async () => {
    const t = await getToken();
    fake.addGroup({ openConversationId: 'cidOps==' });
    fake.latencyMs = 150;
    try {
      const started = Date.now();
      let answered = false;
      const pending = sendGroup(t, 'cidOps==', 'sampleText', { content: 'slow' }).finally(() => {
        answered = true;
      });
      // The message is recorded on arrival, the answer comes latencyMs later.
      await fake.waitFor((f) => f.messagesTo('cidOps==').length === 1, 1000);
      expect(answered).toBe(false);
      expect((await pending).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    } finally {
      fake.latencyMs = 0;
    }
    await sendGroup(t, 'cidNope==', 'sampleText', { content: 'x' });
    const err = await fake.waitFor((f) => f.messages.length > 5, 50).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/FakeDingTalk\.waitFor timed out after 50ms/);
    expect(err?.message).toMatch(/oauth2\.accessToken .* → ok/);
    expect(err?.message).toMatch(/robot\.groupMessages\.send .*cidNope.* → HTTP 400 code=invalid\.openConversationId/);
    expect(err?.message).not.toContain(fake.appSecret);
  });

  it('answers unknown paths like each base and resets its state', async () => {
    const t = await getToken();
    expect(await api('/v1.0/robot/nope', { token: t, body: {} })).toMatchObject({ status: 404 });
    const bad = await oapi('/topapi/v2/user/notexist', {}, t);
    expect(bad.json).toMatchObject({ errcode: 22 });
    expect(bad.json.sub_msg).toContain('dingtalk.oapi.v2.user.notexist');
    expect((await oapi('/nope', {}, t)).json).toMatchObject({ errcode: 404 });
    expect(fake.callsTo('unknown')).toHaveLength(3);

    fake.addGroup({ openConversationId: 'cidOps==' });
    fake.addUser({ userid: 'temp', name: 'Temp' });
    fake.addTemplate('temp.schema');
    fake.failNext('user.get', { status: 500 });
    fake.reset();
    expect(fake.calls).toHaveLength(0);
    expect(fake.groups.size).toBe(0);
    expect(fake.users.has('temp')).toBe(false);
    expect(fake.users.has(ALICE)).toBe(true);
    expect(fake.templates).toEqual(new Set([TEMPLATE]));
    // Tokens survive a reset; the injected failure does not.
    expect((await oapi('/topapi/v2/user/get', { userid: ALICE }, t)).json.errcode).toBe(0);
  });

  it('treats an empty directory as non-strict', async () => {
    const open = await createFakeDingTalk();
    try {
      const r = await fetch(`${open.apiUrl}/v1.0/oauth2/accessToken`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ appKey: open.appKey, appSecret: open.appSecret }) });
      const t = ((await r.json()) as { accessToken: string }).accessToken;
      const send = await fetch(`${open.apiUrl}/v1.0/robot/oToMessages/batchSend`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-acs-dingtalk-access-token': t },
        body: JSON.stringify({ robotCode: open.robotCode, userIds: ['anyone'], msgKey: 'sampleText', msgParam: '{"content":"hi"}' }),
      });
      expect(((await send.json()) as { invalidStaffIdList: string[] }).invalidStaffIdList).toEqual([]);
      expect(open.messagesTo('anyone')).toHaveLength(1);
      // Any card template exists when none were registered.
      open.addGroup({ openConversationId: 'cidX==' });
      const card = await fetch(`${open.apiUrl}/v1.0/card/instances/createAndDeliver`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-acs-dingtalk-access-token': t },
        body: JSON.stringify({ cardTemplateId: 'whatever.schema', outTrackId: 'x', cardData: { cardParamMap: {} }, openSpaceId: 'dtv1.card//IM_GROUP.cidX==', imGroupOpenDeliverModel: { robotCode: open.robotCode } }),
      });
      expect(card.status).toBe(200);
    } finally {
      await open.close();
    }
  });
});
