/**
 * Block Kit rendering limits that a person would notice: a card with many fields keeps every one
 * of them (Slack allows 10 per section), the SLA due times included.
 */
import { describe, expect, it } from 'vitest';
import { renderCard } from '../../src/adapters/slack/render';
import { buildIncidentCard } from '../../src/flows/messages/cards';
import { personRef, testPolicy } from '../support/policy';
import { report, run, as, cmd, at } from '../flows/fixtures';

describe('Slack card rendering', () => {
  it('keeps every field of a busy card, SLA due times included, across several sections', () => {
    const policy = testPolicy();
    let incident = report({ system: 'Payroll', location: 'HQ 3F' });
    incident = run(incident, cmd.accept, as('zhang.san'), at(1));
    incident = run(incident, { type: 'ReassignIncident', toTier: 'l1', toPerson: 'li.wei', reason: 'network' }, as('zhang.san'), at(2));
    incident = run(incident, cmd.resolve('replaced the cable'), as('li.wei'), at(30));
    incident = run(incident, cmd.confirm, { kind: 'person', person: personRef('reporter.a') }, at(31));
    incident = run(incident, cmd.rate(4), { kind: 'person', person: personRef('reporter.a') }, at(32));
    const card = buildIncidentCard(incident, 'queue:l1', null, { policy, locale: 'en', now: Date.parse(at(33)) });
    expect(card.fields.length).toBeGreaterThan(10);
    const { blocks, warnings } = renderCard(card);
    const sections = (blocks as { type: string; fields?: { text: string }[] }[]).filter((b) => b.type === 'section' && b.fields);
    expect(sections.length).toBe(2);
    expect(sections.every((s) => s.fields!.length <= 10)).toBe(true);
    const text = sections.flatMap((s) => s.fields!.map((f) => f.text)).join('\n');
    for (const f of card.fields) expect(text).toContain(f.label);
    expect(text).toContain('Response SLA');
    expect(text).toContain('Resolution SLA');
    expect(warnings).toEqual([]);
  });
});
