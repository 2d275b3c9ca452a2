/**
 * Benchmark 2: the flow engine on each store. report → accept → resolve → confirm through
 * `createDispatcher` directly (no HTTP, no Slack, no outbox delivery: effects are only written to
 * the outbox table, as in production), one command at a time.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createDispatcher } from '../../src/flows/dispatch';
import type { IncidentStore } from '../../src/flows/ports';
import { systemClock } from '../../src/flows/ports';
import type { Policy } from '../../src/flows/policy/policy';
import { silentLogger } from '../../src/logger';
import { personActor } from '../../src/flows/people';
import { personRef } from '../../test/support/policy';
import { round, summarize, watchPhase, type LatencySummary, type PhaseResources, type RssSampler } from './stats';

export interface FlowResult {
  store: string;
  incidents: number;
  warmupIncidents: number;
  commands: number;
  /** Commands that did not return ok (none expected; recorded, not asserted). */
  failures: number;
  failureSamples: string[];
  durationS: number;
  commandsPerSec: number;
  all: LatencySummary;
  byCommand: Record<'report' | 'accept' | 'resolve' | 'confirm', LatencySummary>;
  resources: PhaseResources;
  /** Set by the runner for PGlite: RSS just before opening the store and just after migrating it. */
  storeOpened?: { rssBeforeMb: number; rssAfterMb: number };
}

export async function benchFlows(
  storeName: string,
  store: IncidentStore,
  policy: Policy,
  sampler: RssSampler,
  o: { incidents: number; warmup: number; postgresDatabase?: string },
): Promise<FlowResult> {
  const dispatcher = createDispatcher({ store, clock: systemClock(), policy, platforms: ['slack'], newId: randomUUID, logger: silentLogger });
  const reporter = personRef('reporter.a');
  const desk = personActor(personRef('zhang.san'));
  const lat = { report: [] as number[], accept: [] as number[], resolve: [] as number[], confirm: [] as number[] };
  const failures: string[] = [];

  async function lifecycle(n: number, record: boolean) {
    const time = async <T extends { ok: boolean }>(name: keyof typeof lat, f: () => Promise<T>): Promise<T> => {
      const s = performance.now();
      const r = await f();
      if (record) lat[name].push(performance.now() - s);
      if (!r.ok) failures.push(`${name}: ${JSON.stringify(r).slice(0, 200)}`);
      return r;
    };
    const rep = await time('report', () =>
      dispatcher.report(reporter, { title: `Bench incident ${n}: mail server slow`, description: 'Sent by bench/run.ts' }, { platform: 'slack', channel: 'C0GENERAL' }),
    );
    if (!rep.ok) return;
    const ref = { id: rep.incident.id };
    await time('accept', () => dispatcher.act(desk, ref, { type: 'AcceptIncident' }, { platform: 'slack' }));
    await time('resolve', () => dispatcher.act(desk, ref, { type: 'ResolveIncident', code: 'fixed', note: 'Restarted the service' }, { platform: 'slack' }));
    await time('confirm', () => dispatcher.act(personActor(reporter), ref, { type: 'ConfirmResolution' }, { platform: 'slack' }));
  }

  for (let i = 0; i < o.warmup; i++) await lifecycle(-i - 1, false);
  failures.length = 0;
  const phase = watchPhase(sampler, o.postgresDatabase ? { postgresDatabase: o.postgresDatabase } : {});
  const t0 = performance.now();
  for (let i = 0; i < o.incidents; i++) await lifecycle(i + 1, true);
  const durationMs = performance.now() - t0;
  const resources = phase.stop();
  const all = [...lat.report, ...lat.accept, ...lat.resolve, ...lat.confirm];
  return {
    store: storeName,
    incidents: o.incidents,
    warmupIncidents: o.warmup,
    commands: all.length,
    failures: failures.length,
    failureSamples: failures.slice(0, 5),
    durationS: round(durationMs / 1000, 3),
    commandsPerSec: round(all.length / (durationMs / 1000), 1),
    all: summarize(all),
    byCommand: {
      report: summarize(lat.report),
      accept: summarize(lat.accept),
      resolve: summarize(lat.resolve),
      confirm: summarize(lat.confirm),
    },
    resources,
  };
}
