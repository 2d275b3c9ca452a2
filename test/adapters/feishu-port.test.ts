/**
 * The Feishu port's war-room calls with the real SDK against the fake open-apis: the group
 * description and announcement (new docx groups and legacy doc ones), a repeat after a lost
 * answer, and the archive mark.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createFeishuClient, createFeishuPort } from '../../src/adapters/feishu/port';
import { ChatDeliveryError } from '../../src/flows/ports';
import { createLogger } from '../../src/logger';
import { createFakeFeishu, type FakeFeishu } from '../fakes/feishu-api';

let fake: FakeFeishu | null = null;
afterEach(async () => {
  await fake?.close();
  fake = null;
});

async function setup(opts: { legacyAnnouncements?: boolean; timeoutMs?: number } = {}) {
  fake = await createFakeFeishu(opts);
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', secrets: [fake.appSecret], write: (l) => logs.push(l) });
  // A distinct app id per fake keeps the SDK's module-wide token cache from crossing tests.
  const client = createFeishuClient({ appId: fake.appId, appSecret: fake.appSecret, domain: fake.url, logger, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  const port = createFeishuPort(client, logger, { locale: 'zh-CN' });
  return { fake, port, rooms: port.rooms!, logs };
}

describe('Feishu war-room groups', () => {
  it('sets the description and the docx announcement with what the group is for and how to use it', async () => {
    const { fake, rooms } = await setup();
    const { channel } = (await rooms.createRoom('INC-7 财务系统宕机')) as { channel: string };
    await rooms.describeRoom(channel, 'INC-7 · P1 · 财务系统宕机 · 指挥 陈静', '重大事件 INC-7 的作战室');
    const chat = fake.chats.get(channel)!;
    expect(chat.description).toBe('重大事件 INC-7 的作战室');
    expect(chat.announcement.text.split('\n')).toEqual(['INC-7 · P1 · 财务系统宕机 · 指挥 陈静', '重大事件 INC-7 的作战室', expect.stringContaining('「进展 <内容>」')]);
  });

  it('a describe repeated after a lost answer writes the announcement once', async () => {
    const { fake, rooms } = await setup();
    const { channel } = (await rooms.createRoom('INC-8 邮件延迟')) as { channel: string };
    fake.failNext('docx.chatAnnouncementBlockChildren.create', { status: 500, applied: true });
    await expect(rooms.describeRoom(channel, 'topic', 'purpose')).rejects.toBeInstanceOf(ChatDeliveryError);
    await rooms.describeRoom(channel, 'topic', 'purpose');
    expect(fake.chats.get(channel)!.announcement.text).toBe(`topic\npurpose\n${fake.chats.get(channel)!.announcement.text.split('\n')[2]}`);
    expect(fake.chats.get(channel)!.announcement.blocks).toHaveLength(3);
  });

  it('a group with the legacy announcement gets it through the old API', async () => {
    const { fake, rooms } = await setup({ legacyAnnouncements: true });
    const { channel } = (await rooms.createRoom('INC-9 VPN')) as { channel: string };
    await rooms.describeRoom(channel, 'INC-9 · P1 · VPN', '重大事件 INC-9 的作战室');
    const a = fake.chats.get(channel)!.announcement;
    expect(a.type).toBe('doc');
    expect(a.text).toContain('INC-9 · P1 · VPN\n重大事件 INC-9 的作战室');
    expect(fake.callsTo('im.chatAnnouncement.patch').map((c) => c.status)).toEqual([200]);
  });

  it('creating the same group twice (a lost answer) gives the same group; archiving marks it once', async () => {
    const { fake, rooms } = await setup();
    const a = (await rooms.createRoom('INC-10 打印')) as { channel: string };
    const b = (await rooms.createRoom('INC-10 打印')) as { channel: string };
    expect(b.channel).toBe(a.channel);
    expect([...fake.chats.values()].filter((c) => c.name === 'INC-10 打印')).toHaveLength(1);
    await rooms.archiveRoom(a.channel);
    await rooms.archiveRoom(a.channel);
    expect(fake.chats.get(a.channel)!.name).toBe('[已归档] INC-10 打印');
  });
});

describe('Feishu calls that never answer', () => {
  it('fail at the deadline as a retryable delivery error instead of holding the outbox', async () => {
    const { fake, port } = await setup({ timeoutMs: 300 });
    const target = { type: 'user' as const, id: fake.addUser({ openId: 'ou_timeout_1', name: '李伟' }).openId };
    await port.sendText(target, '预热');
    fake.failNext('im.message.create', { hang: true });
    const started = Date.now();
    const err = await port.sendText(target, '你好').then(() => null, (e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(err).toBeInstanceOf(ChatDeliveryError);
    expect(err).toMatchObject({ permanent: false });
    // The next try goes through.
    await port.sendText(target, '你好');
    expect(fake.callsTo('im.message.create').map((c) => c.status)).toEqual([200, 0, 200]);
  });
});
