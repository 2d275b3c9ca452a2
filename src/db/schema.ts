/**
 * The database schema, shared by PostgreSQL and PGlite. `drizzle-kit generate` turns it into the
 * committed SQL under drizzle/; never edit a generated migration, add a new one.
 *
 * The incident row keeps the whole `Incident` in `data` (the source of truth) and copies the few
 * fields that queries filter or sort on into plain columns, written in the same statement.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSequence,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Effect } from '../flows/effects';
import type { Actor, EventBody } from '../flows/incident/events';
import type { Incident } from '../flows/incident/model';
import type { WarRoomProgress } from '../flows/ports';

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** Source of incident numbers: a sequence, so a number is never handed out twice (gaps are fine). */
export const incidentSeq = pgSequence('incident_seq', { startWith: 1, increment: 1 });

export const incidents = pgTable(
  'incidents',
  {
    id: uuid('id').primaryKey(),
    seq: bigint('seq', { mode: 'number' }).notNull().unique('incidents_seq_unique'),
    number: text('number').notNull().unique('incidents_number_unique'),
    version: integer('version').notNull(),
    status: text('status').notNull(),
    tier: text('tier').notNull(),
    priority: text('priority').notNull(),
    reporterId: text('reporter_id').notNull(),
    assigneeId: text('assignee_id'),
    ownerId: text('owner_id'),
    waitUntil: tstz('wait_until'),
    /** Derived from `data` (policy/sla.ts): when the incident next needs a timer; null for none. */
    nextTimerAt: tstz('next_timer_at'),
    reportedAt: tstz('reported_at').notNull(),
    updatedAt: tstz('updated_at').notNull(),
    data: jsonb('data').$type<Incident>().notNull(),
  },
  (t) => [
    index('incidents_status_tier_idx').on(t.status, t.tier),
    index('incidents_reporter_idx').on(t.reporterId),
    index('incidents_assignee_idx').on(t.assigneeId),
    index('incidents_owner_idx').on(t.ownerId),
    index('incidents_reported_at_idx').on(t.reportedAt),
    // Partial: closed incidents (most rows, over the years) owe no timer and stay out of the
    // index the reconcile sweep reads (ARCHITECTURE.md rule 7).
    index('incidents_next_timer_idx').on(t.nextTimerAt, t.id).where(sql`${t.nextTimerAt} is not null`),
  ],
);

/** Append-only: rows are inserted by create/commit and never updated or deleted. */
export const timeline = pgTable(
  'timeline',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    incidentId: uuid('incident_id')
      .notNull()
      .references(() => incidents.id),
    seq: integer('seq').notNull(),
    type: text('type').notNull(),
    at: tstz('at').notNull(),
    actor: jsonb('actor').$type<Actor>().notNull(),
    platform: text('platform').notNull(),
    automatic: boolean('automatic').notNull(),
    status: text('status').notNull(),
    event: jsonb('event').$type<EventBody>().notNull(),
  },
  (t) => [unique('timeline_incident_seq_unique').on(t.incidentId, t.seq)],
);

export const OUTBOX_STATUSES = ['pending', 'done', 'failed'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    incidentId: uuid('incident_id').notNull(),
    key: text('key').notNull().unique('outbox_key_unique'),
    effect: jsonb('effect').$type<Effect>().notNull(),
    status: text('status').$type<OutboxStatus>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: tstz('next_attempt_at').notNull(),
    lastError: text('last_error'),
    createdAt: tstz('created_at').notNull().defaultNow(),
    doneAt: tstz('done_at'),
  },
  (t) => [
    index('outbox_claim_idx').on(t.status, t.nextAttemptAt),
    // Serves the "no older pending item of the same incident" probe of the claim query.
    index('outbox_incident_idx').on(t.incidentId, t.id),
    check('outbox_status_check', sql`${t.status} in ('pending', 'done', 'failed')`),
  ],
);

export const inboundDedupe = pgTable(
  'inbound_dedupe',
  {
    key: text('key').primaryKey(),
    receivedAt: tstz('received_at').notNull(),
  },
  (t) => [index('inbound_dedupe_received_at_idx').on(t.receivedAt)],
);

export const messageBindings = pgTable(
  'message_bindings',
  {
    incidentId: uuid('incident_id').notNull(),
    platform: text('platform').notNull(),
    purpose: text('purpose').notNull(),
    channel: text('channel').notNull(),
    messageId: text('message_id').notNull(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'message_bindings_pk', columns: [t.incidentId, t.platform, t.purpose] }),
    // A clicked card is known by its message id (Feishu's callback carries only that).
    index('message_bindings_message_idx').on(t.platform, t.messageId),
  ],
);

/**
 * War rooms (DOMAIN.md §6): one row per incident and platform, written before the platform is
 * asked to create anything, so "exactly one room" rests on this primary key and not on the
 * platform's names (ARCHITECTURE.md rule 4). `progress` lets a retried setup resume.
 */
export const warRooms = pgTable(
  'war_rooms',
  {
    incidentId: uuid('incident_id').notNull(),
    platform: text('platform').notNull(),
    /** The name asked for (a collision with someone else's channel moves it to a suffix). */
    name: text('name').notNull(),
    /** The platform's conversation id, once it exists. */
    channel: text('channel'),
    progress: jsonb('progress').$type<WarRoomProgress>().notNull(),
    createdAt: tstz('created_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'war_rooms_pk', columns: [t.incidentId, t.platform] }),
    // Messages in a room find their incident by this (`/incident update` typed in the room).
    unique('war_rooms_channel_unique').on(t.platform, t.channel),
  ],
);
