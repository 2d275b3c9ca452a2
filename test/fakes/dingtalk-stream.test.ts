/**
 * Proves the DingTalk Stream fake is faithful: the REAL `dingtalk-stream` DWClient (through GatewayDWClient, which only
 * replaces the hard-coded gateway URL) registers, connects, answers pings, receives robot / card callbacks and events
 * and acks them exactly as it would against DingTalk; plus the inbound payload builders and the HTTP-mode signature.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { EventAck, TOPIC_CARD, TOPIC_ROBOT, type DWClientDownStream } from 'dingtalk-stream';
import {
  DingTalkGatewayError,
  GATEWAY_OPEN_PATH,
  createFakeDingTalkStream,
  createTestDWClient,
  type FakeDingTalkStream,
  type FakeDingTalkStreamOptions,
  type GatewayDWClient,
  type GatewayDWClientOptions,
} from './dingtalk-stream';
import { DINGTALK_DEFAULTS, cardCallback, postDingTalk, robotMessage, signDingTalk } from '../support/dingtalk';

let fake: FakeDingTalkStream | undefined;
const clients: GatewayDWClient[] = [];

async function startFake(opts: FakeDingTalkStreamOptions = {}): Promise<FakeDingTalkStream> {
  fake = await createFakeDingTalkStream(opts);
  return fake;
}

/** A real DWClient on the fake; a short reconnect delay keeps reconnect tests fast. Disconnected in afterEach. */
function newClient(f: FakeDingTalkStream, opts: Partial<GatewayDWClientOptions> = {}): GatewayDWClient {
  const c = createTestDWClient(f, { reconnectIntervalMs: 50, ...opts });
  clients.push(c);
  return c;
}

const groupMessage = (f: FakeDingTalkStream, text = 'declare sev1 db down') =>
  robotMessage({
    staffId: 'alice01',
    nick: 'Alice',
    conversationId: 'cidOpsGroup==',
    conversationType: '2',
    text,
    sessionWebhook: `${f.url}/robot/sendBySession?session=abc`,
  });

beforeEach(() => {
  // The SDK logs "connect success" / "Disconnecting." with console.info and socket errors with console.warn.
  vi.spyOn(console, 'info').mockImplementation(() => {});
  vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await fake?.close();
  fake = undefined;
  vi.restoreAllMocks();
});

describe('fake DingTalk Stream gateway with the real DWClient', () => {
  it('registers with the SDK body, opens the socket with the ticket and sends SYSTEM CONNECTED', async () => {
    const f = await startFake();
    const client = newClient(f);
    const onSystem = vi.spyOn(client, 'onSystem');
    client.registerCallbackListener(TOPIC_ROBOT, () => {});
    await client.connect();

    const conn = await f.waitForConnection();
    await f.waitFor(() => onSystem.mock.calls.some(([d]) => d.headers.topic === 'CONNECTED'), 2000, 'CONNECTED seen by the client');
    expect(client.connected).toBe(true);
    expect(f.connections).toBe(1);

    expect(f.gatewayCalls).toHaveLength(1);
    const call = f.gatewayCalls[0]!;
    expect(call.status).toBe(200);
    expect(call.accept).toBe('application/json');
    expect(call.body).toEqual({
      clientId: DINGTALK_DEFAULTS.clientId,
      clientSecret: DINGTALK_DEFAULTS.clientSecret,
      ua: '',
      subscriptions: [
        { type: 'EVENT', topic: '*' },
        { type: 'CALLBACK', topic: TOPIC_ROBOT },
      ],
    });
    expect(call.response).toEqual({ endpoint: f.endpoint, ticket: call.ticket });
    expect(conn.ticket).toBe(call.ticket);
    expect(conn.subscriptions).toEqual(call.subscriptions);

    const connected = f.sent.find((s) => s.topic === 'CONNECTED')!;
    expect(connected.frame).toEqual({
      specVersion: '1.0',
      type: 'SYSTEM',
      headers: { contentType: 'application/json', messageId: connected.messageId, time: expect.any(String), topic: 'CONNECTED' },
      data: '',
    });
  });

  it('the client echoes SYSTEM ping with the same headers and data; KEEPALIVE gets no reply', async () => {
    const f = await startFake();
    const client = newClient(f);
    await client.connect();
    await f.waitForConnection();

    const keepalive = f.keepalive();
    const id = f.ping();
    const pong = await f.waitForReply(id);
    const sent = f.deliveriesOf(id)[0]!;
    expect(pong.kind).toBe('pong');
    expect(pong.parsed).toEqual({ code: 200, headers: sent.frame.headers, message: 'OK', data: sent.frame.data });
    expect(JSON.parse(sent.frame.data)).toEqual({ opaque: expect.any(String) });
    // Frames are handled in order, so the KEEPALIVE sent before the ping was processed already.
    expect(f.received.filter((r) => r.messageId === keepalive)).toEqual([]);
  });

  it('delivers a robot CALLBACK to registerCallbackListener(TOPIC_ROBOT) and records the socketCallBackResponse ack', async () => {
    const f = await startFake();
    const client = newClient(f);
    const got: DWClientDownStream[] = [];
    client.registerCallbackListener(TOPIC_ROBOT, (m) => {
      got.push(m);
      client.socketCallBackResponse(m.headers.messageId, { handled: true });
    });
    await client.connect();
    const conn = await f.waitForConnection();

    const msg = groupMessage(f);
    const id = f.push(TOPIC_ROBOT, msg);
    const ack = await f.waitForAck(id);

    expect(got).toHaveLength(1);
    expect(got[0]!.specVersion).toBe('1.0');
    expect(got[0]!.type).toBe('CALLBACK');
    expect(got[0]!.headers).toEqual({
      appId: f.appId,
      connectionId: conn.id,
      contentType: 'application/json',
      messageId: id,
      time: expect.any(String),
      topic: TOPIC_ROBOT,
    });
    expect(JSON.parse(got[0]!.data)).toEqual(msg);

    expect(ack.parsed).toEqual({
      code: 200,
      headers: { contentType: 'application/json', messageId: id },
      message: 'OK',
      data: JSON.stringify({ response: { handled: true } }),
    });
    expect(ack.dropped).toBe(false);
    expect(f.ackOf(id)).toEqual({ handled: true });
    expect(f.pendingRedeliveries()).toEqual([]);
  });

  it('acks a card callback with cardData / userPrivateData (string cardParamMap values)', async () => {
    const f = await startFake();
    const client = newClient(f);
    client.registerCallbackListener(TOPIC_CARD, (m) => {
      const cb = JSON.parse(m.data);
      const { actionIds, params } = JSON.parse(cb.content).cardPrivateData;
      client.socketCallBackResponse(m.headers.messageId, {
        cardUpdateOptions: { updateCardDataByKey: true, updatePrivateDataByKey: true },
        cardData: { cardParamMap: { status: 'acknowledged', by: cb.userId, action: String(actionIds[0]), incident: String(params.incident) } },
        userPrivateData: { cardParamMap: { clicked: 'true' } },
      });
    });
    await client.connect();
    await f.waitForConnection();

    const id = f.push(
      TOPIC_CARD,
      cardCallback({ userId: 'alice01', outTrackId: 'inc-42-card', params: { action: 'ack', incident: 'INC-42' }, actionIds: ['ack_btn'], spaceType: 'IM_GROUP', spaceId: 'cidOpsGroup==' }),
    );
    await f.waitForAck(id);
    const response = f.ackOf(id);
    expect(response).toEqual({
      cardUpdateOptions: { updateCardDataByKey: true, updatePrivateDataByKey: true },
      cardData: { cardParamMap: { status: 'acknowledged', by: 'alice01', action: 'ack_btn', incident: 'INC-42' } },
      userPrivateData: { cardParamMap: { clicked: 'true' } },
    });
    for (const v of Object.values(response.cardData.cardParamMap)) expect(typeof v).toBe('string');
  });

  it('refuses to push a topic no open connection subscribed to, as DingTalk would never push it', async () => {
    const f = await startFake();
    // Another client in the same process subscribes to cards; the plain SDK would leak that into every instance.
    newClient(f).registerCallbackListener(TOPIC_CARD, () => {});
    const client = newClient(f);
    client.registerCallbackListener(TOPIC_ROBOT, () => {});
    expect(client.getConfig().subscriptions).toEqual([
      { type: 'EVENT', topic: '*' },
      { type: 'CALLBACK', topic: TOPIC_ROBOT },
    ]);
    await client.connect();
    await f.waitForConnection();
    expect(() => f.push(TOPIC_CARD, cardCallback({ userId: 'u', outTrackId: 't', params: {}, spaceType: '', spaceId: '' }))).toThrow(/no open connection subscribed to CALLBACK/);
  });

  it('redelivers an un-acked callback: the same frame with the same messageId, until it is acked', async () => {
    const f = await startFake({ redeliverUnackedAfterMs: 100, maxRedeliveries: 3 });
    const client = newClient(f);
    const seen: DWClientDownStream[] = [];
    client.registerCallbackListener(TOPIC_ROBOT, (m) => {
      seen.push(m);
      if (seen.length >= 2) client.socketCallBackResponse(m.headers.messageId, { ok: true }); // the first one is "lost" by the handler
    });
    await client.connect();
    await f.waitForConnection();

    const msg = groupMessage(f);
    const id = f.push(TOPIC_ROBOT, msg);
    await f.waitForAck(id);

    expect(seen.map((m) => m.headers.messageId)).toEqual([id, id]);
    expect(seen.map((m) => JSON.parse(m.data).msgId)).toEqual([msg.msgId, msg.msgId]);
    const deliveries = f.deliveriesOf(id);
    expect(deliveries.map((d) => d.attempt)).toEqual([1, 2]);
    expect(deliveries[1]!.raw).toBe(deliveries[0]!.raw);
    expect(f.pendingRedeliveries()).not.toContain(id);
    expect(f.acksFor(id)).toHaveLength(1);
  });

  it('gives up after maxRedeliveries when the client never acks', async () => {
    const f = await startFake({ redeliverUnackedAfterMs: 50, maxRedeliveries: 2 });
    const client = newClient(f);
    client.registerCallbackListener(TOPIC_ROBOT, () => {});
    await client.connect();
    await f.waitForConnection();

    const id = f.push(TOPIC_ROBOT, groupMessage(f));
    await f.waitFor(() => f.gaveUp.includes(id), 3000, 'gave up');
    expect(f.deliveriesOf(id).map((d) => d.attempt)).toEqual([1, 2, 3]);
    expect(f.ackOf(id)).toBeUndefined();
    expect(f.pendingRedeliveries()).toEqual([]);
  });

  it('dropNextAck: the client acked but the server lost it, so the same message comes again', async () => {
    const f = await startFake({ redeliverUnackedAfterMs: 100 });
    const client = newClient(f);
    let calls = 0;
    client.registerCallbackListener(TOPIC_ROBOT, (m) => {
      calls++;
      client.socketCallBackResponse(m.headers.messageId, { attempt: calls });
    });
    await client.connect();
    await f.waitForConnection();

    f.dropNextAck('m-lost-ack-1');
    const id = f.push(TOPIC_ROBOT, groupMessage(f), { messageId: 'm-lost-ack-1' });
    expect(id).toBe('m-lost-ack-1');
    await f.waitForAck(id);

    expect(calls).toBe(2);
    expect(f.acksFor(id).map((a) => a.dropped)).toEqual([true, false]);
    expect(f.ackOf(id)).toEqual({ attempt: 2 });
    expect(f.deliveriesOf(id)).toHaveLength(2);
  });

  it('delivers EVENT frames to registerAllEventListener; a LATER ack counts as not done', async () => {
    const f = await startFake({ redeliverUnackedAfterMs: 100 });
    const client = newClient(f);
    const events: DWClientDownStream[] = [];
    client.registerAllEventListener((e) => {
      events.push(e);
      return { status: events.length === 1 ? EventAck.LATER : EventAck.SUCCESS };
    });
    await client.connect();
    await f.waitForConnection();

    const id = f.pushEvent('chat_update_title', { chatId: 'chat123', title: 'INC-42 war room' }, { eventId: 'ev-1' });
    await f.waitFor(() => f.acksFor(id).some((a) => a.response?.status === 'SUCCESS'), 3000, 'SUCCESS ack');

    expect(events).toHaveLength(2);
    expect(events[0]!.type).toBe('EVENT');
    expect(events[0]!.headers).toMatchObject({ topic: '*', eventType: 'chat_update_title', eventId: 'ev-1', eventCorpId: DINGTALK_DEFAULTS.corpId, messageId: id });
    expect(JSON.parse(events[0]!.data)).toEqual({ chatId: 'chat123', title: 'INC-42 war room' });
    expect(f.acksFor(id).map((a) => a.response)).toEqual([{ status: 'LATER' }, { status: 'SUCCESS' }]);
    expect(f.ackOf(id)).toEqual({ status: 'LATER' }); // the first kept ack
    expect(f.pendingRedeliveries()).toEqual([]);
  });

  it('reconnects (autoReconnect) with a fresh ticket after disconnectAll, and keeps receiving', async () => {
    const f = await startFake();
    const client = newClient(f);
    client.registerCallbackListener(TOPIC_ROBOT, (m) => client.socketCallBackResponse(m.headers.messageId, { ok: true }));
    await client.connect();
    const first = await f.waitForConnection();

    await f.disconnectAll();
    expect(f.connections).toBe(0);
    expect(first.closeCode).toBe(1001);

    const second = await f.waitForConnection({ nth: 2 });
    await f.waitFor(() => client.connected && f.connections === 1, 2000, 'client reconnected');
    expect(f.gatewayCalls.map((c) => c.status)).toEqual([200, 200]);
    expect(second.ticket).not.toBe(first.ticket);
    expect(second.subscriptions).toEqual(first.subscriptions);

    const id = f.push(TOPIC_ROBOT, groupMessage(f));
    await f.waitForAck(id);
    expect(f.deliveriesOf(id)[0]!.connectionId).toBe(second.id);
  });

  it('redelivers an un-acked callback on the new connection after a reconnect', async () => {
    const f = await startFake({ redeliverUnackedAfterMs: 150 });
    const client = newClient(f);
    let calls = 0;
    client.registerCallbackListener(TOPIC_ROBOT, (m) => {
      calls++;
      if (calls >= 2) client.socketCallBackResponse(m.headers.messageId, { ok: true });
    });
    await client.connect();
    const first = await f.waitForConnection();
    const id = f.push(TOPIC_ROBOT, groupMessage(f));
    await f.waitFor(() => calls === 1, 2000, 'first delivery handled');

    await f.disconnectAll();
    const second = await f.waitForConnection({ nth: 2 });
    await f.waitForAck(id);
    expect(f.deliveriesOf(id).map((d) => d.connectionId)).toEqual([first.id, second.id]);
  });

  it('SYSTEM disconnect then a server close makes the client register again', async () => {
    const f = await startFake();
    const client = newClient(f);
    await client.connect();
    await f.waitForConnection();

    const id = f.sendDisconnect(undefined, { closeAfterMs: 20 });
    expect(JSON.parse(f.deliveriesOf(id)[0]!.frame.data)).toEqual({ reason: 'persistent connection is timeout' });
    await f.waitForConnection({ nth: 2 });
    expect(f.gatewayCalls).toHaveLength(2);
  });

  it('wrong credentials: the gateway answers 401 authFailed and no socket is opened', async () => {
    const f = await startFake();
    const client = newClient(f, { clientSecret: 'not-the-secret', autoReconnect: false });
    const err = await client.getEndpoint().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DingTalkGatewayError);
    expect((err as DingTalkGatewayError).status).toBe(401);
    expect((err as DingTalkGatewayError).body).toEqual({ requestid: expect.any(String), code: 'authFailed', message: '鉴权失败' });

    await client.connect(); // the SDK swallows the failure (and would retry with autoReconnect)
    expect(client.connected).toBe(false);
    expect(f.connections).toBe(0);
    expect(f.gatewayCalls.map((c) => [c.status, c.ticket])).toEqual([
      [401, undefined],
      [401, undefined],
    ]);

    const unknownApp = await fetch(f.gatewayUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ clientId: 'dingunknown', clientSecret: 'x', ua: '', subscriptions: [] }),
    });
    expect(unknownApp.status).toBe(401);
    expect(await unknownApp.json()).toMatchObject({ code: 'authFailed' });
  });

  it('a failed registration (injected 400 systemError) is retried by the SDK after reconnectInterval', async () => {
    const f = await startFake();
    f.failNextOpen();
    const client = newClient(f);
    await client.connect();
    await f.waitForConnection();
    expect(f.gatewayCalls.map((c) => c.status)).toEqual([400, 200]);
    expect(f.gatewayCalls[0]!.response).toMatchObject({ code: 'systemError', message: '系统错误' });
  });

  it('refuses an unknown or already used ticket with HTTP 401', async () => {
    const f = await startFake();
    const upgradeStatus = (url: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on('error', () => {});
        ws.on('unexpected-response', (req, res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        });
        ws.on('open', () => {
          resolve(101);
          ws.close();
        });
        setTimeout(() => reject(new Error('no answer to the upgrade')), 3000).unref();
      });

    expect(await upgradeStatus(`${f.endpoint}?ticket=bogus`)).toBe(401);

    const res = await fetch(`${f.url}${GATEWAY_OPEN_PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ clientId: f.clientId, clientSecret: f.clientSecret, ua: 'test', subscriptions: [{ type: 'CALLBACK', topic: TOPIC_ROBOT }] }),
    });
    const { endpoint, ticket } = (await res.json()) as { endpoint: string; ticket: string };
    expect(await upgradeStatus(`${endpoint}?ticket=${ticket}`)).toBe(101);
    expect(await upgradeStatus(`${endpoint}?ticket=${ticket}`)).toBe(401);
    expect(f.refused.map((r) => r.reason)).toEqual(['unknown ticket', 'unknown ticket']);
    await f.waitForDisconnect();
  });
});

describe('inbound DingTalk payload builders', () => {
  it('robotMessage: a group @mention arrives with a leading space, the bot in atUsers and isInAtList', () => {
    const m = robotMessage({ staffId: 'alice01', nick: 'Alice', conversationId: 'cidG==', conversationType: '2', text: 'declare sev1 db down', msgId: 'msgA==', createAt: 1_700_000_000_000 });
    expect(m).toEqual({
      conversationId: 'cidG==',
      atUsers: [{ dingtalkId: DINGTALK_DEFAULTS.chatbotUserId }],
      chatbotCorpId: DINGTALK_DEFAULTS.corpId,
      chatbotUserId: DINGTALK_DEFAULTS.chatbotUserId,
      msgId: 'msgA==',
      senderNick: 'Alice',
      isAdmin: false,
      senderStaffId: 'alice01',
      sessionWebhookExpiredTime: 1_700_000_000_000 + 20 * 60_000,
      createAt: 1_700_000_000_000,
      senderCorpId: DINGTALK_DEFAULTS.corpId,
      conversationType: '2',
      senderId: expect.stringMatching(/^\$:LWCP_v1:\$/),
      conversationTitle: 'Firebell Ops',
      isInAtList: true,
      sessionWebhook: expect.stringMatching(/^https:\/\/oapi\.dingtalk\.com\/robot\/sendBySession\?session=[0-9a-f]{32}$/),
      text: { content: ' declare sev1 db down' },
      robotCode: DINGTALK_DEFAULTS.clientId,
      msgtype: 'text',
    });
  });

  it('robotMessage: a 1:1 message is as typed, without conversationTitle or atUsers', () => {
    const m = robotMessage({ staffId: 'bob02', conversationId: 'cidP==', conversationType: '1', text: 'status INC-42' });
    expect(m.text.content).toBe('status INC-42');
    expect(m.senderNick).toBe('bob02');
    expect(m).not.toHaveProperty('conversationTitle');
    expect(m).not.toHaveProperty('atUsers');
    expect(m).not.toHaveProperty('isInAtList');
    expect(robotMessage({ staffId: 'a', conversationId: 'c', conversationType: '2', text: 'x', atUsers: [{ dingtalkId: '$:LWCP_v1:$bob', staffId: 'bob02' }] }).atUsers).toEqual([
      { dingtalkId: DINGTALK_DEFAULTS.chatbotUserId },
      { dingtalkId: '$:LWCP_v1:$bob', staffId: 'bob02' },
    ]);
  });

  it('cardCallback: content and value carry cardPrivateData as a JSON string', () => {
    const cb = cardCallback({ userId: 'alice01', outTrackId: 'inc-1-card', params: { action: 'ack' }, actionIds: ['ack_btn'], spaceType: 'IM_GROUP', spaceId: 'cidG==' });
    expect(cb).toEqual({
      extension: '{}',
      corpId: DINGTALK_DEFAULTS.corpId,
      spaceType: 'IM_GROUP',
      userIdType: 1,
      type: 'actionCallback',
      userId: 'alice01',
      content: '{"cardPrivateData":{"actionIds":["ack_btn"],"params":{"action":"ack"}}}',
      spaceId: 'cidG==',
      outTrackId: 'inc-1-card',
      value: '{"cardPrivateData":{"actionIds":["ack_btn"],"params":{"action":"ack"}}}',
    });
  });
});

describe('HTTP-mode robot signature', () => {
  it('signDingTalk matches known vectors (computed with openssl dgst -hmac and Python hmac)', () => {
    expect(signDingTalk('SECfirebell-test-secret', '1700000000000')).toBe('8QsISocInJJ9HjRUJUVYqoI7xxtH6t8DWLNjBwCyOk4=');
    expect(signDingTalk('this is secret', 1577262236757)).toBe('hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=');
    const ts = String(Date.now());
    expect(signDingTalk(DINGTALK_DEFAULTS.clientSecret, ts)).toBe(createHmac('sha256', DINGTALK_DEFAULTS.clientSecret).update(`${ts}\n${DINGTALK_DEFAULTS.clientSecret}`).digest('base64'));
  });

  it('postDingTalk sends JSON with timestamp / sign headers; bad and missing signatures fail verification', async () => {
    const secret = DINGTALK_DEFAULTS.clientSecret;
    const seen: { headers: http.IncomingHttpHeaders; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        const ts = String(req.headers.timestamp ?? '');
        const sign = Buffer.from(String(req.headers.sign ?? ''));
        const expected = Buffer.from(createHmac('sha256', secret).update(`${ts}\n${secret}`).digest('base64'));
        const ok = ts !== '' && sign.length === expected.length && timingSafeEqual(sign, expected);
        res.writeHead(ok ? 200 : 403, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(ok ? { msgtype: 'text', text: { content: 'ok' } } : { error: 'bad signature' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dingtalk/robot`;
    try {
      const msg = robotMessage({ staffId: 'alice01', conversationId: 'cidG==', conversationType: '2', text: 'hi' });
      const good = await postDingTalk(url, msg, { appSecret: secret, timestamp: 1_700_000_000_000 });
      expect(good.status).toBe(200);
      expect(good.json).toEqual({ msgtype: 'text', text: { content: 'ok' } });
      expect(seen[0]!.headers.timestamp).toBe('1700000000000');
      expect(seen[0]!.headers.sign).toBe(signDingTalk(secret, '1700000000000'));
      expect(seen[0]!.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(seen[0]!.body)).toEqual(msg);

      expect((await postDingTalk(url, msg, { appSecret: secret, sign: 'bad' })).status).toBe(403);
      const unsigned = await postDingTalk(url, msg, { appSecret: secret, sign: false });
      expect(unsigned.status).toBe(403);
      expect(seen[2]!.headers).not.toHaveProperty('sign');
      expect(seen[2]!.headers).not.toHaveProperty('timestamp');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
