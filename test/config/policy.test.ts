import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env';
import { buildPolicy, loadPolicyFile, PolicyError } from '../../src/config/policy-schema';
import { testPolicyDoc } from '../support/policy';

function problemsOf(doc: unknown): string[] {
  try {
    buildPolicy(doc);
  } catch (err) {
    if (err instanceof PolicyError) return err.problems;
    throw err;
  }
  return [];
}

describe('the policy file', () => {
  it('ships a complete example that loads, with DOMAIN.md defaults', () => {
    const p = loadPolicyFile(join(import.meta.dirname, '..', '..', 'firebell.example.yaml'));
    expect(p.tiers.desk.members.length).toBeGreaterThan(0);
    expect(p.sla.targets.P1).toEqual({ responseMs: 15 * 60_000, resolutionMs: 4 * 3_600_000 });
    expect(p.sla.targets.P4).toEqual({ responseMs: 8 * 3_600_000, resolutionMs: 72 * 3_600_000 });
    expect(p.escalationMatrix.P2[0]).toEqual({ afterMs: 0, tier: 'l2', role: null });
    expect(p.autoCloseAfterMs).toBe(3 * 86_400_000);
    expect(p.approvalCategories).toEqual(['service_request']);
  });

  it('fills DOMAIN.md defaults for what a file leaves out', () => {
    const doc = testPolicyDoc();
    delete (doc as Record<string, unknown>).sla;
    delete (doc as Record<string, unknown>).escalation_matrix;
    const p = buildPolicy(doc);
    expect(p.sla.warnAt).toBe(0.75);
    expect(p.sla.targets.P3).toEqual({ responseMs: 2 * 3_600_000, resolutionMs: 24 * 3_600_000 });
    expect(p.escalationMatrix.P4.map((s) => s.afterMs)).toEqual([30 * 60_000, 4 * 3_600_000, 12 * 3_600_000, 2 * 86_400_000]);
  });

  it('names the exact field and what is wrong', () => {
    const doc = testPolicyDoc() as any;
    doc.tiers.l1.members.push('li.wie');
    doc.sla = { targets: { P2: { response: 'soon', resolution: '8h' } } };
    doc.locale = 'fr';
    doc.timeZone = 'Mars/Olympus';
    doc.escalation_matrix = { P3: [{ after: '30m' }] };
    doc.people['dup.person'] = { name: 'Dup', slack: 'U0L1' };
    const problems = problemsOf(doc);
    expect(problems).toEqual(
      expect.arrayContaining([
        'tiers.l1.members[2]: unknown person "li.wie" (not under people:)',
        'sla.targets.P2.response: expected a duration such as 30s, 15m, 4h or 2d',
        expect.stringMatching(/^locale: /),
        'timeZone: unknown IANA time zone',
        'escalation_matrix.P3[0]: a step needs a tier or a role',
        'people.dup.person.slack: account already used by "li.wei"',
      ]),
    );
  });

  it('reads a business-hours calendar, in the policy time zone unless it names its own', () => {
    const doc = testPolicyDoc() as any;
    doc.sla = {
      business_hours_for: ['P3', 'P4'],
      business_hours: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '08:30', end: '17:30', holidays: ['2026-10-01'], workdays: ['2026-10-11'] },
    };
    const p = buildPolicy(doc);
    expect(p.sla.businessHoursFor).toEqual(['P3', 'P4']);
    expect(p.sla.calendar).toEqual({
      timeZone: 'Asia/Shanghai',
      days: [1, 2, 3, 4, 5, 6],
      start: '08:30',
      end: '17:30',
      holidays: ['2026-10-01'],
      workdays: ['2026-10-11'],
    });
    doc.sla.business_hours.time_zone = 'Europe/Berlin';
    expect(buildPolicy(doc).sla.calendar?.timeZone).toBe('Europe/Berlin');
  });

  it('names what is wrong with a calendar', () => {
    const doc = testPolicyDoc() as any;
    doc.sla = {
      business_hours_for: ['P3'],
      business_hours: { days: ['monday'], start: '9am', end: '18:00', holidays: ['2026-02-30'], time_zone: 'Moon/Base' },
    };
    expect(problemsOf(doc)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^sla\.business_hours\.days\[0\]: /),
        'sla.business_hours.start: expected a time of day such as 09:00 or 18:30',
        'sla.business_hours.holidays[0]: not a calendar date',
        'sla.business_hours.time_zone: unknown IANA time zone',
      ]),
    );
    const none = testPolicyDoc() as any;
    none.sla = { business_hours_for: ['P4'] };
    expect(problemsOf(none)).toEqual(['sla.business_hours: business_hours_for needs a business_hours calendar (days, start, end, holidays)']);
    const backwards = testPolicyDoc() as any;
    backwards.sla = { business_hours_for: ['P4'], business_hours: { start: '18:00', end: '09:00' } };
    expect(problemsOf(backwards)).toEqual(['sla.business_hours.end: start must be before end']);
  });

  it('refuses unknown keys (a typo must not silently fall back to a default)', () => {
    const doc = testPolicyDoc() as any;
    doc.auto_close_afer = '1d';
    expect(problemsOf(doc)).toEqual([expect.stringContaining('auto_close_afer')]);
  });

  it('reports unreadable files and broken YAML with the path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fb-policy-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'tiers: [unclosed');
    expect(() => loadPolicyFile(bad)).toThrow(new RegExp(`${bad} is not valid YAML`));
    expect(() => loadPolicyFile(join(dir, 'missing.yaml'))).toThrow(/cannot read policy file/);
  });
});

describe('the environment', () => {
  it('applies defaults and treats empty values as unset', () => {
    const env = loadEnv({ DATABASE_URL: '', PORT: '8080' });
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.PORT).toBe(8080);
    expect(env.FIREBELL_DATA_DIR).toBe('./data');
  });

  it('names the variable that is missing or wrong', () => {
    expect(() => loadEnv({ SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(/SLACK_SIGNING_SECRET: required with SLACK_BOT_TOKEN/);
    expect(() => loadEnv({ SLACK_SIGNING_SECRET: 's' })).toThrow(/SLACK_BOT_TOKEN: required/);
    expect(() => loadEnv({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(loadEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }).SLACK_APP_TOKEN).toBe('xapp-1');
  });
});
