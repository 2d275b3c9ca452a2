/**
 * Business-hours calendars for SLA clocks.
 *
 * Pure: no clock reads, no dependencies beyond `Intl`. Every instant is epoch milliseconds; every
 * calendar date and clock time is local to the calendar's IANA time zone.
 *
 * Model. Each working local date `d` contributes one window `[at(d, start), at(d, end))`, where
 * `at(d, m)` is the earliest instant whose local wall time is at or after `d` + `m` minutes. For
 * ordinary times that is simply the instant showing that wall time; in a DST gap it is the moment
 * the clocks jump (so a window never loses more than the skipped wall time); in a DST overlap it is
 * the first occurrence. `at` is monotone, so the windows are ordered and never overlap, and
 * businessMsBetween / addBusinessMs are exact inverses.
 */

/** A business-hours calendar. Dates are local to `timeZone`. */
export interface BusinessCalendar {
  timeZone: string; // IANA, e.g. 'Asia/Shanghai', 'Europe/Berlin' (DST must work)
  days: number[]; // ISO weekdays that are working days: 1 = Monday … 7 = Sunday
  start: string; // 'HH:mm' local start of the working day, e.g. '09:00'
  end: string; // 'HH:mm' local end, after start, e.g. '18:00' (may be '24:00')
  holidays: string[]; // 'YYYY-MM-DD' local dates that are not working days even if their weekday is
  workdays: string[]; // 'YYYY-MM-DD' local dates that ARE working days even if their weekday is not (China's make-up working days, 调休)
}

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Largest |epoch ms| a Date (and Intl) accepts. */
const MAX_INSTANT = 8.64e15;
/** Local days this close to the representable edge are treated as "never". */
const LAST_SAFE_WALL = MAX_INSTANT - 3 * DAY_MS;

const CLOCK = /^(\d{2}):(\d{2})$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses 'HH:mm' to minutes after midnight (0..1440), or null when malformed. */
export function parseClockTime(s: string): number | null {
  if (typeof s !== 'string') return null;
  const m = CLOCK.exec(s);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min !== 0)) return null;
  return h * 60 + min;
}

/** Working milliseconds in [from, to) (epoch ms). 0 when to <= from. */
export function businessMsBetween(cal: BusinessCalendar, from: number, to: number): number {
  const c = compile(cal);
  assertInstant(from, 'from');
  assertInstant(to, 'to');
  if (!(to > from)) return 0;
  const z = new Zone(c.timeZone);
  const last = z.localDay(to) + 1; // +1: a fall-back across midnight can start d+1's window before `to`
  let d = z.localDay(from);
  let total = 0;
  while (d <= last) {
    if (c.weekCount === 0) {
      const next = c.nextExtraWorkday(d);
      if (next === undefined || next > last) break;
      d = next;
    }
    if (d + 7 <= last) {
      const n = c.workingDaysIn(d);
      if (n === 0) {
        d += 7;
        continue;
      }
      const o = z.constantOffsetAround(d);
      if (o !== null && wallOf(d, c.startMin) - o >= from && wallOf(d + 6, c.endMin) - o <= to) {
        total += n * c.windowMs;
        d += 7;
        continue;
      }
    }
    if (c.isWorkingDay(d)) {
      const lo = Math.max(z.instantOf(wallOf(d, c.startMin)), from);
      const hi = Math.min(z.instantOf(wallOf(d, c.endMin)), to);
      if (hi > lo) total += hi - lo;
    }
    d += 1;
  }
  return total;
}

/**
 * The earliest instant t >= from (epoch ms) with businessMsBetween(cal, from, t) === ms. ms <= 0 returns from.
 * Returns Infinity when the calendar has no working time left after `from` (no working weekdays and
 * no later make-up workdays), or when the answer lies beyond the range a Date can represent.
 */
export function addBusinessMs(cal: BusinessCalendar, from: number, ms: number): number {
  const c = compile(cal);
  assertInstant(from, 'from');
  if (Number.isNaN(ms)) throw new RangeError('addBusinessMs: ms must be a number');
  if (ms <= 0) return from;
  if (ms === Infinity) return Infinity;
  const z = new Zone(c.timeZone);
  let d = z.localDay(from);
  let remaining = ms;
  for (;;) {
    if (c.weekCount === 0) {
      const next = c.nextExtraWorkday(d);
      if (next === undefined) return Infinity;
      d = next;
    }
    if (wallOf(d + 8, 0) > LAST_SAFE_WALL) return Infinity;
    const n = c.workingDaysIn(d);
    if (n === 0) {
      d += 7;
      continue;
    }
    if (remaining > n * c.windowMs) {
      const o = z.constantOffsetAround(d);
      if (o !== null && wallOf(d, c.startMin) - o >= from) {
        remaining -= n * c.windowMs;
        d += 7;
        continue;
      }
    }
    if (c.isWorkingDay(d)) {
      const lo = Math.max(z.instantOf(wallOf(d, c.startMin)), from);
      const hi = z.instantOf(wallOf(d, c.endMin));
      if (hi > lo) {
        if (remaining <= hi - lo) return lo + remaining;
        remaining -= hi - lo;
      }
    }
    d += 1;
  }
}

/** True when the instant is inside working hours. */
export function isBusinessTime(cal: BusinessCalendar, at: number): boolean {
  const c = compile(cal);
  assertInstant(at, 'at');
  const z = new Zone(c.timeZone);
  const day = z.localDay(at);
  // The window containing `at` belongs to its local date, or to the next one after a fall-back across midnight.
  for (const d of [day, day + 1]) {
    if (!c.isWorkingDay(d)) continue;
    if (z.instantOf(wallOf(d, c.startMin)) <= at && at < z.instantOf(wallOf(d, c.endMin))) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Calendar compilation

interface Compiled {
  timeZone: string;
  startMin: number;
  endMin: number;
  windowMs: number;
  /** Number of working ISO weekdays (0..7). */
  weekCount: number;
  isWorkingDay(d: number): boolean;
  /** Working days among the seven local days d .. d+6. */
  workingDaysIn(d: number): number;
  /** The first effective make-up workday >= d, if any. */
  nextExtraWorkday(d: number): number | undefined;
}

function compile(cal: BusinessCalendar): Compiled {
  const startMin = parseClockTime(cal.start);
  const endMin = parseClockTime(cal.end);
  if (startMin === null) throw new RangeError(`business calendar: malformed start '${String(cal.start)}' (want HH:mm)`);
  if (endMin === null) throw new RangeError(`business calendar: malformed end '${String(cal.end)}' (want HH:mm)`);
  if (endMin <= startMin) throw new RangeError(`business calendar: end ${cal.end} must be after start ${cal.start}`);
  const weekdays = [false, false, false, false, false, false, false, false];
  for (const day of cal.days) {
    if (!Number.isInteger(day) || day < 1 || day > 7) {
      throw new RangeError(`business calendar: weekday ${String(day)} is not an ISO weekday 1..7`);
    }
    weekdays[day] = true;
  }
  const weekCount = weekdays.filter(Boolean).length;
  const holidays = new Set(cal.holidays.map((s) => parseDate(s, 'holiday')));
  const workdays = new Set(cal.workdays.map((s) => parseDate(s, 'workday')));
  // A date listed both ways is a holiday: an explicit day off wins.
  const extra = [...workdays].filter((d) => !holidays.has(d)).sort((a, b) => a - b);

  const isWorkingDay = (d: number): boolean => {
    if (holidays.has(d)) return false;
    if (workdays.has(d)) return true;
    return weekdays[isoWeekday(d)] === true;
  };
  const noExceptions = holidays.size === 0 && workdays.size === 0;
  return {
    timeZone: cal.timeZone,
    startMin,
    endMin,
    windowMs: (endMin - startMin) * MINUTE_MS,
    weekCount,
    isWorkingDay,
    workingDaysIn(d) {
      if (noExceptions) return weekCount;
      let n = 0;
      for (let i = 0; i < 7; i++) if (isWorkingDay(d + i)) n++;
      return n;
    },
    nextExtraWorkday(d) {
      let lo = 0;
      let hi = extra.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((extra[mid] as number) < d) lo = mid + 1;
        else hi = mid;
      }
      return extra[lo];
    },
  };
}

function parseDate(s: string, what: string): number {
  const m = typeof s === 'string' ? DATE.exec(s) : null;
  if (m) {
    const y = Number(m[1]);
    const mo = Number(m[2]);
    const d = Number(m[3]);
    const ms = utcMs(y, mo, d, 0, 0, 0);
    const back = new Date(ms);
    if (back.getUTCFullYear() === y && back.getUTCMonth() === mo - 1 && back.getUTCDate() === d) return ms / DAY_MS;
  }
  throw new RangeError(`business calendar: malformed ${what} date '${String(s)}' (want YYYY-MM-DD)`);
}

function assertInstant(t: number, name: string): void {
  if (!Number.isFinite(t) || Math.abs(t) > MAX_INSTANT) {
    throw new RangeError(`business calendar: ${name} must be finite epoch milliseconds, got ${String(t)}`);
  }
}

/** ISO weekday (1 = Monday … 7 = Sunday) of a day number (days since 1970-01-01, a Thursday). */
function isoWeekday(d: number): number {
  return ((((d + 3) % 7) + 7) % 7) + 1;
}

/** Local wall time of day number `d` plus `minutes`, as "UTC" milliseconds. */
function wallOf(d: number, minutes: number): number {
  return d * DAY_MS + minutes * MINUTE_MS;
}

/** Date.UTC without its 0..99 → 1900s year quirk. */
function utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  if (y >= 0 && y < 100) {
    const dt = new Date(Date.UTC(2000, mo - 1, d, h, mi, s));
    dt.setUTCFullYear(y);
    return dt.getTime();
  }
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

// ---------------------------------------------------------------------------------------------
// Time zone arithmetic

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const FORMATTED = /^(\d+)\/(\d+)\/(\d+) (AD|BC), (\d+):(\d+):(\d+)$/;

/** Per-call view of a time zone, memoising UTC offsets by instant. */
class Zone {
  private readonly fmt: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  constructor(timeZone: string) {
    this.fmt = formatterFor(timeZone);
  }

  /** UTC offset (local − UTC, ms) in force at instant t. */
  offsetAt(t: number): number {
    const sec = Math.floor(t / SECOND_MS) * SECOND_MS;
    const cached = this.offsets.get(sec);
    if (cached !== undefined) return cached;
    const o = this.wallSeconds(sec) - sec;
    this.offsets.set(sec, o);
    return o;
  }

  /** The local day number (days since 1970-01-01 in local wall time) of instant t. */
  localDay(t: number): number {
    return Math.floor((t + this.offsetAt(t)) / DAY_MS);
  }

  /** The earliest instant whose local wall time is >= `wall` (wall time written as UTC ms). */
  instantOf(wall: number): number {
    const before = this.offsetAt(wall - DAY_MS);
    const after = this.offsetAt(wall + DAY_MS);
    if (before === after) return wall - before;
    const a = wall - before;
    const b = wall - after;
    const aOk = this.offsetAt(a) === before;
    const bOk = this.offsetAt(b) === after;
    if (aOk && bOk) return Math.min(a, b); // overlap: the first occurrence
    if (aOk) return a;
    if (bOk) return b;
    // Gap: the wall time is skipped; find the transition, the first instant showing a later wall time.
    let lo = Math.min(a, b);
    let hi = Math.max(a, b);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (mid + this.offsetAt(mid) >= wall) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  /**
   * The offset in force throughout local days d .. d+6 (plus a day's margin either side), or null
   * when it changes. Sampled every 3 days, which catches every real-world DST transition.
   */
  constantOffsetAround(d: number): number | null {
    const base = wallOf(d - 1, 0);
    const o = this.offsetAt(base);
    for (let j = 1; j <= 3; j++) if (this.offsetAt(base + j * 3 * DAY_MS) !== o) return null;
    return o;
  }

  /** Local wall time of a whole-second instant, as UTC ms. */
  private wallSeconds(t: number): number {
    const text = this.fmt.format(t);
    const m = FORMATTED.exec(text);
    if (m) {
      const y = Number(m[3]);
      const hour = Number(m[5]);
      return utcMs(m[4] === 'BC' ? 1 - y : y, Number(m[1]), Number(m[2]), hour === 24 ? 0 : hour, Number(m[6]), Number(m[7]));
    }
    const p: Record<string, string> = {};
    for (const part of this.fmt.formatToParts(t)) p[part.type] = part.value;
    const y = Number(p.year);
    const hour = Number(p.hour);
    return utcMs(
      p.era === 'BC' || p.era === 'B' ? 1 - y : y,
      Number(p.month),
      Number(p.day),
      hour === 24 ? 0 : hour,
      Number(p.minute),
      Number(p.second),
    );
  }
}
