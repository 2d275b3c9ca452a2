/**
 * The operator's view of the clocks (`/incident sla [number]`, DOMAIN.md §5): one incident's
 * clocks, calendar and matrix steps, or the incidents at risk in a set of queues. Pure text.
 */
import type { Incident, Tier } from '../incident/model';
import type { Locale, Policy } from '../policy/policy';
import { clockView, instantOfSlaMs, stepKeys, timerItems, type ClockView } from '../policy/sla';
import { t, type MessageKey } from './catalog';
import { formatTime, humanDuration, truncate } from './format';

/** "Due soon" for the risk list: anything due within this window counts as at risk. */
export const RISK_WINDOW_MS = 60 * 60_000;

const WEEKDAY_KEYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const WEEKDAY_ZH = ['周一', '周二', '周三', '周四', '周五', '周六', '周日'];
const WEEKDAY_EN = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function days(list: number[], locale: Locale): string {
  const names = locale === 'zh-CN' ? WEEKDAY_ZH : WEEKDAY_EN;
  return list
    .filter((d) => d >= 1 && d <= WEEKDAY_KEYS.length)
    .map((d) => names[d - 1])
    .join(locale === 'zh-CN' ? '、' : ', ');
}

function clockLine(v: ClockView, locale: Locale, timeZone: string): string {
  const at = v.stoppedAt ?? v.dueAt;
  const suffix = v.stoppedAt
    ? t(locale, 'sla.view.at', { at: formatTime(v.stoppedAt, locale, timeZone) })
    : at
      ? t(locale, 'sla.view.due', { due: formatTime(at, locale, timeZone) })
      : '';
  return t(locale, 'sla.view.clock', {
    clock: t(locale, `sla.clock.${v.clock}`),
    state: t(locale, `sla.state.${v.state}`),
    target: humanDuration(v.targetMs, locale),
    used: humanDuration(v.elapsedMs, locale),
    due: suffix,
  });
}

/** Everything about one incident's clocks at `now`. */
export function slaDetails(incident: Incident, now: number, locale: Locale, policy: Policy): string {
  const tz = policy.timeZone;
  const l = (k: MessageKey, p: Record<string, string | number> = {}) => t(locale, k, p);
  const lines = [
    l('sla.view.title', {
      number: incident.number,
      priority: l(`priority.${incident.priority}` as MessageKey),
      status: l(`status.${incident.status}` as MessageKey),
      tier: l(`tier.${incident.tier}` as MessageKey),
    }),
    clockLine(clockView(incident, 'response', now), locale, tz),
    clockLine(clockView(incident, 'resolution', now), locale, tz),
  ];
  const sp = incident.sla.policy;
  const cal = sp.calendar && sp.businessHoursFor.includes(incident.priority) ? sp.calendar : null;
  lines.push(cal ? l('sla.view.calendar', { days: days(cal.days, locale), start: cal.start, end: cal.end, timeZone: cal.timeZone }) : l('sla.view.always'));
  if (incident.sla.pausedSince && !['closed', 'rejected'].includes(incident.status)) {
    lines.push(l('sla.view.paused', { since: formatTime(incident.sla.pausedSince, locale, tz), status: l(`status.${incident.status}` as MessageKey) }));
  }
  const steps = sp.matrix[incident.priority] ?? [];
  lines.push(l('sla.view.matrix'));
  if (steps.length === 0) lines.push(l('sla.view.step.none', { priority: incident.priority }));
  steps.forEach((step) => {
    const what = [
      step.tier ? l('sla.view.step.tier', { tier: l(`tier.${step.tier}` as MessageKey) }) : null,
      step.role ? l('sla.view.step.role', { role: l(`role.${step.role}` as MessageKey) }) : null,
    ]
      .filter(Boolean)
      .join(', ');
    const after = humanDuration(step.afterMs, locale);
    if (stepKeys(step).every((k) => incident.sla.fired.includes(k))) lines.push(l('sla.view.step.done', { after, what }));
    else {
      const at = instantOfSlaMs(incident, step.afterMs);
      lines.push(at === null ? l('sla.view.step.paused', { after, what }) : l('sla.view.step.due', { after, what, due: formatTime(new Date(at).toISOString(), locale, tz) }));
    }
  });
  const items = timerItems(incident);
  const wait = items.find((i) => i.kind === 'wait');
  const close = items.find((i) => i.kind === 'autoclose');
  if (wait) lines.push(l('sla.view.wait', { at: formatTime(new Date(wait.at).toISOString(), locale, tz) }));
  if (close) lines.push(l('sla.view.autoclose', { at: formatTime(new Date(close.at).toISOString(), locale, tz) }));
  if (incident.nextTimerAt) lines.push(l('sla.view.next', { at: formatTime(incident.nextTimerAt, locale, tz) }));
  return lines.join('\n');
}

interface Risk {
  incident: Incident;
  view: ClockView;
  due: number;
}

/** The clock of an incident most at risk at `now` (breached before warned before due soonest), if any. */
export function riskOf(incident: Incident, now: number, windowMs = RISK_WINDOW_MS): Risk | null {
  let best: Risk | null = null;
  for (const clock of ['response', 'resolution'] as const) {
    const view = clockView(incident, clock, now);
    if (!['ok', 'warned', 'breached', 'paused'].includes(view.state)) continue;
    const due = view.dueAt ? Date.parse(view.dueAt) : Number.POSITIVE_INFINITY;
    const risky = view.state === 'breached' || view.state === 'warned' || due - now <= windowMs;
    if (!risky) continue;
    if (!best || due < best.due) best = { incident, view, due };
  }
  return best;
}

/** The at-risk list for `tiers` (null: every queue, for incident managers), soonest due first. */
export function riskList(incidents: Incident[], now: number, locale: Locale, policy: Policy, tiers: Tier[] | null): string {
  const l = (k: MessageKey, p: Record<string, string | number> = {}) => t(locale, k, p);
  const window = humanDuration(RISK_WINDOW_MS, locale);
  const risks = incidents.map((i) => riskOf(i, now)).filter((r): r is Risk => r !== null);
  risks.sort((a, b) => a.due - b.due);
  const head = tiers
    ? l('sla.risk.title', { tiers: tiers.map((x) => l(`tier.${x}` as MessageKey)).join(', '), window })
    : l('sla.risk.all', { window });
  if (risks.length === 0) return `${head}\n${l('sla.risk.none', { window })}`;
  const lines = risks.slice(0, 25).map(({ incident, view }) =>
    l('sla.risk.line', {
      number: incident.number,
      priority: incident.priority,
      tier: l(`tier.${incident.tier}` as MessageKey),
      clock: l(`sla.clock.${view.clock}`),
      state: l(`sla.state.${view.state}`),
      due: view.dueAt ? formatTime(view.dueAt, locale, policy.timeZone) : '—',
      title: truncate(incident.title, 60),
    }),
  );
  return [head, ...lines].join('\n');
}
