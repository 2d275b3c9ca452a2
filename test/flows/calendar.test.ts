import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addBusinessMs,
  businessMsBetween,
  isBusinessTime,
  parseClockTime,
  type BusinessCalendar,
} from '../../src/flows/policy/calendar';

const MIN = 60_000;
const H = 3_600_000;
const DAY = 86_400_000;

/** A Shanghai wall time as an instant. China has had no DST since 1991, so it is a fixed UTC+8. */
function sh(y: number, mo: number, d: number, h = 0, mi = 0): number {
  return Date.UTC(y, mo - 1, d, h - 8, mi);
}

/** A Berlin wall time in 2026 as an instant: CEST (UTC+2) from 2026-03-29 01:00Z to 2026-10-25 01:00Z, else CET. */
function berlin(y: number, mo: number, d: number, h = 0, mi = 0): number {
  expect(y).toBe(2026);
  const summer = Date.UTC(y, mo - 1, d, h - 2, mi);
  return summer >= Date.UTC(2026, 2, 29, 1) && summer < Date.UTC(2026, 9, 25, 1) ? summer : summer + H;
}

const SHANGHAI: BusinessCalendar = {
  timeZone: 'Asia/Shanghai',
  days: [1, 2, 3, 4, 5],
  start: '09:00',
  end: '18:00',
  holidays: [],
  workdays: [],
};

const BERLIN: BusinessCalendar = { ...SHANGHAI, timeZone: 'Europe/Berlin' };

const iso = (t: number) => new Date(t).toISOString();

describe('parseClockTime', () => {
  it.each([
    ['00:00', 0],
    ['09:00', 540],
    ['09:30', 570],
    ['18:00', 1080],
    ['23:59', 1439],
    ['24:00', 1440],
  ])('parses %s as %i minutes', (text, minutes) => {
    expect(parseClockTime(text)).toBe(minutes);
  });

  it.each(['9:00', '09:0', '0900', '09:60', '24:01', '25:00', '-1:00', ' 09:00', '09:00 ', 'ab:cd', '', '09:00:00'])(
    'rejects %j',
    (text) => {
      expect(parseClockTime(text)).toBeNull();
    },
  );
});

describe('Asia/Shanghai, Mon–Fri 09:00–18:00', () => {
  it('a 2h target started Friday 17:00 is due Monday 10:00', () => {
    // 2026-06-05 is a Friday.
    expect(iso(addBusinessMs(SHANGHAI, sh(2026, 6, 5, 17), 2 * H))).toBe(iso(sh(2026, 6, 8, 10)));
  });

  it('a span across the weekend counts only working hours', () => {
    expect(businessMsBetween(SHANGHAI, sh(2026, 6, 5, 17), sh(2026, 6, 8, 10))).toBe(2 * H);
    expect(businessMsBetween(SHANGHAI, sh(2026, 6, 5, 9), sh(2026, 6, 12, 9))).toBe(5 * 9 * H);
    expect(businessMsBetween(SHANGHAI, sh(2026, 6, 6, 0), sh(2026, 6, 8, 0))).toBe(0);
  });

  it('skips a holiday (2026-10-01, a Thursday)', () => {
    const cal = { ...SHANGHAI, holidays: ['2026-10-01', '2026-10-02'] };
    // Without the holidays a 2h target from Wednesday 17:00 is due Thursday 10:00 …
    expect(iso(addBusinessMs(SHANGHAI, sh(2026, 9, 30, 17), 2 * H))).toBe(iso(sh(2026, 10, 1, 10)));
    // … with them, the following Monday.
    expect(iso(addBusinessMs(cal, sh(2026, 9, 30, 17), 2 * H))).toBe(iso(sh(2026, 10, 5, 10)));
    expect(businessMsBetween(cal, sh(2026, 10, 1), sh(2026, 10, 2))).toBe(0);
    expect(businessMsBetween(cal, sh(2026, 9, 28), sh(2026, 10, 5))).toBe(3 * 9 * H);
    expect(isBusinessTime(cal, sh(2026, 10, 1, 10))).toBe(false);
    expect(isBusinessTime(SHANGHAI, sh(2026, 10, 1, 10))).toBe(true);
  });

  it('counts a make-up workday on a Saturday (调休)', () => {
    const cal = { ...SHANGHAI, workdays: ['2026-10-10'] }; // a Saturday
    expect(businessMsBetween(SHANGHAI, sh(2026, 10, 10), sh(2026, 10, 11))).toBe(0);
    expect(businessMsBetween(cal, sh(2026, 10, 10), sh(2026, 10, 11))).toBe(9 * H);
    expect(iso(addBusinessMs(cal, sh(2026, 10, 9, 17), 2 * H))).toBe(iso(sh(2026, 10, 10, 10)));
    expect(isBusinessTime(cal, sh(2026, 10, 10, 12))).toBe(true);
    expect(isBusinessTime(cal, sh(2026, 10, 11, 12))).toBe(false);
  });

  it('a date listed as both holiday and workday is a day off', () => {
    const cal = { ...SHANGHAI, holidays: ['2026-10-10'], workdays: ['2026-10-10'] };
    expect(businessMsBetween(cal, sh(2026, 10, 10), sh(2026, 10, 11))).toBe(0);
  });

  it('a start before opening counts from opening, after closing from the next opening', () => {
    expect(iso(addBusinessMs(SHANGHAI, sh(2026, 6, 8, 7, 30), H))).toBe(iso(sh(2026, 6, 8, 10)));
    expect(businessMsBetween(SHANGHAI, sh(2026, 6, 8, 7, 30), sh(2026, 6, 8, 10))).toBe(H);
    expect(iso(addBusinessMs(SHANGHAI, sh(2026, 6, 8, 19), H))).toBe(iso(sh(2026, 6, 9, 10)));
    expect(businessMsBetween(SHANGHAI, sh(2026, 6, 8, 19), sh(2026, 6, 9, 8))).toBe(0);
  });

  it('a target that ends exactly at closing time is due at closing, not the next morning', () => {
    expect(iso(addBusinessMs(SHANGHAI, sh(2026, 6, 8, 9), 9 * H))).toBe(iso(sh(2026, 6, 8, 18)));
    expect(iso(addBusinessMs(SHANGHAI, sh(2026, 6, 5, 9), 9 * H))).toBe(iso(sh(2026, 6, 5, 18)));
    expect(iso(addBusinessMs(SHANGHAI, sh(2026, 6, 5, 9), 9 * H + 1))).toBe(iso(sh(2026, 6, 8, 9) + 1));
  });

  it('knows working hours to the millisecond', () => {
    expect(isBusinessTime(SHANGHAI, sh(2026, 6, 8, 9))).toBe(true);
    expect(isBusinessTime(SHANGHAI, sh(2026, 6, 8, 18) - 1)).toBe(true);
    expect(isBusinessTime(SHANGHAI, sh(2026, 6, 8, 18))).toBe(false);
    expect(isBusinessTime(SHANGHAI, sh(2026, 6, 8, 9) - 1)).toBe(false);
    expect(isBusinessTime(SHANGHAI, sh(2026, 6, 6, 12))).toBe(false);
  });

  it('returns from for ms <= 0 and 0 for empty or reversed spans', () => {
    const sat = sh(2026, 6, 6, 12) + 123;
    expect(addBusinessMs(SHANGHAI, sat, 0)).toBe(sat);
    expect(addBusinessMs(SHANGHAI, sat, -5 * H)).toBe(sat);
    expect(businessMsBetween(SHANGHAI, sh(2026, 6, 8, 12), sh(2026, 6, 8, 12))).toBe(0);
    expect(businessMsBetween(SHANGHAI, sh(2026, 6, 8, 12), sh(2026, 6, 8, 10))).toBe(0);
  });

  it('is exact to the millisecond', () => {
    const from = sh(2026, 6, 8, 9) + 1;
    expect(addBusinessMs(SHANGHAI, from, 1)).toBe(from + 1);
    expect(businessMsBetween(SHANGHAI, from, sh(2026, 6, 9, 9) + 7)).toBe(9 * H - 1 + 7);
  });
});

describe('Europe/Berlin across DST', () => {
  it('gives 9h per working day around the spring change (2026-03-29) and the autumn one (2026-10-25)', () => {
    for (const [mo, d0] of [
      [3, 23],
      [10, 19],
    ] as const) {
      for (let d = d0; d < d0 + 12; d++) {
        const weekday = new Date(Date.UTC(2026, mo - 1, d)).getUTCDay();
        const expected = weekday === 0 || weekday === 6 ? 0 : 9 * H;
        expect(businessMsBetween(BERLIN, berlin(2026, mo, d), berlin(2026, mo, d + 1)), `2026-${mo}-${d}`).toBe(expected);
      }
    }
    // Friday 09:00 CET to Monday 09:00 CEST is 71 hours of real time but one working day.
    expect(businessMsBetween(BERLIN, berlin(2026, 3, 27, 9), berlin(2026, 3, 30, 9))).toBe(9 * H);
    expect(businessMsBetween(BERLIN, berlin(2026, 3, 23), berlin(2026, 4, 4))).toBe(10 * 9 * H);
  });

  it('a 2h target from Friday 17:00 CET is due Monday 10:00 CEST', () => {
    expect(iso(addBusinessMs(BERLIN, berlin(2026, 3, 27, 17), 2 * H))).toBe('2026-03-30T08:00:00.000Z');
    expect(iso(addBusinessMs(BERLIN, berlin(2026, 10, 23, 17), 2 * H))).toBe('2026-10-26T09:00:00.000Z');
  });

  it('counts the real length of windows that contain the change', () => {
    const night = (start: string, end: string): BusinessCalendar => ({ ...BERLIN, days: [7], start, end });
    // Spring: 02:00–03:00 does not exist, so 01:00–04:00 is 2 real hours and 02:30–04:00 one.
    expect(businessMsBetween(night('01:00', '04:00'), berlin(2026, 3, 29), berlin(2026, 3, 30))).toBe(2 * H);
    expect(businessMsBetween(night('02:30', '04:00'), berlin(2026, 3, 29), berlin(2026, 3, 30))).toBe(H);
    // Autumn: 02:00–03:00 happens twice, so 01:00–04:00 is 4 real hours.
    expect(businessMsBetween(night('01:00', '04:00'), berlin(2026, 10, 25), berlin(2026, 10, 26))).toBe(4 * H);
    // A boundary inside the repeated hour means its first occurrence: 02:30 CEST to 04:00 CET is 2.5 real hours.
    expect(businessMsBetween(night('02:30', '04:00'), berlin(2026, 10, 25), berlin(2026, 10, 26))).toBe(2.5 * H);
    expect(iso(addBusinessMs(night('02:30', '04:00'), berlin(2026, 10, 24, 12), 1))).toBe('2026-10-25T00:30:00.001Z');
    // A 24h local day is 23 real hours in spring and 25 in autumn.
    const allDay = { ...BERLIN, days: [7], start: '00:00', end: '24:00' };
    expect(businessMsBetween(allDay, berlin(2026, 3, 29), berlin(2026, 3, 30))).toBe(23 * H);
    expect(businessMsBetween(allDay, berlin(2026, 10, 25), berlin(2026, 10, 26))).toBe(25 * H);
  });
});

describe('time zone history oddities', () => {
  it('Pacific/Apia skipped 2011-12-30 entirely: that working day has no hours', () => {
    const apia: BusinessCalendar = { ...SHANGHAI, timeZone: 'Pacific/Apia', days: [1, 2, 3, 4, 5, 6, 7] };
    // Local 2011-12-29 00:00 (UTC−10) to 2012-01-01 00:00 (UTC+14): 48 real hours, two local days.
    const from = Date.UTC(2011, 11, 29, 10);
    const to = Date.UTC(2011, 11, 31, 10);
    expect(businessMsBetween(apia, from, to)).toBe(2 * 9 * H);
    expect(businessMsBetween({ ...apia, start: '00:00', end: '24:00' }, from, to)).toBe(48 * H);
    // Thursday 17:00 plus 2h lands on Saturday 10:00, local time.
    expect(iso(addBusinessMs(apia, Date.UTC(2011, 11, 30, 3), 2 * H))).toBe('2011-12-30T20:00:00.000Z');
  });

  it('America/St_Johns fell back across midnight (2010-11-07 00:01 → Saturday 23:01)', () => {
    const sunday: BusinessCalendar = { ...SHANGHAI, timeZone: 'America/St_Johns', days: [7], start: '00:00', end: '24:00' };
    // Sunday begins at 02:30Z, then the wall clock returns to Saturday 23:01 for an hour; that hour is Sunday's.
    expect(isBusinessTime(sunday, Date.UTC(2010, 10, 7, 2, 29))).toBe(false);
    expect(isBusinessTime(sunday, Date.UTC(2010, 10, 7, 2, 40))).toBe(true);
    expect(businessMsBetween(sunday, Date.UTC(2010, 10, 7, 2), Date.UTC(2010, 10, 7, 2, 40))).toBe(10 * MIN);
    expect(businessMsBetween(sunday, Date.UTC(2010, 10, 6), Date.UTC(2010, 10, 9))).toBe(25 * H);
  });
});

describe("end '24:00'", () => {
  const EVENING: BusinessCalendar = { ...SHANGHAI, start: '18:00', end: '24:00' };

  it('runs the window up to midnight', () => {
    expect(businessMsBetween(EVENING, sh(2026, 6, 8), sh(2026, 6, 9))).toBe(6 * H);
    expect(iso(addBusinessMs(EVENING, sh(2026, 6, 5, 18), 6 * H))).toBe(iso(sh(2026, 6, 6)));
    expect(iso(addBusinessMs(EVENING, sh(2026, 6, 5, 23), 2 * H))).toBe(iso(sh(2026, 6, 8, 19)));
    expect(isBusinessTime(EVENING, sh(2026, 6, 6) - 1)).toBe(true);
    expect(isBusinessTime(EVENING, sh(2026, 6, 6))).toBe(false);
  });

  it('00:00–24:00 every day is the plain clock', () => {
    const always = { ...SHANGHAI, days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00' };
    expect(businessMsBetween(always, sh(2026, 1, 1, 3, 17), sh(2026, 2, 3, 4, 5))).toBe(sh(2026, 2, 3, 4, 5) - sh(2026, 1, 1, 3, 17));
    expect(addBusinessMs(always, sh(2026, 6, 6, 12), 100 * H)).toBe(sh(2026, 6, 6, 12) + 100 * H);
  });
});

describe('calendars without working time', () => {
  const NONE: BusinessCalendar = { ...SHANGHAI, days: [] };

  it('never reaches a target when there are no working days', () => {
    expect(addBusinessMs(NONE, sh(2026, 6, 8, 10), 1)).toBe(Infinity);
    expect(addBusinessMs({ ...NONE, holidays: ['2026-06-08'] }, sh(2026, 6, 8, 10), H)).toBe(Infinity);
    expect(businessMsBetween(NONE, sh(2026, 1, 1), sh(2027, 1, 1))).toBe(0);
    expect(isBusinessTime(NONE, sh(2026, 6, 8, 10))).toBe(false);
  });

  it('uses make-up workdays alone, however far apart, and then gives up', () => {
    const cal = { ...NONE, workdays: ['2026-06-08', '2031-01-06'] };
    expect(iso(addBusinessMs(cal, sh(2026, 1, 1), H))).toBe(iso(sh(2026, 6, 8, 10)));
    expect(iso(addBusinessMs(cal, sh(2026, 1, 1), 10 * H))).toBe(iso(sh(2031, 1, 6, 10)));
    expect(addBusinessMs(cal, sh(2026, 1, 1), 18 * H + 1)).toBe(Infinity);
    expect(addBusinessMs(cal, sh(2031, 1, 7), 1)).toBe(Infinity);
    expect(businessMsBetween(cal, sh(2020, 1, 1), sh(2040, 1, 1))).toBe(18 * H);
  });

  it('returns Infinity for an infinite target', () => {
    expect(addBusinessMs(SHANGHAI, sh(2026, 6, 8), Infinity)).toBe(Infinity);
  });
});

describe('malformed calendars', () => {
  it.each([
    { start: '9:00' },
    { end: '25:00' },
    { start: '18:00', end: '09:00' },
    { start: '09:00', end: '09:00' },
    { days: [0] },
    { days: [8] },
    { holidays: ['2026-02-30'] },
    { workdays: ['2026/10/10'] },
    { timeZone: 'Mars/Olympus_Mons' },
  ])('rejects %j', (patch) => {
    const cal = { ...SHANGHAI, ...patch };
    expect(() => businessMsBetween(cal, sh(2026, 6, 8), sh(2026, 6, 9))).toThrow(RangeError);
    expect(() => addBusinessMs(cal, sh(2026, 6, 8), H)).toThrow(RangeError);
    expect(() => isBusinessTime(cal, sh(2026, 6, 8))).toThrow(RangeError);
  });

  it('rejects non-finite instants', () => {
    expect(() => businessMsBetween(SHANGHAI, Number.NaN, 0)).toThrow(RangeError);
    expect(() => addBusinessMs(SHANGHAI, Infinity, H)).toThrow(RangeError);
    expect(() => addBusinessMs(SHANGHAI, 0, Number.NaN)).toThrow(RangeError);
  });
});

describe('long spans', () => {
  /** Mon–Fri dates of a year minus the given holidays, counted with plain UTC date arithmetic. */
  function weekdaysIn(year: number, holidays: string[]): number {
    let n = 0;
    for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += DAY) {
      const wd = new Date(t).getUTCDay();
      if (wd !== 0 && wd !== 6 && !holidays.includes(new Date(t).toISOString().slice(0, 10))) n++;
    }
    return n;
  }

  const HOLIDAYS = ['2026-01-01', '2026-04-03', '2026-04-06', '2026-05-01', '2026-05-14', '2026-05-25', '2026-10-03', '2026-12-25'];

  it('counts a whole year exactly, DST included', () => {
    const cal = { ...BERLIN, holidays: HOLIDAYS };
    const expected = weekdaysIn(2026, HOLIDAYS) * 9 * H;
    expect(expected).toBe(254 * 9 * H);
    expect(businessMsBetween(cal, berlin(2026, 1, 1), Date.UTC(2026, 11, 31, 23))).toBe(expected);
    // The whole year's working time runs out at the close of its last working day, Thursday 2026-12-31.
    expect(iso(addBusinessMs(cal, berlin(2026, 1, 1), expected))).toBe(iso(berlin(2026, 12, 31, 18)));
  });
});

describe('properties', () => {
  const CALENDARS: BusinessCalendar[] = [
    {
      ...SHANGHAI,
      holidays: ['2026-10-01', '2026-10-02', '2026-10-05', '2026-10-06', '2026-10-07', '2027-02-16', '2027-02-17'],
      workdays: ['2026-09-27', '2026-10-10', '2027-02-20'],
    },
    { ...BERLIN, holidays: ['2026-12-25', '2026-12-24'] },
    { ...BERLIN, days: [1, 2, 3, 4, 5, 6, 7], start: '02:30', end: '03:30' }, // hits every DST change
    { timeZone: 'America/New_York', days: [1, 2, 3, 4], start: '08:30', end: '17:15', holidays: [], workdays: ['2026-11-07'] },
    { timeZone: 'America/Santiago', days: [6, 7], start: '00:00', end: '24:00', holidays: [], workdays: [] }, // DST at midnight
    { timeZone: 'Australia/Lord_Howe', days: [1, 3, 5], start: '01:00', end: '23:59', holidays: [], workdays: [] }, // 30-min DST
    { timeZone: 'Asia/Kathmandu', days: [7], start: '10:00', end: '14:45', holidays: [], workdays: [] },
  ];

  const calendar = fc.constantFrom(...CALENDARS);
  const instant = fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2028, 0, 1) });
  const target = fc.integer({ min: 1, max: 400 * H });

  it('addBusinessMs inverts businessMsBetween and returns the earliest such instant', () => {
    fc.assert(
      fc.property(calendar, instant, target, (cal, from, ms) => {
        const due = addBusinessMs(cal, from, ms);
        expect(Number.isInteger(due)).toBe(true);
        expect(due).toBeGreaterThan(from);
        expect(businessMsBetween(cal, from, due)).toBe(ms);
        expect(businessMsBetween(cal, from, due - 1)).toBe(ms - 1);
        expect(isBusinessTime(cal, due - 1)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('is monotonic and additive', () => {
    fc.assert(
      fc.property(calendar, instant, target, target, (cal, from, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(addBusinessMs(cal, from, lo)).toBeLessThanOrEqual(addBusinessMs(cal, from, hi));
        const [t1, t2] = [from + lo * 3, from + hi * 3];
        const whole = businessMsBetween(cal, from, t2);
        const first = businessMsBetween(cal, from, t1);
        expect(first).toBeLessThanOrEqual(whole);
        expect(first + businessMsBetween(cal, t1, t2)).toBe(whole);
        expect(whole).toBeLessThanOrEqual(t2 - from);
      }),
      { numRuns: 300 },
    );
  });

  it('isBusinessTime agrees with businessMsBetween', () => {
    fc.assert(
      fc.property(calendar, instant, (cal, at) => {
        expect(isBusinessTime(cal, at)).toBe(businessMsBetween(cal, at, at + 1) === 1);
      }),
      { numRuns: 300 },
    );
  });

  it('matches a fixed-offset reference for Asia/Shanghai', () => {
    const cal = CALENDARS[0] as BusinessCalendar;
    const start = parseClockTime(cal.start) as number;
    const end = parseClockTime(cal.end) as number;
    const reference = (from: number, to: number) => {
      let total = 0;
      for (let day = Math.floor((from + 8 * H) / DAY); day * DAY - 8 * H < to; day++) {
        const date = new Date(day * DAY);
        const ymd = date.toISOString().slice(0, 10);
        const working = !cal.holidays.includes(ymd) && (cal.workdays.includes(ymd) || cal.days.includes(date.getUTCDay() || 7));
        if (!working) continue;
        const ws = day * DAY + start * MIN - 8 * H;
        const we = day * DAY + end * MIN - 8 * H;
        total += Math.max(0, Math.min(we, to) - Math.max(ws, from));
      }
      return total;
    };
    const autumn = fc.integer({ min: sh(2026, 9, 1), max: sh(2026, 11, 1) });
    fc.assert(
      fc.property(autumn, fc.integer({ min: 0, max: 60 * DAY }), (from, span) => {
        expect(businessMsBetween(cal, from, from + span)).toBe(reference(from, from + span));
      }),
      { numRuns: 300 },
    );
  });

  it('a 24/7 calendar is the plain clock in any time zone', () => {
    const zones = ['Europe/Berlin', 'America/Santiago', 'America/Havana', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Asia/Kathmandu'];
    fc.assert(
      fc.property(fc.constantFrom(...zones), instant, fc.integer({ min: 0, max: 120 * DAY }), (timeZone, from, span) => {
        const cal: BusinessCalendar = { timeZone, days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', holidays: [], workdays: [] };
        expect(businessMsBetween(cal, from, from + span)).toBe(span);
        expect(addBusinessMs(cal, from, span)).toBe(from + span);
      }),
      { numRuns: 200 },
    );
  });
});
