/**
 * Small helpers for the flow tests: report an incident and run commands through decide → evolve
 * the way the dispatcher does (version +1 per accepted command), without a database.
 */
import type { Command, ReportInput } from '../../src/flows/incident/commands';
import { createIncident, decide, evolve } from '../../src/flows/incident/decide';
import type { Actor, EventBody } from '../../src/flows/incident/events';
import type { Incident, PersonRef } from '../../src/flows/incident/model';
import type { Rejection } from '../../src/flows/incident/rejection';
import type { Policy } from '../../src/flows/policy/policy';
import { personRef, testPolicy, type TestPersonKey } from '../support/policy';

export const T0 = '2026-11-23T01:00:00.000Z';
export const INCIDENT_ID = '0b6c3c1e-5f2a-4a77-9a43-2d1e8f0c1a01';

/** `T0` plus `minutes`, as an ISO instant. */
export const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

export const SYSTEM: Actor = { kind: 'system', reason: 'test' };
export const as = (key: TestPersonKey): Actor => ({ kind: 'person', person: personRef(key) });
export const asRef = (person: PersonRef): Actor => ({ kind: 'person', person });

/** Files a report at `T0` (or `now`); throws if the report is refused. */
export function report(
  input: Partial<ReportInput> = {},
  opts: { reporter?: PersonRef; policy?: Policy; now?: string; seq?: number } = {},
): Incident {
  const reporter = opts.reporter ?? personRef('reporter.a');
  const built = createIncident(
    { title: 'VPN drops every few minutes', ...input },
    {
      id: INCIDENT_ID,
      seq: opts.seq ?? 12,
      now: opts.now ?? T0,
      policy: opts.policy ?? testPolicy(),
      reporter,
      origin: { platform: reporter.platform, channel: 'D0REPORTER' },
    },
  );
  if (!built.ok) throw new Error(`report refused: ${JSON.stringify(built)}`);
  return built.incident;
}

export type Step = { ok: true; state: Incident; events: EventBody[] } | (Rejection & { state: Incident });

/** decide → evolve with the dispatcher's version bump. A refusal returns the unchanged state. */
export function step(state: Incident, cmd: Command, actor: Actor, now: string, policy: Policy = testPolicy()): Step {
  const d = decide(state, cmd, { now, policy, actor, platform: actor.kind === 'system' ? 'system' : actor.person.platform });
  if (!d.ok) return { ...d, state };
  let next = state;
  for (const e of d.events) next = evolve(next, e, now);
  return { ok: true, state: { ...next, version: state.version + 1 }, events: d.events };
}

/** Like `step`, but the command must be accepted; returns the new state. */
export function run(state: Incident, cmd: Command, actor: Actor, now: string, policy?: Policy): Incident {
  const r = step(state, cmd, actor, now, policy);
  if (!r.ok) throw new Error(`${cmd.type} refused: ${JSON.stringify(r)}`);
  return r.state;
}

/** Runs the given commands in order (one minute apart from `start`), each one required to succeed. */
export function given(state: Incident, steps: [Command, Actor][], start = 1, policy?: Policy): Incident {
  return steps.reduce((s, [cmd, actor], i) => run(s, cmd, actor, at(start + i), policy), state);
}

/** Common commands. */
export const cmd = {
  accept: { type: 'AcceptIncident' } as Command,
  escalate: (reason = 'needs network access') => ({ type: 'EscalateIncident', reason }) as Command,
  hold: (reason = 'waiting for the user', until: string | null = null) => ({ type: 'HoldIncident', reason, until }) as Command,
  resume: { type: 'ResumeIncident' } as Command,
  resolve: (note = 'restarted the VPN gateway') => ({ type: 'ResolveIncident', code: 'fixed', note }) as Command,
  confirm: { type: 'ConfirmResolution' } as Command,
  reopen: (reason = 'still dropping') => ({ type: 'ReopenIncident', reason }) as Command,
  rate: (score = 5, feedback: string | null = null) => ({ type: 'RateIncident', score, feedback }) as Command,
  approve: { type: 'ApproveRequest', note: null } as Command,
  deny: (reason = 'not budgeted') => ({ type: 'DenyRequest', reason }) as Command,
  reject: (reason = 'not an IT matter') => ({ type: 'RejectIncident', reason }) as Command,
  close: { type: 'CloseIncident' } as Command,
};
