/**
 * The process killed between commit and send (issue 7): the real entry point (`src/main.ts`, as
 * `npm start` runs it) in a child process, against a fake Slack and a fresh PostgreSQL database.
 * Two reports are committed and answered; then, while the outbox is in the middle of sending, the
 * process is SIGKILLed: one queue card was posted but its answer never came back (the crash came
 * first), the other was never made. A new process on the same database delivers everything owed,
 * once: the posted card is found again by its metadata instead of being posted twice, the other
 * card and both receipts go out, and nothing is left in the outbox.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/db/index';
import type { IncidentStore } from '../../src/flows/ports';
import { createFakeSlack, type FakeSlack } from '../fakes/slack-api';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { testPolicyDoc } from '../support/policy';
import { createSlackClient } from '../support/slack';
import { BOT_TOKEN, SIGNING_SECRET } from '../support/slack-bot';

interface Running {
  child: ChildProcess;
  port: number;
  lines: string[];
}

/** Starts `npm start`'s entry point; resolves once it logs that it is listening. */
async function startProcess(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: process.cwd(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffered = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the bot did not start:\n${lines.join('\n')}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const m = /"msg":"firebell started".*"port":(\d+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    child.once('exit', (code) => reject(new Error(`the bot exited (${code}) before starting:\n${lines.join('\n')}`)));
  });
  return { child, port, lines };
}

async function kill(p: Running): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGKILL');
  await exited;
}

describe('the process killed between commit and send', () => {
  let fake: FakeSlack;
  let db: TestDatabase;
  let store: IncidentStore;
  let dir = '';
  const running: Running[] = [];

  beforeAll(async () => {
    fake = await createFakeSlack();
    db = await createTestDatabase();
    store = await createPostgresStore(db.url);
    dir = mkdtempSync(join(tmpdir(), 'fb-kill-'));
    // JSON is YAML: the test policy as a policy file, the way an operator gives one.
    writeFileSync(join(dir, 'policy.yaml'), JSON.stringify(testPolicyDoc()));
  });
  afterAll(async () => {
    for (const p of running) await kill(p);
    await store?.close();
    await fake?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = (more: Record<string, string> = {}) => ({
    PORT: '0',
    DATABASE_URL: db.url,
    FIREBELL_CONFIG: join(dir, 'policy.yaml'),
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.url,
    LOG_LEVEL: 'info',
    ...more,
  });
  const topLevelCards = (number: string) =>
    [...fake.messages.values()].filter((m) => m.channel === 'C0DESK' && m.thread_ts === undefined && JSON.stringify(m.blocks ?? m.text).includes(number));
  const receipts = (number: string) =>
    [...fake.messages.values()].filter((m) => (m.channel === 'U0REP' || m.channel === 'DU0REP') && (m.text ?? '').startsWith(`Received: ${number}`));

  it('a new process delivers what was owed, once: the card posted before the crash is found again, not repeated', async () => {
    // The first card post is made by Slack but never answered; the first process waits for the
    // answer as long as it lives (its API deadline is a minute), so nothing after it goes out.
    fake.failNext('chat.postMessage', { hang: true, applied: true }, 1);
    const first = await startProcess(env({ FIREBELL_API_TIMEOUT_MS: '60000' }));
    running.push(first);
    const slack = createSlackClient({ endpoint: `http://127.0.0.1:${first.port}/slack/events`, signingSecret: SIGNING_SECRET, fake });

    const numbers: string[] = [];
    for (const title of ['Payroll export fails', 'Badge readers offline at gate B']) {
      const r = await slack.command('U0REP', title, { channel: 'C0GENERAL' });
      expect(r.status).toBe(200);
      await fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId), 10_000);
      numbers.push(/INC-\d+/.exec(fake.responses.find((x) => x.id === r.responseId)!.body.text)![0]);
    }
    // Both committed and answered. The first card is made but unanswered; the second not sent yet.
    await fake.waitFor((f) => f.calls.some((c) => c.method === 'chat.postMessage' && c.status === 0), 10_000);
    expect(topLevelCards(numbers[0]!)).toHaveLength(1); // Slack made this one
    expect(topLevelCards(numbers[1]!)).toHaveLength(0);
    expect((await store.undelivered(20)).length).toBeGreaterThanOrEqual(4); // two cards, two receipts
    expect(receipts(numbers[0]!)).toHaveLength(0); // held behind its card
    await kill(first);

    // A new process on the same database, Slack answering normally again.
    const second = await startProcess(env());
    running.push(second);
    // The dead process's claims run out (their 30 s lease) and the new one takes them over.
    const drained = async () => (await store.undelivered(10)).length === 0 && numbers.every((n) => receipts(n).length > 0);
    const deadline = Date.now() + 60_000;
    while (!(await drained())) {
      if (Date.now() > deadline) throw new Error(`still owed: ${JSON.stringify(await store.undelivered(10))}\n${second.lines.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    for (const n of numbers) {
      expect(topLevelCards(n), n).toHaveLength(1);
      expect(receipts(n), n).toHaveLength(1);
    }
    expect(second.lines.some((l) => l.includes('"msg":"card found again after a lost answer"') && l.includes(numbers[0]!))).toBe(true);
    // The incidents and their timelines are as committed: one report each, nothing replayed.
    const all = await store.list({ limit: 10 });
    expect(all.map((i) => i.number).sort()).toEqual([...numbers].sort());
    for (const i of all) expect((await store.timeline(i.id)).map((e) => e.event.type)).toEqual(['IncidentReported']);
    // The card the new process found is the one it keeps current (its binding is that message).
    const card = topLevelCards(numbers[0]!)[0]!;
    const binding = await store.getBinding(all.find((i) => i.number === numbers[0])!.id, 'slack', 'queue:desk');
    expect(binding).toMatchObject({ channel: 'C0DESK', messageId: card.ts });
  }, 120_000);
});
