import { describe, expect, it } from 'vitest';
import type { Level, Priority } from '../../src/flows/incident/model';
import { priorityFor } from '../../src/flows/policy/priority';
import { personRef } from '../support/policy';
import { report } from './fixtures';

/** DOMAIN.md §2, written out: impact × urgency → priority, and the key-user raise (never to P1). */
const TABLE: [impact: Level, urgency: Level, base: Priority, keyUser: Priority][] = [
  ['high', 'high', 'P1', 'P1'],
  ['high', 'medium', 'P2', 'P2'],
  ['high', 'low', 'P3', 'P2'],
  ['medium', 'high', 'P2', 'P2'],
  ['medium', 'medium', 'P3', 'P2'],
  ['medium', 'low', 'P4', 'P3'],
  ['low', 'high', 'P3', 'P2'],
  ['low', 'medium', 'P4', 'P3'],
  ['low', 'low', 'P4', 'P3'],
];

describe('priority matrix (DOMAIN.md §2)', () => {
  it('covers all nine cells', () => {
    expect(new Set(TABLE.map(([i, u]) => `${i}/${u}`)).size).toBe(9);
  });

  it.each(TABLE)('impact %s × urgency %s is %s', (impact, urgency, base) => {
    expect(priorityFor(impact, urgency, false)).toBe(base);
  });

  it.each(TABLE)('a key user reporting impact %s × urgency %s (base %s) gets %s', (impact, urgency, _base, raised) => {
    expect(priorityFor(impact, urgency, true)).toBe(raised);
  });

  it.each(TABLE)('a key user gets P1 only when the cell itself is P1 (impact %s × urgency %s)', (impact, urgency, base) => {
    expect(priorityFor(impact, urgency, true) === 'P1').toBe(base === 'P1');
  });

  it.each(TABLE)('a report of impact %s × urgency %s gets %s, %s from the key user', (impact, urgency, base, raised) => {
    expect(report({ impact, urgency }, { reporter: personRef('reporter.a') }).priority).toBe(base);
    expect(report({ impact, urgency }, { reporter: personRef('vip.user') }).priority).toBe(raised);
  });
});
