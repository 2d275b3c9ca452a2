import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPolicy, testPolicyDoc } from '../support/policy';
import { buildPolicy } from '../../src/config/policy-schema';
import { SIGNING_SECRET, startSlackBot, type SlackBotHarness } from '../support/slack-bot';
import { signSlack } from '../support/slack';

const REPORTER = 'U0REP';
const DESK = 'U0DESK';
const L1 = 'U0L1';
const OUTSIDER = 'U0OUTSIDER';

describe('Slack end to end: report → accept → escalate → resolve → reopen → confirm → rate', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(testPolicy());
  });
  afterAll(async () => {
    await h?.close();
  });

  it('walks one incident through its whole life across two tiers', async () => {
    const { fake, slack } = h;
    fake.addChannel({ id: 'C0GENERAL', name: 'general', members: [REPORTER, DESK, L1, OUTSIDER] });

    // Report first, details later: the reporter gets the number and priority at once.
    const reported = await slack.command(REPORTER, 'VPN drops every few minutes', { channel: 'C0GENERAL' });
    expect(reported.status).toBe(200);
    await fake.waitFor((f) => f.responses.some((r) => r.id === reported.responseId));
    const receipt = fake.responses.find((r) => r.id === reported.responseId)!.body;
    expect(receipt.response_type).toBe('ephemeral');
    expect(receipt.text).toMatch(/INC-\d+/);
    expect(receipt.text).toContain('P3');
    const number = /INC-\d+/.exec(receipt.text)![0];

    // The card appears in the desk queue with the buttons a new ticket allows.
    await fake.waitFor(() => h.messagesIn('C0DESK').length === 1);
    const deskCard = h.messagesIn('C0DESK')[0]!;
    expect(h.textOf(deskCard)).toContain(number);
    expect(h.buttons(deskCard).map((b) => b.actionId)).toEqual(['incident.accept', 'incident.resolve', 'incident.reject', 'incident.declare_major']);
    // …and the receipt waits in the reporter's DMs.
    await fake.waitFor(() => h.messagesIn(REPORTER).some((m) => (m.text ?? '').includes(number)));

    // An outsider cannot accept: told why, privately; nothing changes.
    const before = await h.bot.store.getByNumber(number);
    const refused = await h.press(OUTSIDER, deskCard, 'incident.accept');
    await fake.waitFor((f) => f.responses.some((r) => r.id === refused.responseId));
    const refusal = fake.responses.find((r) => r.id === refused.responseId)!.body;
    expect(refusal.response_type).toBe('ephemeral');
    expect(refusal.text).toContain('Only members of Service desk');
    expect((await h.bot.store.getByNumber(number))!.version).toBe(before!.version);

    // The desk accepts: the card is updated in place.
    await h.press(DESK, deskCard, 'incident.accept');
    await fake.waitFor(() => h.textOf(fake.messages.get(`C0DESK:${deskCard.ts}`)).includes('Accepted by Zhang San'));
    const accepted = fake.messages.get(`C0DESK:${deskCard.ts}`)!;
    expect(h.buttons(accepted).map((b) => b.actionId)).toEqual(['incident.resolve', 'incident.escalate', 'incident.hold', 'incident.reassign', 'incident.declare_major']);
    await fake.waitFor(() => h.messagesIn(REPORTER).some((m) => (m.text ?? '').includes('has taken your incident')));

    // Escalate asks for a reason in a modal, then moves the ticket to L1's queue.
    const esc = await h.press(DESK, accepted, 'incident.escalate');
    await fake.waitFor(() => slack.openedView(esc.triggerId) !== undefined);
    const escView = slack.openedView(esc.triggerId);
    expect(escView.title.text).toContain('Escalate');
    const submitted = await slack.submitView(DESK, {
      callbackId: escView.callback_id,
      privateMetadata: escView.private_metadata,
      values: { reason: { reason: { type: 'plain_text_input', value: 'Needs network access the desk does not have' } } },
    });
    expect(submitted.status).toBe(200);
    await fake.waitFor(() => h.messagesIn('C0L1').length === 1);
    const l1Card = h.messagesIn('C0L1')[0]!;
    expect(h.buttons(l1Card)[0]!.actionId).toBe('incident.accept');
    // The desk card no longer offers buttons: it says where the ticket went.
    await fake.waitFor(() => h.textOf(fake.messages.get(`C0DESK:${deskCard.ts}`)).includes('Moved to L1 engineers'));
    expect(h.buttons(fake.messages.get(`C0DESK:${deskCard.ts}`)!)).toEqual([]);

    // L1 accepts and resolves with a code and a note.
    await h.press(L1, l1Card, 'incident.accept');
    await fake.waitFor(() => h.textOf(fake.messages.get(`C0L1:${l1Card.ts}`)).includes('Accepted by Li Wei'));
    const l1Accepted = fake.messages.get(`C0L1:${l1Card.ts}`)!;
    const res = await h.press(L1, l1Accepted, 'incident.resolve');
    await fake.waitFor(() => slack.openedView(res.triggerId) !== undefined);
    const resView = slack.openedView(res.triggerId);
    await slack.submitView(L1, {
      callbackId: resView.callback_id,
      privateMetadata: resView.private_metadata,
      values: {
        code: { code: { type: 'static_select', selected_option: { value: 'config_change', text: { type: 'plain_text', text: 'x' } } } },
        note: { note: { type: 'plain_text_input', value: 'MTU on the VPN concentrator set back to 1400' } },
      },
    });

    // The reporter is asked to confirm or reopen.
    await fake.waitFor(() => h.messagesIn(REPORTER).some((m) => h.buttons(m).some((b) => b.actionId === 'incident.confirm')));
    let reporterCard = h.messagesIn(REPORTER).find((m) => h.buttons(m).some((b) => b.actionId === 'incident.confirm'))!;
    expect(h.textOf(reporterCard)).toContain('MTU on the VPN concentrator');

    // "Not fixed": reopened to the same assignee.
    const reopen = await h.press(REPORTER, reporterCard, 'incident.reopen');
    await fake.waitFor(() => slack.openedView(reopen.triggerId) !== undefined);
    const reopenView = slack.openedView(reopen.triggerId);
    await slack.submitView(REPORTER, {
      callbackId: reopenView.callback_id,
      privateMetadata: reopenView.private_metadata,
      values: { reason: { reason: { type: 'plain_text_input', value: 'Still drops after lunch' } } },
    });
    await fake.waitFor(() => h.textOf(fake.messages.get(`C0L1:${l1Card.ts}`)).includes('Reopened by Reporter A'));
    const reopened = await h.bot.store.getByNumber(number);
    expect(reopened!.status).toBe('in_progress');
    expect(reopened!.assignee!.id).toBe('li.wei');

    // Resolved again, then confirmed and rated.
    const res2 = await h.press(L1, fake.messages.get(`C0L1:${l1Card.ts}`)!, 'incident.resolve');
    await fake.waitFor(() => slack.openedView(res2.triggerId) !== undefined);
    const res2View = slack.openedView(res2.triggerId);
    await slack.submitView(L1, {
      callbackId: res2View.callback_id,
      privateMetadata: res2View.private_metadata,
      values: {
        code: { code: { type: 'static_select', selected_option: { value: 'fixed', text: { type: 'plain_text', text: 'x' } } } },
        note: { note: { type: 'plain_text_input', value: 'Replaced the flapping uplink' } },
      },
    });
    await fake.waitFor(() => h.textOf(fake.messages.get(`${reporterCard.channel}:${reporterCard.ts}`)).includes('Replaced the flapping uplink'));
    reporterCard = fake.messages.get(`${reporterCard.channel}:${reporterCard.ts}`)!;
    await h.press(REPORTER, reporterCard, 'incident.confirm');
    await fake.waitFor(() => h.buttons(fake.messages.get(`${reporterCard.channel}:${reporterCard.ts}`)!).some((b) => b.actionId.startsWith('incident.rate')));
    reporterCard = fake.messages.get(`${reporterCard.channel}:${reporterCard.ts}`)!;
    expect(h.buttons(reporterCard).map((b) => b.text)).toEqual(['1 ★', '2 ★', '3 ★', '4 ★', '5 ★']);
    const five = h.buttons(reporterCard).find((b) => b.text === '5 ★')!;
    await slack.click(REPORTER, { actionId: five.actionId, value: five.value, channel: reporterCard.channel, messageTs: reporterCard.ts });
    await fake.waitFor(() => h.textOf(fake.messages.get(`${reporterCard.channel}:${reporterCard.ts}`)).includes('5/5'));

    const closed = (await h.bot.store.getByNumber(number))!;
    expect(closed.status).toBe('closed');
    expect(closed.rating).toBe(5);
    expect(closed.owner!.id).toBe('zhang.san');
    expect(closed.assignee!.id).toBe('li.wei');
    expect(closed.resolverTier).toBe('l1');
    const timeline = await h.bot.store.timeline(closed.id);
    expect(timeline.map((e) => e.event.type)).toEqual([
      'IncidentReported',
      'IncidentAccepted',
      'IncidentEscalated',
      'IncidentAccepted',
      'IncidentResolved',
      'IncidentReopened',
      'IncidentResolved',
      'ResolutionConfirmed',
      'IncidentRated',
    ]);
    expect(timeline.every((e) => e.platform === 'slack')).toBe(true);
    expect(timeline.map((e) => (e.actor.kind === 'person' ? e.actor.person.id : 'system'))).toEqual([
      'slack:U0REP'.replace('slack:U0REP', 'reporter.a'),
      'zhang.san',
      'zhang.san',
      'li.wei',
      'li.wei',
      'reporter.a',
      'li.wei',
      'reporter.a',
      'reporter.a',
    ]);
    // Every status change reached the reporter by DM.
    const dms = h.messagesIn(REPORTER).map((m) => m.text ?? '').join('\n');
    expect(dms).toContain('escalated to L1 engineers');
    expect(dms).toContain('Li Wei (L1 engineers) has taken your incident');
  });

  it('opens the report modal for a bare /incident and files the report it submits', async () => {
    const { fake, slack } = h;
    const cmd = await slack.command('U0VIP', '', { channel: 'C0GENERAL' });
    await fake.waitFor(() => slack.openedView(cmd.triggerId) !== undefined);
    const view = slack.openedView(cmd.triggerId);
    expect(view.blocks.map((b: { block_id: string }) => b.block_id)).toEqual(['title', 'description', 'category', 'impact', 'urgency', 'system', 'location']);
    const sel = (field: string, value: string) => ({ [field]: { type: 'static_select', selected_option: { value, text: { type: 'plain_text', text: value } } } });
    const ok = await slack.submitView('U0VIP', {
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: {
        title: { title: { type: 'plain_text_input', value: 'Payroll export fails' } },
        description: { description: { type: 'plain_text_input', value: 'Error 500 on export since 9:00' } },
        category: sel('category', 'fault'),
        impact: sel('impact', 'medium'),
        urgency: sel('urgency', 'high'),
        system: { system: { type: 'plain_text_input', value: 'Payroll' } },
        location: { location: { type: 'plain_text_input', value: null } },
      },
    });
    expect(ok.status).toBe(200);
    // medium × high = P2; the key user stays at P2 (raised one level, but P2 → P1 never happens automatically)… 
    // VIP is a key user: P2 would become P1 only by a person's decision.
    await fake.waitFor(() => h.messagesIn('U0VIP').some((m) => (m.text ?? '').includes('Payroll export fails')));
    const incidents = await h.bot.store.list({ involving: 'vip.user', limit: 5 });
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.priority).toBe('P2');
    expect(incidents[0]!.system).toBe('Payroll');
  });

  it('shows form problems inside the modal and changes nothing', async () => {
    const { fake, slack } = h;
    const r = await slack.command(REPORTER, 'Printer on floor 3 jams', { channel: 'C0GENERAL' });
    await fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId));
    const number = /INC-\d+/.exec(fake.responses.find((x) => x.id === r.responseId)!.body.text)![0];
    await fake.waitFor(() => h.messagesIn('C0DESK').some((m) => h.textOf(m).includes(number)));
    const card = h.messagesIn('C0DESK').find((m) => h.textOf(m).includes(number))!;
    await h.press(DESK, card, 'incident.accept');
    await fake.waitFor(() => h.textOf(fake.messages.get(`C0DESK:${card.ts}`)).includes('Accepted by'));
    const res = await h.press(DESK, fake.messages.get(`C0DESK:${card.ts}`)!, 'incident.resolve');
    await fake.waitFor(() => slack.openedView(res.triggerId) !== undefined);
    const view = slack.openedView(res.triggerId);
    const answer = await slack.submitView(DESK, {
      callbackId: view.callback_id,
      privateMetadata: view.private_metadata,
      values: {
        code: { code: { type: 'static_select', selected_option: { value: 'fixed', text: { type: 'plain_text', text: 'x' } } } },
        note: { note: { type: 'plain_text_input', value: '   ' } },
      },
    });
    expect(JSON.parse(answer.body)).toEqual({ response_action: 'errors', errors: { note: expect.stringContaining('resolution note') } });
    expect((await h.bot.store.getByNumber(number))!.status).toBe('in_progress');
  });

  it('answers malformed commands and unknown incidents privately', async () => {
    const { fake, slack } = h;
    const bad = await slack.command(REPORTER, 'status INC-12x', { channel: 'C0GENERAL' });
    const unknown = await slack.command(REPORTER, 'status INC-999999', { channel: 'C0GENERAL' });
    const help = await slack.command(REPORTER, 'help', { channel: 'C0GENERAL' });
    await fake.waitFor((f) => [bad, unknown, help].every((c) => f.responses.some((r) => r.id === c.responseId)));
    const body = (c: { responseId: string }) => fake.responses.find((r) => r.id === c.responseId)!.body;
    expect(body(bad).text).toContain('is not an incident number');
    expect(body(unknown).text).toContain('cannot find incident INC-999999');
    expect(body(help).text).toContain('/incident list');
    expect([bad, unknown, help].every((c) => body(c).response_type === 'ephemeral')).toBe(true);
  });

  it('refuses a stale card and shows the current state', async () => {
    const { fake, slack } = h;
    const r = await slack.command(REPORTER, 'Badge reader offline at gate B', { channel: 'C0GENERAL' });
    await fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId));
    const number = /INC-\d+/.exec(fake.responses.find((x) => x.id === r.responseId)!.body.text)![0];
    await fake.waitFor(() => h.messagesIn('C0DESK').some((m) => h.textOf(m).includes(number)));
    const card = h.messagesIn('C0DESK').find((m) => h.textOf(m).includes(number))!;
    const staleResolve = h.buttons(card).find((b) => b.actionId === 'incident.resolve')!;
    await h.press(DESK, card, 'incident.accept');
    await fake.waitFor(() => h.textOf(fake.messages.get(`C0DESK:${card.ts}`)).includes('Accepted by'));
    // The old card's Resolve button carries version 1; the incident is at version 2 now.
    const click = await slack.click(DESK, { actionId: 'incident.resolve', value: staleResolve.value, channel: 'C0DESK', messageTs: card.ts });
    await fake.waitFor((f) => f.responses.some((x) => x.id === click.responseId));
    expect(fake.responses.find((x) => x.id === click.responseId)!.body.text).toContain('out of date');
    expect(slack.openedView(click.triggerId)).toBeUndefined();
  });

  it('processes a duplicated delivery (same trigger id) once', async () => {
    const { fake, slack } = h;
    const count = async () => (await h.bot.store.list({ involving: 'reporter.a', limit: 100 })).length;
    const before = await count();
    const first = await slack.command(REPORTER, 'Shared drive is read-only', { channel: 'C0GENERAL', triggerId: '111.222.dupe' });
    const second = await slack.command(REPORTER, 'Shared drive is read-only', { channel: 'C0GENERAL', triggerId: '111.222.dupe' });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    // Both are acknowledged before the dedupe claim, so either delivery may be the one processed.
    const answered = () => fake.responses.filter((x) => x.id === first.responseId || x.id === second.responseId);
    await fake.waitFor(() => answered().length > 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(answered()).toHaveLength(1);
    expect(await count()).toBe(before + 1);
  });

  it('refuses forged and stale signatures with 401 and stores nothing', async () => {
    const { fake, slack } = h;
    await h.bot.scheduler.flush();
    const callsBefore = fake.calls.length;
    const count = async () => (await h.bot.store.list({ limit: 1000 })).length;
    const before = await count();
    const forged = await slack.command(REPORTER, 'forged report', { badSignature: true });
    const old = await slack.command(REPORTER, 'old report', { ts: Math.floor(Date.now() / 1000) - 5 * 60 - 5 });
    const body = 'command=%2Fincident&text=unsigned&user_id=U0REP&trigger_id=1.2.3';
    const unsigned = await slack.raw(body, { 'Content-Type': 'application/x-www-form-urlencoded' });
    const wrongBody = await slack.raw(`${body}x`, { 'Content-Type': 'application/x-www-form-urlencoded', ...signSlack(SIGNING_SECRET, body) });
    expect([forged.status, old.status, unsigned.status, wrongBody.status]).toEqual([401, 401, 401, 401]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await count()).toBe(before);
    expect(fake.calls.length).toBe(callsBefore);
    expect(JSON.stringify(fake.calls)).not.toMatch(/forged report|old report|unsigned/);
  });
});

describe('Slack: 20 engineers press Accept on one card at once', () => {
  let h: SlackBotHarness;
  const desk = Array.from({ length: 20 }, (_, i) => `desk.${String(i + 1).padStart(2, '0')}`);
  beforeAll(async () => {
    const doc = testPolicyDoc();
    for (const key of desk) (doc.people as Record<string, { name: string; slack: string }>)[key] = { name: `Agent ${key.slice(5)}`, slack: `U0D${key.slice(5)}` };
    doc.tiers.desk.members = desk;
    h = await startSlackBot(buildPolicy(doc));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('gives exactly one assignee and 19 private refusals naming the winner', async () => {
    const { fake, slack } = h;
    const r = await slack.command('U0REP', 'Email delayed for everyone', { channel: 'C0GENERAL' });
    await fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId));
    await fake.waitFor(() => h.messagesIn('C0DESK').length === 1);
    const card = h.messagesIn('C0DESK')[0]!;
    const clicks = await Promise.all(desk.map((key) => h.press(`U0D${key.slice(5)}`, card, 'incident.accept')));
    expect(clicks.every((c) => c.status === 200)).toBe(true);
    await fake.waitFor((f) => clicks.every((c) => f.responses.some((x) => x.id === c.responseId)), 10_000);
    const answers = clicks.map((c) => fake.responses.find((x) => x.id === c.responseId)!.body);
    const incident = (await h.bot.store.list({ limit: 5 }))[0]!;
    expect(incident.status).toBe('in_progress');
    const winner = incident.assignee!.name;
    const won = answers.filter((a) => a.text.startsWith('You accepted'));
    const lost = answers.filter((a) => a.text.includes(`already accepted by ${winner}`));
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(19);
    expect(answers.every((a) => a.response_type === 'ephemeral')).toBe(true);
    const accepts = (await h.bot.store.timeline(incident.id)).filter((e) => e.event.type === 'IncidentAccepted');
    expect(accepts).toHaveLength(1);
    expect(incident.version).toBe(2);
  });
});

describe('Slack: mentions and direct messages (Events API)', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(testPolicy());
  });
  afterAll(async () => {
    await h?.close();
  });

  it('files a report written to the bot in its DM, and processes Slack retries of that event once', async () => {
    const { fake, slack } = h;
    const event = { type: 'message', channel_type: 'im', channel: 'DU0REP', user: 'U0REP', text: 'Laptop will not boot', ts: '1700000100.000100' };
    const first = await slack.event(event, { eventId: 'Ev0DM1' });
    // Slack redelivers when the first attempt looked slow: same event id, X-Slack-Retry-Num set.
    const retry1 = await slack.event(event, { eventId: 'Ev0DM1', retryNum: 1, retryReason: 'http_timeout' });
    const retry2 = await slack.event(event, { eventId: 'Ev0DM1', retryNum: 2, retryReason: 'http_timeout' });
    expect([first.status, retry1.status, retry2.status]).toEqual([200, 200, 200]);
    await fake.waitFor(() => h.messagesIn('C0DESK').length === 1);
    await h.bot.scheduler.flush();
    const incidents = await h.bot.store.list({ involving: 'reporter.a', limit: 10 });
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.title).toBe('Laptop will not boot');
    const replies = fake.callsTo('chat.postMessage').filter((c) => c.args.channel === 'DU0REP' && String(c.args.text).startsWith('Received'));
    expect(replies).toHaveLength(1);
  });

  it('answers a mention in the thread it was asked in', async () => {
    const { fake, slack } = h;
    await slack.event({ type: 'app_mention', channel: 'C0GENERAL', user: 'U0L1', text: `<@${fake.botUserId}> list`, ts: '1700000200.000100' });
    await fake.waitFor((f) => f.callsTo('chat.postMessage').some((c) => c.args.channel === 'C0GENERAL' && c.args.thread_ts === '1700000200.000100'));
    const reply = fake.callsTo('chat.postMessage').find((c) => c.args.thread_ts === '1700000200.000100')!;
    expect(reply.args.text).toContain('Open in your queues (L1 engineers)');
  });
});

describe('Slack: the desk corrects a priority', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(testPolicy());
  });
  afterAll(async () => {
    await h?.close();
  });

  it('changes it with a reason, updates the card, tells the reporter; others are refused', async () => {
    const { fake, slack } = h;
    const r = await slack.command('U0REP', 'Intranet slow', { channel: 'C0GENERAL' });
    await fake.waitFor((f) => f.responses.some((x) => x.id === r.responseId));
    const number = /INC-\d+/.exec(fake.responses.find((x) => x.id === r.responseId)!.body.text)![0];
    await fake.waitFor(() => h.messagesIn('C0DESK').length === 1);

    const outsider = await slack.command('U0REP', `priority ${number} P1 it is really bad`, { channel: 'C0GENERAL' });
    const desk = await slack.command('U0DESK', `priority ${number} P2 the whole sales floor is affected`, { channel: 'C0DESK' });
    await fake.waitFor((f) => [outsider, desk].every((c) => f.responses.some((x) => x.id === c.responseId)));
    expect(fake.responses.find((x) => x.id === outsider.responseId)!.body.text).toContain('Only the service desk or an incident manager');
    expect(fake.responses.find((x) => x.id === desk.responseId)!.body.text).toContain(`${number} is now P2 High`);

    const card = h.messagesIn('C0DESK')[0]!;
    await fake.waitFor(() => h.textOf(fake.messages.get(`C0DESK:${card.ts}`)).includes('Priority changed P3 Medium → P2 High'));
    await fake.waitFor(() => h.messagesIn('U0REP').some((m) => (m.text ?? '').includes('priority changed from P3 Medium to P2 High')));
    const incident = (await h.bot.store.getByNumber(number))!;
    expect(incident.priority).toBe('P2');
    expect(incident.priorityChanged).toBe(true);
  });
});
