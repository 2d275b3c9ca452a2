/**
 * Card actions typed instead of clicked (`accept INC-12`, `升级 INC-12 <原因>`): the same rules as
 * the buttons, over the real dispatcher on an embedded store. Chats without buttons (DingTalk
 * without a card template) and keyboard people depend on them.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgliteStore } from '../../src/db';
import { createDispatcher } from '../../src/flows/dispatch';
import { createInteractions, type InteractionContext, type Reply } from '../../src/flows/interactions';
import { systemClock, type IncidentStore } from '../../src/flows/ports';
import { silentLogger } from '../../src/logger';
import { personRef, testPolicy, type TestPersonKey } from '../support/policy';

const ctx: InteractionContext = { platform: 'console', channel: 'desk', commandName: '/incident' };
const textOf = (r: Reply) => (r.kind === 'text' ? r.text : '');

describe('typed card actions', () => {
  let store: IncidentStore;
  let interactions: ReturnType<typeof createInteractions>;
  const say = (key: TestPersonKey, line: string) => interactions.command(personRef(key, 'console'), line, ctx);

  beforeAll(async () => {
    store = await createPgliteStore(null);
    const dispatcher = createDispatcher({ store, clock: systemClock(), policy: testPolicy(), platforms: ['console'], newId: randomUUID, logger: silentLogger });
    interactions = createInteractions(dispatcher);
  });
  afterAll(async () => store.close());

  it('walks a ticket from report to rating by typing, with the buttons’ rules', async () => {
    await say('reporter.a', 'VPN drops every few minutes');
    const incident = (await store.list({ limit: 1 }))[0]!;
    const n = incident.number;

    // Only the desk may accept a new ticket: the same refusal as the button's.
    const refused = await say('reporter.a', `accept ${n}`);
    expect(refused).toMatchObject({ kind: 'text', refused: true });
    expect(textOf(refused)).toContain('Service desk');
    expect((await store.get(incident.id))!.version).toBe(incident.version);

    expect(textOf(await say('zhang.san', `受理 ${n}`))).toContain(n);
    expect((await store.get(incident.id))!).toMatchObject({ status: 'in_progress', assignee: { id: 'zhang.san' } });

    // Without its reason, escalate answers with the form the button would open.
    const form = await say('zhang.san', `escalate ${n}`);
    expect(form).toMatchObject({ kind: 'form', form: { id: 'incident.escalate' }, context: { incidentId: incident.id } });
    await say('zhang.san', `升级 ${n} 需要网络组的权限`);
    const escalated = (await store.get(incident.id))!;
    expect(escalated.tier).toBe('l1');
    const timeline = await store.timeline(incident.id);
    expect(timeline.at(-1)!.event).toMatchObject({ type: 'IncidentEscalated', reason: '需要网络组的权限' });

    await say('li.wei', `accept ${n}`);
    await say('li.wei', `resolve ${n} config_change MTU set back to 1400`);
    expect((await store.get(incident.id))!).toMatchObject({ status: 'resolved', resolutionCode: 'config_change', resolutionNote: 'MTU set back to 1400' });

    await say('reporter.a', `确认 ${n}`);
    const badScore = await say('reporter.a', `rate ${n} 9`);
    expect(badScore).toMatchObject({ kind: 'text', refused: true });
    expect(textOf(badScore)).toContain('1 to 5');
    await say('reporter.a', `rate ${n} 5 quick and clear`);
    expect((await store.get(incident.id))!).toMatchObject({ status: 'closed', rating: 5 });
  });

  it('reassigns to a tier or to a person in their tier, and declares and downgrades a major incident by typing', async () => {
    await say('reporter.a', 'Mail is slow');
    const incident = (await store.list({ limit: 1 }))[0]!;
    await say('zhang.san', `accept ${incident.number}`);
    await say('zhang.san', `转派 ${incident.number} wang.wu 需要 L2 看日志`);
    expect((await store.get(incident.id))!).toMatchObject({ tier: 'l2', assignee: { id: 'wang.wu' } });
    await say('zhang.san', `重大 ${incident.number}`);
    expect((await store.get(incident.id))!.major).not.toBeNull();
    const asked = await say('chen.jing', `downgrade ${incident.number}`);
    expect(asked).toMatchObject({ kind: 'form', form: { id: 'major.downgrade' } });
    await say('chen.jing', `降级 ${incident.number} 只影响一个人`);
    expect((await store.timeline(incident.id)).at(-1)!.event).toMatchObject({ type: 'MajorIncidentDowngraded', reason: '只影响一个人' });
  });

  it('a resolve note without a code is resolved as fixed; an unknown number and a stale action are refused', async () => {
    await say('reporter.a', 'Printer jams on 3F');
    const incident = (await store.list({ limit: 1 }))[0]!;
    await say('zhang.san', `accept ${incident.number}`);
    await say('zhang.san', `解决 ${incident.number} 更换了硒鼓`);
    expect((await store.get(incident.id))!).toMatchObject({ resolutionCode: 'fixed', resolutionNote: '更换了硒鼓' });
    expect(await say('zhang.san', 'accept INC-999')).toMatchObject({ kind: 'text', refused: true });
    // Accepting what is resolved: refused, nothing changes.
    const before = (await store.get(incident.id))!.version;
    expect(await say('zhang.san', `accept ${incident.number}`)).toMatchObject({ kind: 'text', refused: true });
    expect((await store.get(incident.id))!.version).toBe(before);
  });
});
