/**
 * Redis and PostgreSQL restarted under load (issue 7, "How it will be checked"): the whole bot
 * over HTTP against the fake Slack API, on a PostgreSQL cluster and a redis-server of this test's
 * own (the machine's servers, which other test files use, stay up). A scripted load runs the
 * whole time: reporters file incidents with /incident, desk and L1 agents work their queues by
 * clicking Accept, Escalate and Resolve on the cards they see (Escalate and Resolve through their
 * modals). Meanwhile Redis is killed (SIGKILL) and started again empty, and later PostgreSQL is
 * stopped at once (pg_ctl -m immediate) and started again; the bot is never restarted.
 *
 * Every request the load makes must be acknowledged (HTTP 200) and answered, either with success
 * or with a refusal. Afterwards everything must be there once: each report answered with a
 * number exists, none refused does; each timeline is contiguous and holds exactly the clicks that
 * were answered as done; every card, receipt and notice owed was posted once and the outbox is
 * empty.
 */
import { randomInt } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPolicy } from '../../src/config/policy-schema';
import type { FakeMessage } from '../fakes/slack-api';
import { freePort, startOwnPostgres, startRedis, stopRedis, type OwnPostgres } from '../support/own-services';
import { testPolicyDoc } from '../support/policy';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';

const DESK_Q = 'C0DESK';
const L1_Q = 'C0L1';
interface Agent {
  key: string;
  slack: string;
  queue: string;
}
const DESK: Agent[] = [
  { key: 'zhang.san', slack: 'U0DESK', queue: DESK_Q },
  { key: 'desk.two', slack: 'U0DESK2', queue: DESK_Q },
];
const L1: Agent[] = [
  { key: 'li.wei', slack: 'U0L1', queue: L1_Q },
  { key: 'li.na', slack: 'U0L1B', queue: L1_Q },
];
/** One configured reporter and two guests (unconfigured people are reporters too). */
const REPORTERS = ['U0REP', 'U0GUEST1', 'U0GUEST2'];

/** How long the load runs, and when each outage starts (ms after the load started). */
const LOAD_MS = 26_000;
const REDIS_DOWN_AT = 5_000;
const PG_DOWN_AT = 13_000;
const DOWN_MS = 2_000;
/**
 * An answer (the reply, or the modal) later than this is a hang: the person has given up. Slack
 * itself gives a trigger 3 s and src answers a modal within 2 s; ten seconds is generous.
 */
const ANSWER_DEADLINE_MS = 10_000;
/** How long the fake Slack API takes to answer each Web API call. */
const SLACK_LATENCY_MS = 25;
/** How long the load waits for a late answer anyway (to tell a late one from none). */
const ANSWER_MS = 40_000;

type Kind = 'report' | 'accept' | 'escalate' | 'resolve';
type Outcome = 'ok' | 'try_again' | 'refused' | 'stale' | 'no_answer';
interface Act {
  kind: Kind;
  user: string;
  /** When the action started (ms since the epoch; shown relative to the load's start). */
  at: number;
  /** HTTP status of every request the action made (command or click, then the modal submission). */
  statuses: number[];
  /** The longest wait for an answer (ms) of any of its requests. */
  waitedMs: number;
  outcome: Outcome;
  text: string;
  number?: string;
  incidentId?: string;
  title?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const has = (text: string, number: string) => new RegExp(`${number}(?!\\d)`).test(text);

async function poll<T>(read: () => T | undefined | null | false, timeoutMs: number): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v) return v;
    if (Date.now() > deadline) return null;
    await sleep(15);
  }
}

function classify(text: string, success: RegExp): Outcome {
  if (success.test(text)) return 'ok';
  if (/out of date/i.test(text)) return 'stale';
  if (/try again|press the button again/i.test(text)) return 'try_again';
  return 'refused';
}

describe('Redis and PostgreSQL restarted under a scripted load', () => {
  let pg: OwnPostgres;
  let redisPort = 0;
  let redis: ChildProcess;
  let h: SlackBotHarness;

  beforeAll(async () => {
    pg = await startOwnPostgres();
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    const doc = testPolicyDoc();
    (doc.people as Record<string, { name: string; slack: string }>)['desk.two'] = { name: 'Desk Two', slack: 'U0DESK2' };
    doc.tiers.desk.members = DESK.map((a) => a.key);
    h = await startSlackBot(buildPolicy(doc, 'load test policy'), {
      database: pg.database,
      redisUrl: `redis://127.0.0.1:${redisPort}/0`,
      redisPrefix: 'fbload',
      reconcileEveryMs: 1000,
      // The load is about outages, not about the per-person limit.
      env: { FIREBELL_RATE_LIMIT: '0' },
    });
    expect(h.bot.scheduler.kind).toBe('bullmq');
    // Slack answers in tens of milliseconds, not at once: deliveries are in flight when a server dies.
    h.fake.latencyMs = SLACK_LATENCY_MS;
  }, 90_000);

  afterAll(async () => {
    await h?.close();
    if (redis) await stopRedis(redis);
    await pg?.destroy();
  }, 60_000);

  it('loses nothing and doubles nothing: every incident, timeline entry and message owed is there, once', async () => {
    const acts: Act[] = [];
    const outages: { what: 'redis' | 'postgres'; from: number; to: number }[] = [];
    let stop = false;
    const t0 = Date.now();

    /** Waits for `read` and notes on `act` how long it took (from `since`). */
    const awaitAnswer = async <T,>(act: Act, since: number, read: () => T | undefined | null | false): Promise<T | null> => {
      const v = await poll(read, ANSWER_MS);
      act.waitedMs = Math.max(act.waitedMs, Date.now() - since);
      return v;
    };
    const responseTo = (responseId: string) => () => h.fake.responses.find((r) => r.id === responseId);

    // --- reporters ---------------------------------------------------------------------------
    let seq = 0;
    async function report(user: string): Promise<Act> {
      const title = `Load ${user} #${++seq}`;
      const act: Act = { kind: 'report', user, at: Date.now(), statuses: [], waitedMs: 0, outcome: 'no_answer', text: '', title };
      acts.push(act);
      const r = await h.slack.command(user, title, { channel: 'C0GENERAL' });
      act.statuses.push(r.status);
      const answer = await awaitAnswer(act, act.at, responseTo(r.responseId));
      if (!answer) return act;
      act.text = String(answer.body.text ?? '');
      act.outcome = classify(act.text, /^Received: INC-\d+/);
      if (act.outcome === 'ok') act.number = /INC-\d+/.exec(act.text)![0];
      return act;
    }
    async function reporter(user: string) {
      await sleep(randomInt(0, 400));
      while (!stop) {
        await report(user);
        await sleep(randomInt(500, 1100));
      }
    }

    // --- agents ------------------------------------------------------------------------------
    const idOf = (m: FakeMessage) => h.buttons(m)[0]?.value.split('|')[0];
    const liveCards = (queue: string) => h.messagesIn(queue).filter((m) => m.thread_ts === undefined && h.buttons(m).length > 0);

    async function click(agent: Agent, card: FakeMessage, kind: 'accept' | 'escalate' | 'resolve'): Promise<Act> {
      const at = Date.now();
      const number = /INC-\d+/.exec(h.textOf(card))![0];
      const incidentId = idOf(card)!;
      const act: Act = { kind, user: agent.key, at, statuses: [], waitedMs: 0, outcome: 'no_answer', text: '', number, incidentId };
      acts.push(act);
      const r = await h.press(agent.slack, card, `incident.${kind}`);
      act.statuses.push(r.status);
      if (kind === 'accept') {
        const answer = await awaitAnswer(act, at, responseTo(r.responseId));
        if (answer) {
          act.text = String(answer.body.text ?? '');
          act.outcome = classify(act.text, /^You accepted INC-\d+/);
        }
        return act;
      }
      // Escalate and Resolve answer with their modal, or with a refusal instead of it.
      const opened = await awaitAnswer(
        act,
        at,
        () => h.fake.callsTo('views.open').find((c) => c.args.trigger_id === r.triggerId && c.response?.ok) ?? h.fake.responses.find((x) => x.id === r.responseId),
      );
      if (!opened) return act;
      if ('body' in opened) {
        act.text = String(opened.body.text ?? '');
        act.outcome = classify(act.text, /(?!)/);
        return act;
      }
      const view = opened.args.view;
      const values: Record<string, Record<string, unknown>> =
        kind === 'escalate'
          ? { reason: { reason: { type: 'plain_text_input', value: 'Needs L1 under load' } } }
          : {
              code: { code: { type: 'static_select', selected_option: { value: 'fixed', text: { type: 'plain_text', text: 'Fixed' } } } },
              note: { note: { type: 'plain_text_input', value: 'Fixed while the servers restarted' } },
            };
      // The modal's answer is an ephemeral message to the agent (each agent acts one at a time).
      const seen = h.fake.ephemerals.filter((e) => e.user === agent.slack).length;
      const submitted = Date.now();
      const sub = await h.slack.submitView(agent.slack, { callbackId: view.callback_id, privateMetadata: view.private_metadata, viewId: opened.response.view.id, values });
      act.statuses.push(sub.status);
      if (sub.body && JSON.parse(sub.body).response_action === 'errors') {
        act.outcome = 'refused';
        act.text = sub.body;
        return act;
      }
      const told = await awaitAnswer(act, submitted, () => h.fake.ephemerals.filter((e) => e.user === agent.slack)[seen]);
      if (told) {
        act.text = told.text ?? '';
        act.outcome = classify(act.text, kind === 'escalate' ? /^INC-\d+ escalated to/ : /^INC-\d+ resolved;/);
      }
      return act;
    }

    /**
     * An agent works their queue like a person: finishes what they took when its card offers the
     * next step (the desk escalates three in four and resolves the rest; L1 resolves), and takes
     * a new card from the queue while they have fewer than two.
     */
    async function agent(a: Agent, tier: 'desk' | 'l1') {
      /** What this agent took: where its card is, the next step, and the version their accept made. */
      const mine = new Map<string, { ts: string; next: 'escalate' | 'resolve'; version: number }>();
      /** Cards someone else was quicker to accept: a person does not press those again. */
      const taken = new Set<string>();
      while (!stop) {
        let acted = false;
        for (const [id, job] of mine) {
          const card = h.fake.messages.get(`${a.queue}:${job.ts}`);
          // Not before the card shows the accept (a person acts on what the card says).
          const step = card && h.buttons(card).find((b) => b.actionId === `incident.${job.next}`);
          if (!card || !step || Number(step.value.split('|')[1]) < job.version) continue;
          const act = await click(a, card, job.next);
          if (act.outcome === 'ok') mine.delete(id);
          acted = true;
          break;
        }
        if (!acted && mine.size < 2) {
          const open = liveCards(a.queue).filter((m) => !taken.has(idOf(m)!) && h.buttons(m).some((b) => b.actionId === 'incident.accept'));
          // One of the three oldest: the two agents of a tier sometimes race for one card.
          const card = open[randomInt(0, Math.min(3, open.length) || 1)];
          if (card) {
            const act = await click(a, card, 'accept');
            const n = Number(act.number!.slice(4));
            const version = Number(h.buttons(card)[0]!.value.split('|')[1]) + 1;
            if (act.outcome === 'refused') taken.add(act.incidentId!);
            if (act.outcome === 'ok') mine.set(act.incidentId!, { ts: card.ts, next: tier === 'desk' && n % 4 !== 0 ? 'escalate' : 'resolve', version });
            acted = true;
          }
        }
        await sleep(acted ? randomInt(20, 80) : randomInt(60, 150));
      }
    }

    // --- the outages -------------------------------------------------------------------------
    async function outagesScript() {
      await sleep(REDIS_DOWN_AT - (Date.now() - t0));
      let from = Date.now();
      await stopRedis(redis);
      await sleep(DOWN_MS);
      redis = await startRedis(redisPort);
      outages.push({ what: 'redis', from, to: Date.now() });
      await sleep(PG_DOWN_AT - (Date.now() - t0));
      from = Date.now();
      await pg.stop();
      await sleep(DOWN_MS);
      await pg.start();
      outages.push({ what: 'postgres', from, to: Date.now() });
    }

    const script = outagesScript();
    const loops = [...REPORTERS.map((u) => reporter(u)), ...DESK.map((a) => agent(a, 'desk')), ...L1.map((a) => agent(a, 'l1'))];
    await sleep(LOAD_MS);
    await script;
    stop = true;
    await Promise.all(loops);
    const loadEnded = Date.now();

    // --- drained: everything owed goes out (items claimed when PostgreSQL died wait out their lease)
    const drain = async () => {
      const deadline = Date.now() + 50_000;
      for (;;) {
        await h.bot.scheduler.flush();
        const left = await h.store.undelivered(100);
        if (left.length === 0 || left.every((i) => i.status === 'failed') || Date.now() > deadline) return left;
        await sleep(500);
      }
    };
    expect.soft(await drain(), 'outbox drained after the load').toEqual([]);

    // The bot was never restarted and still serves a new report, card and receipt included.
    const last = await report('U0REP');
    expect(last.outcome).toBe('ok');
    await h.fake.waitFor(() => h.messagesIn(DESK_Q).some((m) => has(h.textOf(m), last.number!)), 10_000);
    expect.soft(await drain(), 'outbox drained after the last report').toEqual([]);
    // Anything posted twice would arrive within the next moments.
    await sleep(1500);
    expect.soft(await h.store.undelivered(100), 'outbox still empty a moment later').toEqual([]);
    expect(h.logs.filter((l) => l.includes('"msg":"http server listening"'))).toHaveLength(1);

    // --- the numbers, for the record ---------------------------------------------------------
    const retried = async () => {
      const sql = postgres(pg.database.url, { max: 1, onnotice: () => {} });
      try {
        const rows = await sql<{ key: string; kind: string; purpose: string | null; attempts: number }[]>`
          select key, effect->>'kind' as kind, coalesce(effect->>'purpose', effect->>'key') as purpose, attempts from outbox where attempts > 1 order by id`;
        return rows.map((r) => `${r.kind}(${r.purpose ?? ''}) ×${r.attempts}`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    };
    const during = (what: 'redis' | 'postgres', a: Act) => outages.some((o) => o.what === what && a.at >= o.from && a.at <= o.to);
    const count = (f: (a: Act) => boolean) => acts.filter(f).length;
    const summary = {
      loadMs: loadEnded - t0,
      outages: outages.map((o) => ({ what: o.what, fromMs: o.from - t0, downMs: o.to - o.from })),
      reports: { ok: count((a) => a.kind === 'report' && a.outcome === 'ok'), tryAgain: count((a) => a.kind === 'report' && a.outcome === 'try_again') },
      clicks: Object.fromEntries(
        (['accept', 'escalate', 'resolve'] as const).map((k) => [k, Object.fromEntries((['ok', 'try_again', 'refused', 'stale', 'no_answer'] as const).map((o) => [o, count((a) => a.kind === k && a.outcome === o)]))]),
      ),
      duringRedis: { ok: count((a) => during('redis', a) && a.outcome === 'ok'), tryAgain: count((a) => during('redis', a) && a.outcome === 'try_again') },
      duringPostgres: { ok: count((a) => during('postgres', a) && a.outcome === 'ok'), tryAgain: count((a) => during('postgres', a) && a.outcome === 'try_again') },
      slowestAnswerMs: Math.max(...acts.map((a) => a.waitedMs)),
      answersOverDeadline: count((a) => a.waitedMs > ANSWER_DEADLINE_MS),
      // Deliveries that were in flight when PostgreSQL died (claimed more than once), and what
      // the outbox did about a post whose answer it lost.
      retriedDeliveries: await retried(),
      cardsFoundAgain: h.logs.filter((l) => l.includes('"msg":"card found again after a lost answer"')).length,
      tryAgainOutsideOutages: acts
        .filter((a) => a.outcome === 'try_again' && !outages.some((o) => o.what === 'postgres' && a.at >= o.from - 500 && a.at <= o.to + 3000))
        .map((a) => ({ ...a, at: a.at - t0 })),
    };
    console.log(`restart-under-load: ${JSON.stringify(summary)}`);

    // Soft from here on: one run reports every kind of loss or double, not just the first.
    // --- every request was acknowledged and answered ------------------------------------------
    const shown = (a: Act) => ({ ...a, at: a.at - t0 });
    expect.soft(acts.filter((a) => a.statuses.some((s) => s !== 200)).map(shown), 'requests not acknowledged with 200').toEqual([]);
    expect.soft(acts.filter((a) => a.outcome === 'no_answer').map(shown), 'requests never answered').toEqual([]);
    // …promptly: none waited like a hang, during an outage or after it.
    expect.soft(acts.filter((a) => a.waitedMs > ANSWER_DEADLINE_MS).map(shown), `answers later than ${ANSWER_DEADLINE_MS} ms`).toEqual([]);
    // "Try again" only while PostgreSQL was away (and the moment it came back), never otherwise.
    expect.soft(summary.tryAgainOutsideOutages, '"try again" outside the PostgreSQL outage').toEqual([]);
    // The outages met the load: PostgreSQL's was refused with "try again", Redis's was not noticed.
    expect(summary.duringPostgres.tryAgain).toBeGreaterThan(0);
    expect(summary.duringRedis.ok).toBeGreaterThan(0);
    expect(summary.duringRedis.tryAgain).toBe(0);
    expect(summary.reports.ok).toBeGreaterThan(20);
    expect(summary.clicks.escalate!.ok).toBeGreaterThan(3);

    // --- every report answered with a number exists once; none refused does ---------------------
    const reported = acts.filter((a) => a.kind === 'report' && a.outcome === 'ok');
    const all = await h.store.list({ limit: 10_000 });
    expect.soft(new Set(reported.map((a) => a.number)).size, 'one number per report').toBe(reported.length);
    expect.soft(all.map((i) => i.number).sort(), 'the incidents stored are the reports answered with a number').toEqual(reported.map((a) => a.number!).sort());
    expect.soft(reported.filter((a) => all.find((i) => i.number === a.number)?.title !== a.title).map(shown), 'reports stored under another number').toEqual([]);
    const refusedTitles = new Set(acts.filter((a) => a.kind === 'report' && a.outcome !== 'ok').map((a) => a.title));
    expect.soft(all.filter((i) => refusedTitles.has(i.title)).map((i) => `${i.number} ${i.title}`), 'refused reports that exist anyway').toEqual([]);

    // --- each timeline is contiguous and holds exactly the clicks answered as done -----------------
    const problems: string[] = [];
    for (const incident of all) {
      const timeline = await h.store.timeline(incident.id);
      const seqs = timeline.map((e) => e.seq);
      if (seqs.join(',') !== timeline.map((_, i) => i + 1).join(',')) problems.push(`${incident.number}: timeline seqs ${seqs.join(',')}`);
      if (timeline[0]?.event.type !== 'IncidentReported') problems.push(`${incident.number}: first entry ${timeline[0]?.event.type}`);
      if (incident.version !== timeline.length) problems.push(`${incident.number}: version ${incident.version}, ${timeline.length} entries`);
      const recorded = timeline
        .slice(1)
        .map((e) => `${e.event.type}:${e.actor.kind === 'person' ? e.actor.person.id : 'system'}`)
        .sort();
      const type = { accept: 'IncidentAccepted', escalate: 'IncidentEscalated', resolve: 'IncidentResolved' } as const;
      const done = acts
        .filter((a) => a.incidentId === incident.id && a.kind !== 'report' && a.outcome === 'ok')
        .map((a) => `${type[a.kind as keyof typeof type]}:${a.user}`)
        .sort();
      if (recorded.join(',') !== done.join(',')) problems.push(`${incident.number}: timeline [${recorded.join(', ')}] but answered as done [${done.join(', ')}]`);
    }
    expect.soft(problems, 'timelines').toEqual([]);
    problems.length = 0;

    // --- every message owed was delivered once -------------------------------------------------
    for (const incident of all) {
      const about = (m: FakeMessage) => has(h.textOf(m), incident.number);
      const top = (q: string) => h.messagesIn(q).filter((m) => m.thread_ts === undefined && about(m));
      const timeline = await h.store.timeline(incident.id);
      const n = (type: string) => timeline.filter((e) => e.event.type === type).length;
      const escalated = n('IncidentEscalated') > 0;
      const where = `${incident.number} (${incident.status}, ${incident.tier})`;
      if (top(DESK_Q).length !== 1) problems.push(`${where}: ${top(DESK_Q).length} cards in the desk queue`);
      if (top(L1_Q).length !== (escalated ? 1 : 0)) problems.push(`${where}: ${top(L1_Q).length} cards in the L1 queue`);
      for (const q of [DESK_Q, L1_Q]) {
        if (h.messagesIn(q).some((m) => m.thread_ts !== undefined && about(m))) problems.push(`${where}: a thread reply in ${q}`);
      }
      // The live card shows the incident as it is now; the desk card of an escalated one says so.
      const live = top(incident.tier === 'l1' ? L1_Q : DESK_Q)[0];
      const versions = new Set(h.buttons(live ?? ({} as FakeMessage)).map((b) => Number(b.value.split('|')[1])));
      if (live && incident.status !== 'resolved' && (versions.size !== 1 || !versions.has(incident.version))) problems.push(`${where}: live card shows version ${[...versions].join('/')} (incident at ${incident.version})`);
      if (live && incident.status === 'resolved' && h.buttons(live).length) problems.push(`${where}: resolved but its card still has buttons`);
      if (escalated && !h.textOf(top(DESK_Q)[0]).includes('Moved to L1 engineers')) problems.push(`${where}: desk card does not say it moved`);
      // The reporter's DMs: the receipt, each accept, each escalation, the resolved card; once each.
      const dms = h.messagesIn(incident.reporter.platformUserId).filter(about);
      const of = (f: (m: FakeMessage) => boolean) => dms.filter(f).length;
      const receipts = of((m) => (m.text ?? '').startsWith(`Received: ${incident.number} `));
      const accepted = of((m) => (m.text ?? '').includes('has taken your incident'));
      const escalations = of((m) => (m.text ?? '').includes('escalated to'));
      const resolvedCards = of((m) => h.buttons(m).some((b) => b.actionId === 'incident.confirm'));
      const owed = { receipts: 1, accepted: n('IncidentAccepted'), escalations: n('IncidentEscalated'), resolvedCards: n('IncidentResolved') };
      const got = { receipts, accepted, escalations, resolvedCards };
      if (JSON.stringify(got) !== JSON.stringify(owed) || dms.length !== 1 + owed.accepted + owed.escalations + owed.resolvedCards) {
        problems.push(`${where}: reporter DMs ${JSON.stringify(got)} (${dms.length} in all), owed ${JSON.stringify(owed)}: ${dms.map((m) => JSON.stringify(m.text)).join(' | ')}`);
      }
    }
    expect.soft(problems, 'messages owed, once each').toEqual([]);
    // Nothing parked: every outbox item was delivered.
    expect(await h.store.undelivered(100)).toEqual([]);
  }, 150_000);
});
