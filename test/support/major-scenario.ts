/**
 * Helpers for the major-incident tests over Slack's wire format (issue 4): a policy with on-duty
 * L2/L3 and a short archive delay, and lookups of the war room the bot made in the fake Slack.
 */
import { buildPolicy } from '../../src/config/policy-schema';
import type { Policy } from '../../src/flows/policy/policy';
import type { FakeChannel, FakeMessage } from '../fakes/slack-api';
import type { SlackBotHarness } from './slack-bot';
import { testPolicyDoc } from './policy';

/** The test policy with Wang Wu (L2) and Zhao Liu (L3) on duty and the given major-incident settings. */
export function majorPolicy(major: { update_every?: string; archive_after?: string; review_due_after?: string } = {}): Policy {
  const doc = testPolicyDoc();
  doc.tiers.l2 = { ...doc.tiers.l2, on_duty: ['wang.wu'] };
  doc.tiers.l3 = { ...doc.tiers.l3, on_duty: ['zhao.liu'] };
  doc.major_incidents = { update_every: '1h', archive_after: '2s', review_due_after: '5d', ...major };
  return buildPolicy(doc, 'major test policy');
}

/** Channels the bot created through conversations.create for this incident number (`inc-12-…`). */
export function roomsOf(h: SlackBotHarness, number: string): FakeChannel[] {
  const n = number.replace(/^INC-/, '');
  const names = h.fake.callsTo('conversations.create').map((c) => String(c.args.name));
  return [...h.fake.channels.values()].filter((c) => c.creator === h.fake.botUserId && names.includes(c.name) && new RegExp(`^inc-${n}(-|$)`).test(c.name));
}

/** conversations.create calls for this incident number. */
export function createsOf(h: SlackBotHarness, number: string) {
  const n = number.replace(/^INC-/, '');
  return h.fake.callsTo('conversations.create').filter((c) => new RegExp(`^inc-${n}(-|$)`).test(String(c.args.name)));
}

/** The one war room of an incident once it exists (fails the wait otherwise). */
export async function waitForRoom(h: SlackBotHarness, number: string, timeoutMs = 8000): Promise<FakeChannel> {
  await h.fake.waitFor(() => roomsOf(h, number).length > 0, timeoutMs);
  return roomsOf(h, number)[0]!;
}

/** The pinned summary card in a room. */
export function summaryIn(h: SlackBotHarness, channel: string): FakeMessage | undefined {
  return h.messagesIn(channel).find((m) => m.pinned);
}

/** Plain texts the bot posted in a channel (or DM), oldest first. */
export function textsIn(h: SlackBotHarness, channel: string): string[] {
  return h.messagesIn(channel).map((m) => h.textOf(m));
}

/** Waits until the room is complete: created, described, people in, summary pinned, recorded on the timeline. */
export async function waitForReadyRoom(h: SlackBotHarness, number: string, timeoutMs = 8000): Promise<FakeChannel> {
  const room = await waitForRoom(h, number, timeoutMs);
  await h.fake.waitFor(() => !!summaryIn(h, room.id), timeoutMs);
  await h.fake.waitFor(() => {
    const cards = h.fake.callsTo('chat.update').filter((c) => JSON.stringify(c.args.blocks ?? '').includes(`<#${room.id}>`));
    return cards.length > 0;
  }, timeoutMs);
  return room;
}
