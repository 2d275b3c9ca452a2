/**
 * Prometheus metrics on `GET /metrics` (issue 7), in the text exposition format (version 0.0.4),
 * without a client library: a handful of counters and one histogram kept in the process, and
 * gauges read from the database at scrape time (IncidentStore.stats), so several bot processes
 * report the same incident counts and Prometheus sums their counters.
 */
import type { EventBody } from '../flows/incident/events';
import type { IncidentStore } from '../flows/ports';
import type { TimelineEntry } from '../flows/incident/events';

/** Ack latency buckets in seconds: Slack and Feishu allow 3 s; the target is 0.1 s at p99. */
export const ACK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels) => {
  const keys = Object.keys(l);
  return keys.length ? `{${keys.map((k) => `${k}="${escapeLabel(l[k]!)}"`).join(',')}}` : '';
};

export interface Metrics {
  /** One inbound request answered (route: `slack`, `feishu`, `dingtalk`, `health`…). */
  observeRequest(route: string, status: number, seconds: number): void;
  /** Events just committed: SLA warnings and breaches, reports, resolutions are counted. */
  onEvents(events: EventBody[]): void;
  /** What one outbox pass did. */
  onOutboxPass(result: { delivered: number; retried: number; failed: number }): void;
  /** A command refused because its sender went over the per-person rate limit. */
  onRateLimited(): void;
  /** The exposition text, with the store's gauges read now. */
  render(store: IncidentStore, now: number): Promise<string>;
}

export function createMetrics(): Metrics {
  const counters = new Map<string, { help: string; values: Map<string, { labels: Labels; value: number }> }>();
  const count = (name: string, help: string, labels: Labels, by = 1) => {
    let c = counters.get(name);
    if (!c) counters.set(name, (c = { help, values: new Map() }));
    const key = labelText(labels);
    const v = c.values.get(key) ?? { labels, value: 0 };
    v.value += by;
    c.values.set(key, v);
  };
  const histograms = new Map<string, { buckets: number[]; sum: number; count: number; labels: Labels }>();

  return {
    observeRequest(route, status, seconds) {
      const key = route;
      let h = histograms.get(key);
      if (!h) histograms.set(key, (h = { buckets: ACK_BUCKETS.map(() => 0), sum: 0, count: 0, labels: { route } }));
      ACK_BUCKETS.forEach((b, i) => {
        if (seconds <= b) h!.buckets[i]!++;
      });
      h.sum += seconds;
      h.count++;
      count('firebell_http_requests_total', 'Inbound requests answered, by route and status class.', { route, status: `${Math.floor(status / 100)}xx` });
    },
    onEvents(events) {
      for (const e of events) {
        if (e.type === 'SlaThresholdReached') count('firebell_sla_events_total', 'SLA warnings and breaches recorded.', { clock: e.clock, threshold: e.threshold });
        else if (e.type === 'IncidentReported') count('firebell_incidents_reported_total', 'Incidents reported.', {});
        else if (e.type === 'IncidentResolved') count('firebell_incidents_resolved_total', 'Incidents resolved.', {});
        else if (e.type === 'EscalationStepReached') count('firebell_matrix_steps_total', 'Escalation matrix steps reached.', {});
      }
    },
    onOutboxPass(r) {
      if (r.delivered) count('firebell_outbox_deliveries_total', 'Outbox deliveries, by result.', { result: 'delivered' }, r.delivered);
      if (r.retried) count('firebell_outbox_deliveries_total', 'Outbox deliveries, by result.', { result: 'retried' }, r.retried);
      if (r.failed) count('firebell_outbox_deliveries_total', 'Outbox deliveries, by result.', { result: 'failed' }, r.failed);
    },
    onRateLimited() {
      count('firebell_rate_limited_total', 'Commands refused by the per-person rate limit.', {});
    },
    async render(store, now) {
      const out: string[] = [];
      const gauge = (name: string, help: string, rows: { labels: Labels; value: number }[]) => {
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
        for (const r of rows) out.push(`${name}${labelText(r.labels)} ${r.value}`);
      };
      const stats = await store.stats();
      gauge('firebell_incidents', 'Incidents by status and priority.', stats.incidents.map((r) => ({ labels: { status: r.status, priority: r.priority }, value: r.count })));
      gauge('firebell_queue_depth', 'Incidents waiting in a tier queue (new or awaiting approval).', stats.queue.map((r) => ({ labels: { tier: r.tier }, value: r.count })));
      gauge('firebell_outbox_pending', 'Outbox messages not yet delivered.', [{ labels: {}, value: stats.outbox.pending }]);
      gauge('firebell_outbox_failed', 'Outbox messages parked after their retries ran out.', [{ labels: {}, value: stats.outbox.failed }]);
      const lag = stats.outbox.oldestPendingAt ? Math.max(0, (now - Date.parse(stats.outbox.oldestPendingAt)) / 1000) : 0;
      gauge('firebell_outbox_lag_seconds', 'Age of the oldest undelivered outbox message.', [{ labels: {}, value: Math.round(lag * 1000) / 1000 }]);
      const mem = process.memoryUsage();
      gauge('process_resident_memory_bytes', 'Resident memory.', [{ labels: {}, value: mem.rss }]);
      gauge('nodejs_heap_used_bytes', 'V8 heap in use.', [{ labels: {}, value: mem.heapUsed }]);
      gauge('process_uptime_seconds', 'Seconds since the process started.', [{ labels: {}, value: Math.round(process.uptime()) }]);
      for (const [name, c] of counters) {
        out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
        for (const v of c.values.values()) out.push(`${name}${labelText(v.labels)} ${v.value}`);
      }
      out.push('# HELP firebell_request_duration_seconds Time to answer an inbound request (the ack the platform waits for).', '# TYPE firebell_request_duration_seconds histogram');
      for (const h of histograms.values()) {
        ACK_BUCKETS.forEach((b, i) => out.push(`firebell_request_duration_seconds_bucket${labelText({ ...h.labels, le: String(b) })} ${h.buckets[i]}`));
        out.push(`firebell_request_duration_seconds_bucket${labelText({ ...h.labels, le: '+Inf' })} ${h.count}`);
        out.push(`firebell_request_duration_seconds_sum${labelText(h.labels)} ${Math.round(h.sum * 1e6) / 1e6}`);
        out.push(`firebell_request_duration_seconds_count${labelText(h.labels)} ${h.count}`);
      }
      return `${out.join('\n')}\n`;
    },
  };
}

/**
 * The store, counting the events of every successful write into `metrics`: one place sees every
 * commit (reports, actions, timers, links), so no flow has to remember to count.
 */
export function countingStore(store: IncidentStore, metrics: Metrics): IncidentStore {
  const seen = (entries: TimelineEntry[]) => metrics.onEvents(entries.map((e) => e.event));
  return Object.assign(Object.create(store) as IncidentStore, {
    async create(incident: Parameters<IncidentStore['create']>[0], entries: TimelineEntry[], effects: Parameters<IncidentStore['create']>[2]) {
      await store.create(incident, entries, effects);
      seen(entries);
    },
    async commit(next: Parameters<IncidentStore['commit']>[0], expected: number, entries: TimelineEntry[], effects: Parameters<IncidentStore['commit']>[3]) {
      const ok = await store.commit(next, expected, entries, effects);
      if (ok) seen(entries);
      return ok;
    },
    async commitMany(items: Parameters<IncidentStore['commitMany']>[0]) {
      const ok = await store.commitMany(items);
      if (ok) for (const i of items) seen(i.entries);
      return ok;
    },
    async createWith(incident: Parameters<IncidentStore['createWith']>[0], entries: TimelineEntry[], effects: Parameters<IncidentStore['createWith']>[2], related: Parameters<IncidentStore['createWith']>[3]) {
      const ok = await store.createWith(incident, entries, effects, related);
      if (ok) {
        seen(entries);
        for (const i of related) seen(i.entries);
      }
      return ok;
    },
  });
}
