/**
 * Major incidents end to end over Slack's wire format (issue 4, DOMAIN.md §6): signed slash
 * commands, button clicks, modal submissions and Events API deliveries into our HTTP server, the
 * real Bolt / WebClient talking to the fake Slack API, a fresh PostgreSQL database. One room per
 * incident whatever happens; the summary, the updates and the report tell what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlackBot, type SlackBotHarness } from '../support/slack-bot';
import { createsOf, majorPolicy, roomsOf, summaryIn, textsIn, waitForReadyRoom } from '../support/major-scenario';

const DESK = 'U0DESK';
const IM = 'U0IM';
const PM = 'U0PM';
const L2 = 'U0L2';
const L3 = 'U0L3';
const REPORTER = 'U0REP';
const VIP = 'U0VIP';
const ROOM_MEMBERS = [IM, PM, L2, L3, REPORTER];

async function reportAs(h: SlackBotHarness, user: string, text: string): Promise<string> {
  const before = await h.store.list({ limit: 1 });
  await h.slack.command(user, text, { channel: 'C0GENERAL' });
  let number = '';
  for (let i = 0; i < 200 && !number; i++) {
    const [latest] = await h.store.list({ limit: 1 });
    if (latest && latest.id !== before[0]?.id) number = latest.number;
    else await new Promise((r) => setTimeout(r, 20));
  }
  if (!number) throw new Error('no incident was filed');
  return number;
}

async function responseText(h: SlackBotHarness, responseId: string): Promise<string> {
  await h.fake.waitFor((f) => f.responses.some((r) => r.id === responseId), 5000);
  return String(h.fake.responses.find((r) => r.id === responseId)!.body.text ?? '');
}

function deskCardOf(h: SlackBotHarness, number: string) {
  return h.messagesIn('C0DESK').find((m) => h.textOf(m).includes(number) && m.thread_ts === undefined);
}

describe('a major incident on Slack, from declaration to archive', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(majorPolicy({ archive_after: '2s' }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('declare → room → confirm → updates → notes → linked report → roles → resolve → report → close → archive', async () => {
    const number = await reportAs(h, REPORTER, 'Payroll is down for everyone');
    await h.fake.waitFor(() => !!deskCardOf(h, number));
    const card = deskCardOf(h, number)!;
    expect(h.buttons(card).map((b) => b.actionId)).toContain('incident.declare_major');

    // The desk declares it major from the queue card.
    const click = await h.press(DESK, card, 'incident.declare_major');
    expect(await responseText(h, click.responseId)).toContain(`${number} is now a major incident`);

    // The room: one, named from the number and title, described, its people in, the summary pinned.
    const room = await waitForReadyRoom(h, number);
    expect(room.name).toBe(`inc-${number.slice(4)}-payroll-is-down-for-everyone`);
    expect(room.topic).toContain(number);
    expect(room.topic).toContain('Chen Jing');
    expect(room.purpose).toContain(`War room of major incident ${number}`);
    for (const u of ROOM_MEMBERS) expect(room.members.has(u)).toBe(true);
    const summary = summaryIn(h, room.id)!;
    const summaryText = h.textOf(summary);
    expect(summaryText).toContain(`Major incident ${number}`);
    expect(summaryText).toMatch(/Incident commander\*?\n?Chen Jing/);
    expect(summaryText).toContain('Next update due');
    expect(summaryText).toContain('Response SLA');
    expect(h.buttons(summary).map((b) => b.actionId)).toEqual(['war_room.update', 'war_room.roles', 'incident.reassign', 'major.confirm', 'major.downgrade']);
    // The origin card links the room; the queue hears where it is; the reporter is told.
    await h.fake.waitFor(() => h.textOf(h.fake.messages.get(`C0DESK:${card.ts}`)).includes(`<#${room.id}>`));
    await h.fake.waitFor(() => h.messagesIn('C0DESK').some((m) => m.thread_ts === card.ts && (m.text ?? '').includes(`#${room.name}`)));
    await h.fake.waitFor(() => textsIn(h, REPORTER).some((t) => t.includes('is being handled as a major incident')));
    const id = (await h.store.getByNumber(number))!.id;
    expect((await h.store.timeline(id)).map((e) => e.event.type)).toEqual(expect.arrayContaining(['MajorIncidentDeclared', 'WarRoomOpened']));

    // Anyone the bot knows may join from the incident card (an L1 engineer who can help).
    const join = await h.press('U0L1', h.fake.messages.get(`C0DESK:${card.ts}`)!, 'war_room.join');
    expect(await responseText(h, join.responseId)).toContain(`You are being added to the war room of ${number}`);
    await h.fake.waitFor(() => room.members.has('U0L1'));
    // A guest may not.
    const guestJoin = await h.press('U0STRANGER', h.fake.messages.get(`C0DESK:${card.ts}`)!, 'war_room.join');
    expect(await responseText(h, guestJoin.responseId)).toContain('Only the people running');
    expect(room.members.has('U0STRANGER')).toBe(false);

    // The incident manager is asked by DM and confirms.
    await h.fake.waitFor(() => h.messagesIn(IM).some((m) => h.buttons(m).some((b) => b.actionId === 'major.confirm')));
    const ask = h.messagesIn(IM).find((m) => h.buttons(m).some((b) => b.actionId === 'major.confirm'))!;
    await h.press(IM, ask, 'major.confirm');
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes(`Chen Jing confirmed ${number} as a major incident`)));
    await h.fake.waitFor(() => h.buttons(h.fake.messages.get(`D${IM}:${ask.ts}`) ?? ask).length === 0);

    // The desk accepts: the owner joins the room; the room hears it.
    await h.press(DESK, h.fake.messages.get(`C0DESK:${card.ts}`)!, 'incident.accept');
    await h.fake.waitFor(() => room.members.has(DESK));
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes(`${number}: Accepted by Zhang San`)));

    // A status update typed in the room: posted there and sent to the reporter.
    const upd = await h.slack.command(DESK, 'update Failover to the standby database started; ETA 20 minutes', { channel: room.id });
    expect(await responseText(h, upd.responseId)).toContain(`Update on ${number} posted`);
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes(`Update #1 on ${number} from Zhang San`)));
    await h.fake.waitFor(() => textsIn(h, REPORTER).some((t) => t.includes('update #1: Failover to the standby database started')));
    await h.fake.waitFor(() => h.textOf(summaryIn(h, room.id)).includes('Latest update (#1'));

    // Someone else's report of the same outage, linked by the desk: its reporter is told and kept informed.
    const child = await reportAs(h, VIP, 'Cannot open payslips');
    const link = await h.slack.command(DESK, `link ${child} ${number}`, { channel: 'C0GENERAL' });
    expect(await responseText(h, link.responseId)).toContain(`${child} is linked to major incident ${number}`);
    await h.fake.waitFor(() => textsIn(h, VIP).some((t) => t.includes(`${child}: this is a known outage, already being worked on as ${number}`)));
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes(`${child} from VIP User is linked to ${number}`)));

    // Notes: typed in the room, and a person's message marked with :memo:.
    const note = await h.slack.command(L2, 'note Root cause candidate: expired TLS certificate on lb-2', { channel: room.id });
    expect(await responseText(h, note.responseId)).toContain(`Added to the timeline of ${number}`);
    const said = h.fake.addMessage({ channel: room.id, user: L3, text: 'Renewed the certificate on lb-2, traffic recovering' });
    await h.slack.event({ type: 'reaction_added', user: IM, reaction: 'memo', item: { type: 'message', channel: room.id, ts: said.ts }, item_user: L3, event_ts: said.ts });
    const notes = async () => (await h.store.timeline(id)).filter((e) => e.event.type === 'NoteAdded');
    for (let i = 0; i < 200 && (await notes()).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    await h.fake.waitFor(() => h.fake.ephemerals.some((e) => e.user === IM && (e.text ?? '').includes(`Added to the timeline of ${number}`)));
    // The same message marked again (another person, or a redelivery) is still one note; another emoji is just a reaction.
    await h.slack.event({ type: 'reaction_added', user: PM, reaction: 'memo', item: { type: 'message', channel: room.id, ts: said.ts }, item_user: L3, event_ts: said.ts });
    await h.slack.event({ type: 'reaction_added', user: PM, reaction: 'thumbsup', item: { type: 'message', channel: room.id, ts: said.ts }, item_user: L3, event_ts: said.ts });
    await new Promise((r) => setTimeout(r, 300));
    const recorded = await notes();
    expect(recorded.map((e) => (e.event.type === 'NoteAdded' ? [e.event.source, e.event.author?.name, e.event.text] : []))).toEqual([
      ['command', 'Wang Wu', 'Root cause candidate: expired TLS certificate on lb-2'],
      ['reaction', 'Zhao Liu', 'Renewed the certificate on lb-2, traffic recovering'],
    ]);
    expect(recorded[1]!.actor).toMatchObject({ kind: 'person', person: { id: 'chen.jing' } });

    // Roles changed from the summary: the new commander is named there and invited.
    const rolesClick = await h.press(IM, summaryIn(h, room.id)!, 'war_room.roles');
    await h.fake.waitFor(() => h.slack.openedView(rolesClick.triggerId) !== undefined);
    const rolesView = h.slack.openedView(rolesClick.triggerId);
    const sel = (field: string, value: string) => ({ [field]: { type: 'static_select', selected_option: { value, text: { type: 'plain_text', text: value } } } });
    await h.slack.submitView(IM, { callbackId: rolesView.callback_id, privateMetadata: rolesView.private_metadata, values: { commander: sel('commander', 'pm.gao'), comms: sel('comms', 'zhang.san') } });
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes('commander Gao PM, communications Zhang San')));
    await h.fake.waitFor(() => /Incident commander\*?\n?Gao PM/.test(h.textOf(summaryIn(h, room.id))));

    // A second update, from the summary's Post update button and its modal, reaches the linked reporter too.
    const post = await h.press(PM, summaryIn(h, room.id)!, 'war_room.update');
    await h.fake.waitFor(() => h.slack.openedView(post.triggerId) !== undefined);
    const postView = h.slack.openedView(post.triggerId);
    await h.slack.submitView(PM, { callbackId: postView.callback_id, privateMetadata: postView.private_metadata, values: { update: { update: { type: 'plain_text_input', value: 'Traffic fully recovered, monitoring' } } } });
    await h.fake.waitFor(() => textsIn(h, VIP).some((t) => t.includes('update #2: Traffic fully recovered')));

    // Resolve from the queue card: the analysis report is posted in the room, the review recorded.
    const res = await h.press(DESK, h.fake.messages.get(`C0DESK:${card.ts}`)!, 'incident.resolve');
    await h.fake.waitFor(() => h.slack.openedView(res.triggerId) !== undefined);
    const resView = h.slack.openedView(res.triggerId);
    await h.slack.submitView(DESK, {
      callbackId: resView.callback_id,
      privateMetadata: resView.private_metadata,
      values: {
        code: { code: { type: 'static_select', selected_option: { value: 'fixed', text: { type: 'plain_text', text: 'x' } } } },
        note: { note: { type: 'plain_text_input', value: 'Expired certificate on lb-2 renewed; monitoring for expiry added' } },
      },
    });
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes('Major incident analysis report')), 8000);
    const report = textsIn(h, room.id).find((t) => t.includes('Major incident analysis report'))!;
    for (const section of ['Summary', 'Impact', 'Timeline', 'Root cause / workaround', 'Actions and updates', 'Durations against the SLA', 'Participants', 'Post-incident review']) {
      expect(report).toContain(`*${section}*`);
    }
    expect(report).toContain('Expired certificate on lb-2 renewed');
    expect(report).toContain('Failover to the standby database started');
    expect(report).toContain('Renewed the certificate on lb-2');
    expect(report).toContain(`${child} (VIP User)`);
    expect(report).toMatch(/Response: met: \d+s of 2h/);
    expect(report).toContain('Accepted by Zhang San\n');
    expect(report).toContain('Gao PM (Incident commander, project manager)');
    expect(report).toContain('Chen Jing (incident manager)');
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes(`Post-incident review of ${number}: owner Gao PM`)));
    await h.fake.waitFor(() => textsIn(h, VIP).some((t) => t.includes(`(the outage you reported as ${child}) is resolved`)));

    // The report on demand, and as Markdown.
    const again = await h.slack.command(IM, `report ${number}`, { channel: 'C0GENERAL' });
    const onDemand = await responseText(h, again.responseId);
    expect(onDemand).toContain(`Major incident analysis report: ${number}`);
    const md = await h.slack.command(IM, 'report md', { channel: room.id });
    const markdown = await responseText(h, md.responseId);
    expect(markdown).toContain(`# Major incident analysis report: ${number} Payroll is down for everyone`);
    expect(markdown).toContain('## Timeline');

    // The reporter confirms: closed; the room is archived after the configured delay, once.
    await h.fake.waitFor(() => h.messagesIn(REPORTER).some((m) => h.buttons(m).some((b) => b.actionId === 'incident.confirm')));
    const reporterCard = h.messagesIn(REPORTER).find((m) => h.buttons(m).some((b) => b.actionId === 'incident.confirm'))!;
    await h.press(REPORTER, reporterCard, 'incident.confirm');
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes(`${number} is closed. This room is archived in 2s`)));
    await h.fake.waitFor(() => room.archived, 10_000);
    expect(h.fake.callsTo('conversations.archive').filter((c) => c.args.channel === room.id)).toHaveLength(1);
    expect(h.buttons(summaryIn(h, room.id)!)).toEqual([]);
    // One room, one create, the whole way through.
    expect(createsOf(h, number)).toHaveLength(1);
    expect(roomsOf(h, number)).toHaveLength(1);
    const types = (await h.store.timeline(id)).map((e) => e.event.type);
    expect(types).toEqual(expect.arrayContaining(['MajorIncidentConfirmed', 'StatusUpdatePosted', 'ReportLinked', 'NoteAdded', 'MajorRolesChanged', 'ReviewScheduled', 'WarRoomArchived']));
  });
});

describe('exactly one war room whatever happens', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(majorPolicy());
  });
  afterAll(async () => {
    await h?.close();
  });

  it('30 concurrent declare clicks and Slack retries make one conversations.create', async () => {
    const number = await reportAs(h, REPORTER, 'Email is down company wide');
    await h.fake.waitFor(() => !!deskCardOf(h, number));
    const card = deskCardOf(h, number)!;
    const button = h.buttons(card).find((b) => b.actionId === 'incident.declare_major')!;
    const clicks = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        h.slack.click(i % 2 ? DESK : IM, { actionId: button.actionId, value: button.value, channel: card.channel, messageTs: card.ts }),
      ),
    );
    expect(clicks.every((c) => c.status === 200)).toBe(true);
    const texts = await Promise.all(clicks.map((c) => responseText(h, c.responseId)));
    expect(texts.filter((t) => t.includes('is now a major incident'))).toHaveLength(1);
    expect(texts.filter((t) => t.includes('is already a major incident'))).toHaveLength(29);
    await waitForReadyRoom(h, number);
    await new Promise((r) => setTimeout(r, 300));
    expect(createsOf(h, number)).toHaveLength(1);
    const id = (await h.store.getByNumber(number))!.id;
    expect((await h.store.timeline(id)).filter((e) => e.event.type === 'MajorIncidentDeclared')).toHaveLength(1);

    // A declaration by @mention that Slack redelivers (X-Slack-Retry-Num 1, 2) is processed once.
    const other = await reportAs(h, REPORTER, 'Wi-Fi down in building B');
    const mention = { type: 'app_mention', user: IM, text: `<@${h.fake.botUserId}> major ${other}`, channel: 'C0GENERAL', ts: '1700000999.000100' };
    const first = await h.slack.event(mention);
    const retries = await Promise.all([1, 2].map((n) => h.slack.event(mention, { eventId: first.eventId, retryNum: n, retryReason: 'http_timeout' })));
    expect([first, ...retries].every((r) => r.status === 200)).toBe(true);
    await waitForReadyRoom(h, other);
    await new Promise((r) => setTimeout(r, 300));
    expect(createsOf(h, other)).toHaveLength(1);
    const answers = h.fake.callsTo('chat.postMessage').filter((c) => c.args.channel === 'C0GENERAL' && String(c.args.text).includes(`${other} is now a major incident`));
    expect(answers).toHaveLength(1);
  });

  it('a name someone else holds gives a suffixed room', async () => {
    const number = await reportAs(h, REPORTER, 'VPN down');
    const taken = h.fake.addChannel({ name: `inc-${number.slice(4)}-vpn-down`, members: ['U0HUMAN'] });
    taken.creator = 'U0HUMAN';
    taken.members.delete(h.fake.botUserId);
    await h.slack.command(IM, `major ${number}`, { channel: 'C0GENERAL' });
    const room = await waitForReadyRoom(h, number);
    expect(room.name).toBe(`inc-${number.slice(4)}-vpn-down-2`);
    expect(createsOf(h, number).map((c) => c.response.ok === true ? 'ok' : c.response.error)).toEqual(['name_taken', 'ok']);
  });

  it('a create whose answer was lost is found again on the retry, not made twice', async () => {
    const number = await reportAs(h, REPORTER, 'Warehouse scanners offline');
    // Slack makes the channel, but the answer never arrives (a crash or timeout right after).
    h.fake.failNext('conversations.create', { status: 500, applied: true });
    await h.slack.command(IM, `major ${number}`, { channel: 'C0GENERAL' });
    const room = await waitForReadyRoom(h, number, 12_000);
    expect(room.name).toBe(`inc-${number.slice(4)}-warehouse-scanners-offline`);
    expect(createsOf(h, number).map((c) => c.status === 500 ? 'lost' : c.response.ok ? 'ok' : c.response.error)).toEqual(['lost', 'name_taken']);
    expect(h.fake.callsTo('conversations.list').length).toBeGreaterThan(0);
    expect(roomsOf(h, number)).toHaveLength(1);
    for (const u of ROOM_MEMBERS) expect(room.members.has(u)).toBe(true);
  });

  it('the fake failing between create and invite, then the retry, gives no second room', async () => {
    const number = await reportAs(h, REPORTER, 'Badge readers rejecting everyone');
    h.fake.failNext('conversations.invite', { status: 500 });
    await h.slack.command(IM, `major ${number}`, { channel: 'C0GENERAL' });
    const room = await waitForReadyRoom(h, number, 12_000);
    const invites = h.fake.callsTo('conversations.invite').filter((c) => c.args.channel === room.id);
    expect(invites.map((c) => c.status)).toEqual([500, 200]);
    expect(createsOf(h, number)).toHaveLength(1);
    for (const u of ROOM_MEMBERS) expect(room.members.has(u)).toBe(true);
    // The summary was posted once and pinned once, although the setup ran twice.
    expect(h.messagesIn(room.id).filter((m) => m.pinned)).toHaveLength(1);
    expect(h.fake.callsTo('pins.add').filter((c) => c.args.channel === room.id)).toHaveLength(1);
  });

  it('a user who cannot be invited is noted on the timeline and in the room; the rest are in', async () => {
    const number = await reportAs(h, REPORTER, 'Trading screens frozen');
    h.fake.uninvitable.add(L3);
    try {
      await h.slack.command(IM, `major ${number}`, { channel: 'C0GENERAL' });
      const room = await waitForReadyRoom(h, number);
      for (const u of [IM, PM, L2, REPORTER]) expect(room.members.has(u)).toBe(true);
      expect(room.members.has(L3)).toBe(false);
      await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes('Could not invite: Zhao Liu (user_is_restricted)')));
      const id = (await h.store.getByNumber(number))!.id;
      const opened = (await h.store.timeline(id)).find((e) => e.event.type === 'WarRoomOpened')!;
      expect(opened.event).toMatchObject({ uninvited: [{ name: 'Zhao Liu', error: 'user_is_restricted' }] });
    } finally {
      h.fake.uninvitable.delete(L3);
    }
  });
});

describe('declaring, and what is refused', () => {
  let h: SlackBotHarness;
  beforeAll(async () => {
    h = await startSlackBot(majorPolicy({ update_every: '2s' }));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('every P1 is declared at report; a quick `major <text>` files and declares at once', async () => {
    const quick = await h.slack.command(DESK, 'major Core switch in DC1 is down', { channel: 'C0GENERAL' });
    expect(await responseText(h, quick.responseId)).toMatch(/Filed INC-\d+ as a major incident/);
    const [filed] = await h.store.list({ limit: 1 });
    expect(filed).toMatchObject({ priority: 'P1', title: 'Core switch in DC1 is down', source: 'engineer', major: { state: 'declared', quick: true, declaredBy: { id: 'zhang.san' } } });
    await waitForReadyRoom(h, filed!.number);

    // A person who is not on the desk or in a tier cannot file one that way.
    const guest = await h.slack.command('U0NOBODY', 'major everything is broken', { channel: 'C0GENERAL' });
    expect(await responseText(h, guest.responseId)).toContain('Only the service desk');
    const [still] = await h.store.list({ limit: 1 });
    expect(still!.id).toBe(filed!.id);
  });

  it('a P1 from the report form is declared at once; a later report of the same system is linked as a known outage', async () => {
    const fileByForm = async (user: string, title: string, impact: string, urgency: string, system: string) => {
      const cmd = await h.slack.command(user, '', { channel: 'C0GENERAL' });
      await h.fake.waitFor(() => h.slack.openedView(cmd.triggerId) !== undefined);
      const view = h.slack.openedView(cmd.triggerId);
      const sel = (field: string, value: string) => ({ [field]: { type: 'static_select', selected_option: { value, text: { type: 'plain_text', text: value } } } });
      const r = await h.slack.submitView(user, {
        callbackId: view.callback_id,
        privateMetadata: view.private_metadata,
        values: {
          title: { title: { type: 'plain_text_input', value: title } },
          description: { description: { type: 'plain_text_input', value: null } },
          category: sel('category', 'fault'),
          impact: sel('impact', impact),
          urgency: sel('urgency', urgency),
          system: { system: { type: 'plain_text_input', value: system } },
          location: { location: { type: 'plain_text_input', value: null } },
        },
      });
      expect(r.status).toBe(200);
      await h.fake.waitFor(() => h.messagesIn(user).some((m) => (m.text ?? '').includes(title)));
      return (await h.store.list({ involving: user === REPORTER ? 'reporter.a' : 'vip.user', limit: 1 }))[0]!;
    };
    const major = await fileByForm(REPORTER, 'HR portal returns 502', 'high', 'high', 'HR portal');
    expect(major).toMatchObject({ priority: 'P1', major: { state: 'declared', declaredBy: null } });
    const room = await waitForReadyRoom(h, major.number);
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes('declared by Firebell (every P1 is major)')));

    const child = await fileByForm(VIP, 'Cannot submit leave request', 'low', 'medium', 'hr PORTAL');
    expect(child.linkedTo).toEqual({ id: major.id, number: major.number, title: 'HR portal returns 502' });
    await h.fake.waitFor(() => textsIn(h, VIP).some((t) => t.includes(`${child.number}: this is a known outage, already being worked on as ${major.number}`)));
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes(`${child.number} from VIP User is linked to ${major.number}`)));
    const childCard = h.messagesIn('C0DESK').find((m) => h.textOf(m).includes(`${child.number} · Cannot submit leave request`) && m.thread_ts === undefined)!;
    expect(h.textOf(childCard)).toContain(`part of ${major.number}`);
    // Both records say so, each in its own timeline.
    expect((await h.store.timeline(child.id)).map((e) => e.event.type)).toEqual(['IncidentReported', 'LinkedToMajor']);
    expect((await h.store.timeline(major.id)).some((e) => e.event.type === 'ReportLinked' && e.automatic)).toBe(true);
  });

  it('reminds the commander in the room when an update is due, and not again until the next cadence', async () => {
    const quick = await h.slack.command(DESK, 'major Billing API returns 503', { channel: 'C0GENERAL' });
    await responseText(h, quick.responseId);
    const [incident] = await h.store.list({ limit: 1 });
    const room = await waitForReadyRoom(h, incident!.number);
    const reminders = () => textsIn(h, room.id).filter((t) => t.includes(`a status update on ${incident!.number} is due`));
    await h.fake.waitFor(() => reminders().length >= 1, 6000);
    expect(reminders()[0]).toContain('Chen Jing');
    await h.fake.waitFor(() => textsIn(h, IM).some((t) => t.includes(`A status update on ${incident!.number}`)));
    // An update resets the cadence: no reminder within the next cadence.
    await h.slack.command(IM, 'update Vendor engaged', { channel: room.id });
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes('Vendor engaged')));
    const after = reminders().length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(reminders().length).toBe(after);
    await h.fake.waitFor(() => reminders().length === after + 1, 4000);
  });

  it('refuses clearly and changes nothing: outsiders, unknown incidents, a downgraded cadence', async () => {
    const number = await reportAs(h, REPORTER, 'Printer on floor 3 jammed');
    // The reporter may not declare; an update outside a room without a number is a report, not an update.
    const declare = await h.slack.command(REPORTER, `major ${number}`, { channel: 'C0GENERAL' });
    expect(await responseText(h, declare.responseId)).toContain('Only the service desk, an incident manager or the assignee');
    const unknown = await h.slack.command(DESK, 'update INC-99999 all good', { channel: 'C0GENERAL' });
    expect(await responseText(h, unknown.responseId)).toContain('I cannot find incident INC-99999');
    const notMajor = await h.slack.command(DESK, `update ${number} looking into it`, { channel: 'C0GENERAL' });
    expect(await responseText(h, notMajor.responseId)).toContain(`${number} is not a major incident`);
    const id = (await h.store.getByNumber(number))!.id;
    expect((await h.store.get(id))!.major).toBeNull();

    // Declared, then downgraded by the incident manager: the room stays, no more reminders.
    await h.slack.command(DESK, `major ${number}`, { channel: 'C0GENERAL' });
    const room = await waitForReadyRoom(h, number);
    await h.fake.waitFor(() => h.messagesIn(IM).some((m) => h.textOf(m).includes(number) && h.buttons(m).some((b) => b.actionId === 'major.downgrade')));
    const ask = h.messagesIn(IM).find((m) => h.textOf(m).includes(number) && h.buttons(m).some((b) => b.actionId === 'major.downgrade'))!;
    // Only an incident or project manager may downgrade.
    const wrong = await h.press(DESK, ask, 'major.downgrade');
    expect(await responseText(h, wrong.responseId)).toContain('Only an incident manager or project manager');
    const down = await h.press(IM, ask, 'major.downgrade');
    await h.fake.waitFor(() => h.slack.openedView(down.triggerId) !== undefined);
    const view = h.slack.openedView(down.triggerId);
    await h.slack.submitView(IM, { callbackId: view.callback_id, privateMetadata: view.private_metadata, values: { reason: { reason: { type: 'plain_text_input', value: 'Only one printer affected' } } } });
    await h.fake.waitFor(() => textsIn(h, room.id).some((t) => t.includes('downgraded') && t.includes('Only one printer affected')));
    const incident = (await h.store.get(id))!;
    expect(incident.major).toMatchObject({ state: 'downgraded' });
    const reminders = textsIn(h, room.id).filter((t) => t.includes('is due')).length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(textsIn(h, room.id).filter((t) => t.includes('is due')).length).toBe(reminders);
    expect(room.archived).toBe(false);
    expect(createsOf(h, number)).toHaveLength(1);
  });
});
