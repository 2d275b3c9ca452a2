/**
 * Our DingTalk OpenAPI client against the fake DingTalk: the access token cached, refreshed when
 * refused, and fetched once for many callers; and every kind of failure turned into what the
 * outbox needs (wait and retry, or give up).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDingTalkClient, toDingTalkDeliveryError, type DingTalkClient } from '../../src/adapters/dingtalk/client';
import { ChatDeliveryError } from '../../src/flows/ports';
import { silentLogger } from '../../src/logger';
import { createFakeDingTalk, type FakeDingTalk } from '../fakes/dingtalk-api';

describe('DingTalk client', () => {
  let fake: FakeDingTalk;
  let client: DingTalkClient;
  beforeAll(async () => {
    fake = await createFakeDingTalk();
    fake.addGroup({ openConversationId: 'cidOps==', title: 'ops' });
  });
  afterAll(async () => fake.close());
  beforeEach(() => {
    client = createDingTalkClient({ clientId: fake.appKey, clientSecret: fake.appSecret, apiUrl: fake.url, oapiUrl: fake.url, logger: silentLogger });
  });
  const send = () => client.api('POST', '/v1.0/robot/groupMessages/send', { robotCode: fake.robotCode, openConversationId: 'cidOps==', msgKey: 'sampleText', msgParam: JSON.stringify({ content: 'hi' }) });
  const deliveryError = async (work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (err) {
      return toDingTalkDeliveryError(err);
    }
    throw new Error('expected a failure');
  };

  it('a call DingTalk never answers fails at the deadline and is retried by the outbox, not waited on forever', async () => {
    const quick = createDingTalkClient({ clientId: fake.appKey, clientSecret: fake.appSecret, apiUrl: fake.url, oapiUrl: fake.url, logger: silentLogger, timeoutMs: 300 });
    await quick.api('POST', '/v1.0/robot/groupMessages/send', { robotCode: fake.robotCode, openConversationId: 'cidOps==', msgKey: 'sampleText', msgParam: JSON.stringify({ content: 'warm' }) });
    fake.failNext('robot.groupMessages.send', { hang: true });
    const started = Date.now();
    const e = await deliveryError(() => quick.api('POST', '/v1.0/robot/groupMessages/send', { robotCode: fake.robotCode, openConversationId: 'cidOps==', msgKey: 'sampleText', msgParam: JSON.stringify({ content: 'hi' }) }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(e).toMatchObject({ permanent: false });
  });

  it('fetches one token for many calls at once, and uses it on both APIs', async () => {
    const before = fake.callsTo('oauth2.accessToken').length;
    await Promise.all([send(), send(), send(), client.oapi('/topapi/v2/user/getbymobile', { mobile: '13800000000' }).catch(() => null)]);
    expect(fake.callsTo('oauth2.accessToken').length - before).toBe(1);
  });

  it('a refused (expired) token is dropped and the call repeated once with a fresh one', async () => {
    await send();
    const tokens = fake.callsTo('oauth2.accessToken').length;
    fake.expireTokens();
    await send();
    expect(fake.callsTo('oauth2.accessToken').length).toBe(tokens + 1);
    // The old oapi says so differently (errcode 88, sub_code 40014): the same recovery.
    fake.expireTokens();
    await expect(client.oapi('/topapi/v2/user/get', { userid: 'someone' })).resolves.toMatchObject({ errcode: 0 });
    expect(fake.callsTo('oauth2.accessToken').length).toBe(tokens + 2);
  });

  it('throttling waits and is marked as such; a locked group waits minutes; outages retry; business errors give up', async () => {
    fake.failNext('robot.groupMessages.send', { rateLimited: true });
    expect(await deliveryError(send)).toMatchObject({ throttled: true, permanent: false, retryAfterMs: 1000 });
    fake.failNext('user.getbymobile', { rateLimited: true });
    expect(await deliveryError(() => client.oapi('/topapi/v2/user/getbymobile', { mobile: '13800000000' }))).toMatchObject({ throttled: true, permanent: false });
    fake.failNext('robot.groupMessages.send', { rateLimited: true, scope: 'ip' });
    expect(await deliveryError(send)).toMatchObject({ throttled: true, retryAfterMs: 5000 });
    fake.failNext('robot.groupMessages.send', { code: 'send.too.fast', status: 400 });
    expect(await deliveryError(send)).toMatchObject({ throttled: true, retryAfterMs: 150_000 });
    fake.failNext('robot.groupMessages.send', { status: 500 });
    expect(await deliveryError(send)).toMatchObject({ throttled: false, permanent: false });
    fake.failNext('robot.groupMessages.send', { code: 'invalidParameter.openConversationId.invalid', status: 400 });
    const e = await deliveryError(send);
    expect(e).toBeInstanceOf(ChatDeliveryError);
    expect(e).toMatchObject({ permanent: true });
    expect(e.message).not.toContain(fake.appSecret);
  });
});
