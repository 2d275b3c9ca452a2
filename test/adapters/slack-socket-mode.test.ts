/**
 * The bot in Slack Socket Mode, built exactly as production builds it when SLACK_APP_TOKEN is set
 * (no signing secret, no public URL): Bolt opens a WebSocket through `apps.connections.open` and
 * Slack pushes slash commands and button presses as envelopes that must be acked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFirebell, type Firebell } from '../../src/app';
import { loadEnv } from '../../src/config/env';
import { createLogger } from '../../src/logger';
import { createFakeSlack, type FakeMessage, type FakeSlack } from '../fakes/slack-api';
import { attachSocketMode, type SocketModeFake } from '../fakes/slack-socket';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { testPolicy } from '../support/policy';
import { BOT_TOKEN } from '../support/slack-bot';

const APP_TOKEN = 'xapp-1-A0FIREBELL-1234567890-0123456789abcdef0123456789abcdef';
const REPORTER = 'U0REP';
const DESK = 'U0DESK';

/** Everything a message shows (text and all block text). */
function textOf(m: FakeMessage | undefined): string {
  if (!m) return '';
  const out: string[] = [m.text ?? ''];
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(walk);
    else if (n && typeof n === 'object') {
      for (const [k, v] of Object.entries(n)) {
        if (k === 'text' && typeof v === 'string') out.push(v);
        else walk(v);
      }
    }
  };
  walk(m.blocks ?? []);
  return out.join('\n');
}

const buttonsOf = (m: FakeMessage): { actionId: string; value: string }[] =>
  (m.blocks ?? []).filter((b) => b.type === 'actions').flatMap((b) => b.elements.map((e: { action_id: string; value: string }) => ({ actionId: e.action_id, value: e.value })));

/** Active handles that hold network sockets or servers. */
const netHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'TLSWrap');

describe('Slack in Socket Mode', () => {
  let fake: FakeSlack;
  let sm: SocketModeFake;
  let db: TestDatabase;
  let bot: Firebell;
  let port: number;
  let handlesBefore: number;
  const logs: string[] = [];

  beforeAll(async () => {
    handlesBefore = netHandles().length;
    fake = await createFakeSlack();
    sm = await attachSocketMode(fake, { appToken: APP_TOKEN });
    db = await createTestDatabase();
    // The production path: environment → createFirebell, which builds its own PostgreSQL store.
    const env = loadEnv({ PORT: '0', SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: sm.url, DATABASE_URL: db.url });
    const logger = createLogger({
      level: 'debug',
      secrets: [env.SLACK_BOT_TOKEN, env.SLACK_APP_TOKEN, env.DATABASE_URL],
      write: (l) => logs.push(l),
    });
    bot = await createFirebell({ env, policy: testPolicy(), logger });
    const started = await bot.start();
    port = started.port!;
  });

  let botStopped = false;
  let stopped = false;
  async function stopBot() {
    if (botStopped) return;
    botStopped = true;
    await bot?.stop();
  }
  /** Stops everything in order: the bot first (it disconnects), then the fakes and the database. */
  async function stopAll() {
    if (stopped) return;
    stopped = true;
    await stopBot();
    await sm?.close();
    await fake?.close();
    await db?.drop();
  }
  afterAll(stopAll);

  it('connects over a WebSocket with the app token and still serves health on its HTTP port', async () => {
    expect(bot.slack?.socketMode).toBe(true);
    // apps.connections.open with the app-level token, not the bot token.
    expect(sm.opens).toHaveLength(1);
    expect(sm.opens[0]!.token).toBe(APP_TOKEN);
    expect(sm.opens[0]!.response.ok).toBe(true);
    expect(sm.openConnections()).toBe(1);

    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    // There is no signing secret: the HTTP events endpoint must not take requests in Socket Mode.
    const events = await fetch(`http://127.0.0.1:${port}/slack/events`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'command=%2Fincident&text=sneaky&user_id=U0REP&trigger_id=1.2.3',
    });
    expect(events.status).toBe(404);
    expect(await bot.store.list({ limit: 10 })).toEqual([]);
  });

  it('takes /incident from an envelope, acks it, stores the incident and posts the desk card', async () => {
    const cmd = sm.slashCommand(REPORTER, 'Wi-Fi down on floor 2', { channel: 'C0GENERAL' });
    const ack = await sm.waitForAck(cmd.envelope.envelope_id);
    expect(ack.payload ?? {}).toEqual({});

    // The reporter's private receipt goes to the response_url.
    await fake.waitFor((f) => f.responses.some((r) => r.id === cmd.responseId));
    const receipt = fake.responses.find((r) => r.id === cmd.responseId)!.body;
    expect(receipt.response_type).toBe('ephemeral');
    const number = /INC-\d+/.exec(receipt.text)![0];

    const incident = await bot.store.getByNumber(number);
    expect(incident).not.toBeNull();
    expect(incident!.title).toBe('Wi-Fi down on floor 2');
    expect(incident!.status).toBe('new');
    expect(incident!.reporter.id).toBe('reporter.a');

    await fake.waitFor((f) => f.callsTo('chat.postMessage').some((c) => c.args.channel === 'C0DESK' && c.status === 200));
    const cards = [...fake.messages.values()].filter((m) => m.channel === 'C0DESK');
    expect(cards).toHaveLength(1);
    expect(textOf(cards[0])).toContain(number);
    expect(textOf(cards[0])).toContain('Wi-Fi down on floor 2');
    expect(buttonsOf(cards[0]!).map((b) => b.actionId)).toContain('incident.accept');
    // Outbound calls carry the bot token; only apps.connections.open used the app token.
    expect(fake.callsTo('chat.postMessage').every((c) => c.token === BOT_TOKEN)).toBe(true);
  });

  it('accepts from a button press once, even when Slack redelivers the same envelope', async () => {
    const card = [...fake.messages.values()].find((m) => m.channel === 'C0DESK')!;
    const number = /INC-\d+/.exec(textOf(card))![0];
    const before = (await bot.store.getByNumber(number))!;
    const accept = buttonsOf(card).find((b) => b.actionId === 'incident.accept')!;

    const press = sm.click(DESK, { actionId: accept.actionId, value: accept.value, channel: 'C0DESK', messageTs: card.ts });
    // Socket Mode redelivers an envelope it thinks was not acked: same envelope_id, same trigger_id.
    const again = sm.send(press.envelope);
    expect(again).toEqual(press.envelope);
    await sm.waitForAck(press.envelope.envelope_id);
    await sm.waitForAck(press.envelope.envelope_id, { nth: 2 });
    // Wait until the second delivery is decided: skipped as a duplicate, or (wrongly) answered too.
    await fake.waitFor(
      (f) =>
        logs.some((l) => l.includes('slack duplicate delivery skipped') && l.includes(press.triggerId)) ||
        f.responses.filter((r) => r.id === press.responseId).length >= 2,
    );

    // The card is updated in place: same channel and ts, no second post.
    await fake.waitFor(() => textOf(fake.messages.get(`C0DESK:${card.ts}`)).includes('Accepted by Zhang San'));
    await fake.waitFor((f) => f.responses.some((r) => r.id === press.responseId));
    await bot.scheduler.flush();
    const updates = fake.callsTo('chat.update').filter((c) => c.args.channel === 'C0DESK' && c.args.ts === card.ts && c.status === 200);
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect([...fake.messages.values()].filter((m) => m.channel === 'C0DESK')).toHaveLength(1);

    // State changed exactly once.
    const after = (await bot.store.getByNumber(number))!;
    expect(after.status).toBe('in_progress');
    expect(after.assignee!.id).toBe('zhang.san');
    expect(after.version).toBe(before.version + 1);
    const accepts = (await bot.store.timeline(after.id)).filter((e) => e.event.type === 'IncidentAccepted');
    expect(accepts).toHaveLength(1);
    // One private answer to the presser, and one "has taken your incident" DM to the reporter.
    const answers = fake.responses.filter((r) => r.id === press.responseId);
    expect(answers).toHaveLength(1);
    expect(answers[0]!.body.text).toMatch(/^You accepted/);
    const taken = fake.callsTo('chat.postMessage').filter((c) => c.args.channel === REPORTER && String(c.args.text).includes('has taken your incident'));
    expect(taken).toHaveLength(1);
  });

  it('keeps secrets out of the logs', () => {
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) {
      expect(line).not.toContain(BOT_TOKEN);
      expect(line).not.toContain(APP_TOKEN);
    }
  });

  it('closes its socket and every connection on stop', async () => {
    await stopBot();
    await sm.waitForDisconnect(2000);
    expect(sm.openConnections()).toBe(0);
    await stopAll();
    // Nothing network-related is left to keep the process alive.
    const deadline = Date.now() + 2000;
    while (netHandles().length > handlesBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(netHandles().length).toBeLessThanOrEqual(handlesBefore);
  });
});
