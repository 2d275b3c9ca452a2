/**
 * Benchmark 3: outbox drain. Incidents are reported and accepted through the dispatcher with no
 * worker running, so their effects (queue cards, card updates, DMs) pile up in the outbox; then
 * `createOutboxWorker` (production defaults: batch 20, in parallel within a batch) delivers them to
 * the fake Slack Web API through the real Slack port (WebClient over HTTP on loopback).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createSlackPort, createSlackWebClient } from '../../src/adapters/slack/port';
import { createPostgresStore } from '../../src/db/index';
import { createDispatcher } from '../../src/flows/dispatch';
import { createOutboxWorker } from '../../src/flows/outbox';
import { systemClock } from '../../src/flows/ports';
import { personActor } from '../../src/flows/people';
import type { Policy } from '../../src/flows/policy/policy';
import { silentLogger } from '../../src/logger';
import { createFakeSlack } from '../../test/fakes/slack-api';
import { createTestDatabase } from '../../test/support/pg';
import { personRef } from '../../test/support/policy';
import { BOT_TOKEN, countingLogger, type LogCounts } from './bot';
import { round, watchPhase, type PhaseResources, type RssSampler } from './stats';

export interface OutboxResult {
  store: 'postgres';
  target: number;
  incidents: number;
  effectsPerIncident: number;
  queued: number;
  queuedByKind: Record<string, number>;
  delivered: number;
  retried: number;
  failed: number;
  leftPending: number;
  runOnceCalls: number;
  durationS: number;
  effectsPerSec: number;
  slackCallsByMethod: Record<string, number>;
  logs: Omit<LogCounts, 'samples'> & { samples: string[] };
  resources: PhaseResources;
}

export async function benchOutbox(policy: Policy, sampler: RssSampler, o: { effects: number }): Promise<OutboxResult> {
  const fake = await createFakeSlack();
  const db = await createTestDatabase();
  const store = await createPostgresStore(db.url);
  try {
    const dispatcher = createDispatcher({ store, clock: systemClock(), policy, platforms: ['slack'], newId: randomUUID, logger: silentLogger });
    const reporter = personRef('reporter.a');
    const desk = personActor(personRef('zhang.san'));
    const one = async (n: number) => {
      const r = await dispatcher.report(reporter, { title: `Outbox bench ${n}: VPN down` }, { platform: 'slack', channel: 'C0GENERAL' });
      if (r.ok) await dispatcher.act(desk, { id: r.incident.id }, { type: 'AcceptIncident' }, { platform: 'slack' });
    };
    await one(1);
    const perIncident = (await store.undelivered(1000)).length;
    const incidents = Math.ceil(o.effects / Math.max(1, perIncident));
    for (let n = 2; n <= incidents; n++) await one(n);
    const queuedItems = await store.undelivered(1_000_000);
    const queuedByKind: Record<string, number> = {};
    for (const it of queuedItems) {
      const k = it.effect.kind === 'card.sync' ? `card.sync(${it.effect.purpose.split(':')[0]})` : it.effect.kind;
      queuedByKind[k] = (queuedByKind[k] ?? 0) + 1;
    }

    const { logger, counts } = countingLogger('info');
    const worker = createOutboxWorker({
      store,
      ports: { slack: createSlackPort(createSlackWebClient(BOT_TOKEN, fake.url), logger) },
      policy,
      clock: systemClock(),
      logger,
    });
    const callsBefore = fake.calls.length;
    const phase = watchPhase(sampler, { postgresDatabase: new URL(db.url).pathname.slice(1) });
    const t0 = performance.now();
    const total = { delivered: 0, retried: 0, failed: 0 };
    let calls = 0;
    for (;;) {
      const r = await worker.runOnce();
      calls++;
      total.delivered += r.delivered;
      total.retried += r.retried;
      total.failed += r.failed;
      if (r.delivered + r.retried + r.failed === 0) break;
    }
    const durationMs = performance.now() - t0;
    const resources = phase.stop();
    const left = (await store.undelivered(1_000_000)).filter((x) => x.status === 'pending').length;
    const slackCallsByMethod: Record<string, number> = {};
    for (const c of fake.calls.slice(callsBefore)) slackCallsByMethod[c.method] = (slackCallsByMethod[c.method] ?? 0) + 1;
    return {
      store: 'postgres',
      target: o.effects,
      incidents,
      effectsPerIncident: perIncident,
      queued: queuedItems.length,
      queuedByKind,
      ...total,
      leftPending: left,
      runOnceCalls: calls,
      durationS: round(durationMs / 1000, 3),
      effectsPerSec: round(total.delivered / (durationMs / 1000), 1),
      slackCallsByMethod,
      logs: counts,
      resources,
    };
  } finally {
    await store.close();
    await fake.close();
    await db.drop();
  }
}
