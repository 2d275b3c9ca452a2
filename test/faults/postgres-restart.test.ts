/**
 * PostgreSQL restarted mid-flow (issue 7): a PostgreSQL cluster of this test's own (initdb into a
 * temporary directory, its own port), so the machine's server, which other test files use, stays
 * up. While it is down, a report and a click are refused with a clear "try again" and nothing is
 * half-written; once it is back the bot carries on by itself (no restart): new work is done and
 * everything owed before the outage is delivered, once.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy } from '../support/policy';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';

const BIN = (() => {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort() : [];
  const bin = versions.length ? join(root, versions.at(-1)!, 'bin') : '';
  if (!bin || !existsSync(join(bin, 'initdb'))) throw new Error(`PostgreSQL server binaries are required for this test (looked in ${root})`);
  return bin;
})();

/** Runs a PostgreSQL binary as the postgres user (initdb refuses root). */
function pg(tool: string, args: string[]) {
  const asPostgres = process.getuid?.() === 0;
  const cmd = asPostgres ? 'runuser' : join(BIN, tool);
  const argv = asPostgres ? ['-u', 'postgres', '--', join(BIN, tool), ...args] : args;
  execFileSync(cmd, argv, { stdio: 'pipe', timeout: 60_000 });
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('PostgreSQL restarted mid-flow', () => {
  let dir = '';
  let port = 0;
  let h: SlackBotHarness;
  const start = () => pg('pg_ctl', ['-D', dir, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  const stop = () => pg('pg_ctl', ['-D', dir, '-w', '-m', 'immediate', 'stop']);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fb-pg-'));
    chmodSync(dir, 0o777);
    if (process.getuid?.() === 0) execFileSync('chown', ['postgres', dir]);
    pg('initdb', ['-D', dir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    port = await freePort();
    start();
    const admin = postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1, onnotice: () => {} });
    await admin.unsafe('create database firebell');
    await admin.end();
    const url = `postgres://postgres@127.0.0.1:${port}/firebell`;
    h = await startSlackBot(testPolicy(), { database: { url, drop: async () => {} } });
  }, 90_000);
  afterAll(async () => {
    await h?.close();
    try {
      stop();
    } catch {
      // already stopped
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const reply = async (responseId: string) => {
    await h.fake.waitFor((f) => f.responses.some((r) => r.id === responseId), 15_000);
    return String(h.fake.responses.find((r) => r.id === responseId)!.body.text ?? '');
  };

  it('refuses with "try again" while it is down, leaves nothing half-written, and recovers by itself', async () => {
    const first = await reply((await h.slack.command('U0REP', 'Payroll export fails')).responseId);
    const number = /INC-\d+/.exec(first)![0];
    await h.fake.waitFor(() => h.messagesIn('C0DESK').some((m) => h.textOf(m).includes(number)), 8000);
    const card = h.messagesIn('C0DESK').find((m) => h.textOf(m).includes(number))!;
    // Stopped between deliveries: a stop between a post and its record (the binding) would post
    // that card again after the outage (Slack has no idempotency key); see the issue-7 note.
    await h.bot.scheduler.flush();
    expect(await h.store.undelivered(10)).toEqual([]);

    stop();
    // Down: a report and a click are answered at once with a clear refusal; Slack got its ack.
    const report = await h.slack.command('U0REP', 'Badge readers offline');
    expect(report.status).toBe(200);
    expect(await reply(report.responseId)).toMatch(/try again/i);
    const click = await h.press('U0DESK', card, 'incident.accept');
    expect(click.status).toBe(200);
    expect(await reply(click.responseId)).toMatch(/try again/i);

    start();
    // Back: the bot was never restarted, and new work goes through.
    const after = await reply((await h.slack.command('U0REP', 'Printer on 3F jams')).responseId);
    expect(after).toMatch(/INC-\d+/);
    await h.press('U0DESK', card, 'incident.accept');
    await h.fake.waitFor(() => h.textOf(h.fake.messages.get(`C0DESK:${card.ts}`)).includes('Accepted by Zhang San'), 15_000);

    // Nothing half-written: the refused report does not exist, every incident has its timeline,
    // and every message owed (cards, receipts, the accept) went out, once.
    const all = await h.store.list({ limit: 20 });
    expect(all.map((i) => i.title).sort()).toEqual(['Payroll export fails', 'Printer on 3F jams']);
    for (const i of all) expect((await h.store.timeline(i.id))[0]!.event.type).toBe('IncidentReported');
    expect((await h.store.getByNumber(number))!).toMatchObject({ status: 'in_progress', assignee: { id: 'zhang.san' } });
    await h.bot.scheduler.flush();
    expect(await h.store.undelivered(10)).toEqual([]);
    for (const i of all) expect(h.messagesIn('C0DESK').filter((m) => m.thread_ts === undefined && h.textOf(m).includes(i.number))).toHaveLength(1);
    // The outage was logged, not flooded: one line, then one every 30 s.
    expect(h.logs.filter((l) => l.includes('"msg":"outbox pass failed"')).length).toBeLessThanOrEqual(3);
    expect(h.logs.some((l) => l.includes('"msg":"outbox passes work again"'))).toBe(true);
  }, 120_000);
});
