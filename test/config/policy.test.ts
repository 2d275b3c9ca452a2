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
