import type { Locale } from '../policy/policy';

/**
 * Formatters by locale and time zone. Building an Intl.DateTimeFormat costs far more than using
 * one (every card renders several times), and there are only a few combinations per deployment.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** A timestamp as people in the deployment's time zone read it: "11-22 10:42" / "11月22日 10:42". */
export function formatTime(iso: string, locale: Locale, timeZone: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const key = `${locale}|${timeZone}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale === 'zh-CN' ? 'zh-CN' : 'en-GB', {
      timeZone,
      month: 'short',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hour12: false,
    });
    formatters.set(key, f);
  }
  return f.format(d);
}

/** Cuts text to `max` characters on a character boundary, marking the cut. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** A duration as people read it: "45s", "15m", "1h 30m", "2d 4h" / "45秒", "15分钟", "1小时30分钟". */
export function humanDuration(ms: number, locale: Locale): string {
  const zh = locale === 'zh-CN';
  const u = zh ? { d: '天', h: '小时', m: '分钟', s: '秒' } : { d: 'd', h: 'h', m: 'm', s: 's' };
  const total = Math.max(0, Math.round(ms / 1000));
  if (total < 60) return `${total}${u.s}`;
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const parts: string[] = [];
  if (d) parts.push(`${d}${u.d}`);
  if (h) parts.push(`${h}${u.h}`);
  if (m && !d) parts.push(`${m}${u.m}`);
  if (!parts.length) parts.push(`${Math.floor(total / 60)}${u.m}`);
  return parts.join(zh ? '' : ' ');
}

/** One line: line breaks and runs of spaces become one space (card titles, summaries). */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** The largest n in [0, max] for which ok(n) holds, assuming ok is monotonic; -1 when none does. */
export function largest(max: number, ok: (n: number) => boolean): number {
  if (!ok(0)) return -1;
  let lo = 0;
  let hi = max;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
