/**
 * The ports the flows depend on. Adapters (src/db, src/adapters, src/scheduler) implement them;
 * src/main.ts wires them. Every implementation must honour the contracts written here.
 */
import type { Effect, Target } from './effects';
import type { TimelineEntry } from './incident/events';
import type { Incident, Platform, Status, Tier } from './incident/model';
import type { NeutralCard } from './messages/card';

/** Injected time (ARCHITECTURE.md rule 8): tests move it, nothing in the flows reads Date.now(). */
export interface Clock {
  /** The current instant. Must be monotonic enough for ordering timeline entries of one process. */
  now(): Date;
}

export function systemClock(): Clock {
  return { now: () => new Date() };
}

/** A message the bot posted, as the platform identifies it (Slack: channel id + ts). */
export interface PostedMessage {
  channel: string;
  messageId: string;
}

/** Where an incident's card lives on a platform, so later changes update it in place. */
export interface Binding {
  incidentId: string;
  platform: Platform;
  /** `queue:<tier>`, `reporter`, `approver:<person>`: see CardPurpose. */
  purpose: string;
  channel: string;
  messageId: string;
}

export interface OutboxItem {
  id: number;
  incidentId: string;
  /** Idempotency key `incidentId:seq:index`, unique in the outbox. */
  key: string;
  effect: Effect;
  /** Attempts made before this claim (0 on the first delivery). */
  attempts: number;
  createdAt: string;
}

/** How far a war room's setup has got: each step is done once and remembered (retries resume). */
export interface WarRoomProgress {
  /** Which name suffix the room is on (0: none, 1: `-2`, …), after collisions with others' channels. */
  attempt: number;
  described: boolean;
  /** Platform user ids invited (or found already in). */
  invited: string[];
  /** Platform user ids that could not be invited, with the platform's reason; not retried. */
  failed: { user: string; error: string }[];
  pinned: boolean;
  /** The incident's timeline has the room (WarRoomOpened recorded). */
  recorded: boolean;
  archived: boolean;
}

/** A war room as the database keeps it: one per incident and platform. */
export interface WarRoomRecord {
  incidentId: string;
  platform: Platform;
  name: string;
  channel: string | null;
  progress: WarRoomProgress;
}

/** One compare-and-set write of a multi-incident commit (a report linked to a major incident). */
export interface CommitItem {
  next: Incident;
  expectedVersion: number;
  entries: TimelineEntry[];
  effects: Effect[];
}

export interface IncidentQuery {
  /** Incidents reported by or assigned to this person id. */
  involving?: string;
  tiers?: Tier[];
  statuses?: readonly Status[];
  limit: number;
}

/**
 * Persistence of incidents, their timeline, the outbox, inbound dedupe keys and message bindings.
 * Implementations: PostgreSQL (postgres.js) and embedded PGlite, one contract test suite.
 */
export interface IncidentStore {
  /**
   * Allocates the next incident sequence number from a database sequence. Numbers are never
   * reused, even when the insert that would have used one fails (a gap is fine).
   */
  nextSeq(): Promise<number>;
  /**
   * Inserts a new incident (version 1) with its first timeline entries and outbox effects in one
   * transaction. Throws if the id or number already exists (nothing is written then).
   */
  create(incident: Incident, entries: TimelineEntry[], effects: Effect[]): Promise<void>;
  /** The incident by id, or null. */
  get(id: string): Promise<Incident | null>;
  /** The incident by its human number (`INC-42`), case-insensitive, or null. */
  getByNumber(number: string): Promise<Incident | null>;
  /**
   * Compare-and-set: stores `next` (whose version must be `expectedVersion + 1`), appends the
   * entries and enqueues the effects, all in one transaction, only if the stored version still
   * equals `expectedVersion`. Returns false, having written nothing, when another writer won.
   */
  commit(next: Incident, expectedVersion: number, entries: TimelineEntry[], effects: Effect[]): Promise<boolean>;
  /** The whole timeline of an incident, ordered by seq ascending. Empty for an unknown id. */
  timeline(incidentId: string): Promise<TimelineEntry[]>;
  /** The latest timeline entry of an incident (highest seq), or null for an unknown id. */
  lastEntry(incidentId: string): Promise<TimelineEntry | null>;
  /** Incidents matching the query, most recently reported first, at most `limit`. */
  list(query: IncidentQuery): Promise<Incident[]>;
  /**
   * The timers the incidents owe (their derived `nextTimerAt`), due at or before `before`, ordered
   * by (at, incidentId), at most `limit`, strictly after the keyset `after` when given (paging).
   * `generation` is the incident's version. Served by a partial index: closed incidents cost nothing.
   */
  owedTimers(before: string, limit: number, after: { at: string; incidentId: string } | null): Promise<TimerJob[]>;
  /**
   * Claims an inbound delivery key (Slack event id, trigger id, …) with an atomic insert.
   * Returns true for the first claim, false for every later one (a redelivery: skip it).
   */
  claimInbound(key: string, at: string): Promise<boolean>;
  /**
   * Counts for operators (`/metrics`): incidents by status and priority, the queues (new and
   * awaiting approval, by tier), and the outbox's undelivered items with the oldest pending one's
   * creation time. Read-only; a few grouped queries.
   */
  stats(): Promise<StoreStats>;
  /** Forgets dedupe keys received before `before` (kept longer than any redelivery window). */
  pruneInbound(before: string): Promise<number>;
  /**
   * Claims up to `limit` due outbox items and leases them until `now + leaseMs` (a crashed
   * worker's items become due again then). Per incident only the oldest undelivered item is ever
   * claimable, so one incident's messages go out in order. Safe with concurrent workers.
   */
  claimOutbox(now: string, limit: number, leaseMs: number): Promise<OutboxItem[]>;
  /** Marks an item delivered. Idempotent. */
  completeOutbox(id: number, at: string): Promise<void>;
  /**
   * Records a failed attempt. With `retryAt` the item becomes due again then; with null it is
   * parked as failed (kept for inspection, no longer blocks its incident's later items).
   */
  failOutbox(id: number, error: string, retryAt: string | null): Promise<void>;
  /** Outbox items not yet delivered (pending or failed), oldest first: for operators and tests. */
  undelivered(limit: number): Promise<(OutboxItem & { status: 'pending' | 'failed'; lastError: string | null })[]>;
  /** The message holding this incident's card for `purpose` on `platform`, or null. */
  getBinding(incidentId: string, platform: Platform, purpose: string): Promise<Binding | null>;
  /** The card binding of a platform message (Feishu's `open_message_id` of a clicked card), or null. */
  bindingByMessage(platform: Platform, messageId: string): Promise<Binding | null>;
  /** Records (or replaces) where a card lives. */
  saveBinding(binding: Binding): Promise<void>;
  /**
   * Commits several incidents in one transaction, each with compare-and-set as in `commit`: all
   * or nothing. Returns false, having written nothing, when any version no longer matches.
   */
  commitMany(items: CommitItem[]): Promise<boolean>;
  /**
   * Inserts a new incident as `create` does and commits `related` (compare-and-set) in the same
   * transaction. Returns false, having written nothing, when a related version no longer matches.
   */
  createWith(incident: Incident, entries: TimelineEntry[], effects: Effect[], related: CommitItem[]): Promise<boolean>;
  /**
   * Reserves the war room of an incident on a platform under `name`, or returns the one already
   * reserved (whatever its name): the first reservation wins, concurrent callers get that row.
   */
  reserveRoom(incidentId: string, platform: Platform, name: string): Promise<WarRoomRecord>;
  /** Stores a room's name, channel and progress (the row must have been reserved). */
  saveRoom(room: WarRoomRecord): Promise<void>;
  /** The war room of an incident on a platform, or null. */
  getRoom(incidentId: string, platform: Platform): Promise<WarRoomRecord | null>;
  /** The war room behind a platform conversation id, or null: how a message in a room finds its incident. */
  roomByChannel(platform: Platform, channel: string): Promise<WarRoomRecord | null>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** Thrown by a ChatPort when delivery failed; the outbox worker decides whether to retry. */
export class ChatDeliveryError extends Error {
  constructor(
    message: string,
    /** The platform asked us to wait this long (Slack `Retry-After`), or null. */
    readonly retryAfterMs: number | null,
    /** True when retrying cannot help (channel not found, invalid auth). */
    readonly permanent: boolean,
    /**
     * The platform is throttling us (rate limits, DingTalk's per-group send lock): waiting helps,
     * so the outbox retries far longer than for other failures and the message is not dropped.
     */
    readonly throttled: boolean = false,
  ) {
    super(message);
    this.name = 'ChatDeliveryError';
  }
}

/**
 * Outbound messages to one chat platform. Calls may be retried by the outbox worker, so
 * implementations must not retry internally for long (fail fast, report Retry-After).
 */
export interface ChatPort {
  readonly platform: Platform;
  /**
   * Posts a card; resolves to where it landed. `tag` (incident and purpose) is attached where the
   * platform can carry it, so `findCard` can find the post again, or used as the send's
   * de-duplication key where the platform has one (Feishu). Throws ChatDeliveryError.
   */
  postCard(target: Target, card: NeutralCard, tag?: string): Promise<PostedMessage>;
  /**
   * The card this bot posted into `target` with `tag`, or null: asked before posting again on a
   * retry, because a post whose answer was lost (a crash, the database gone between the post and
   * its record) would otherwise appear twice. Optional; best effort (null when it cannot look).
   */
  findCard?(target: Target, tag: string): Promise<PostedMessage | null>;
  /** Replaces a posted card in place (same message). Throws ChatDeliveryError. */
  updateCard(message: PostedMessage, card: NeutralCard): Promise<void>;
  /**
   * Posts a plain notification; with `thread`, as a reply under that message (Slack thread_ts),
   * also shown in the channel when `broadcast`. `key` is the same for every try of one message
   * (the outbox item's key): where the platform de-duplicates sends by a client key (Feishu's
   * `uuid`, one hour), a retry after a lost answer then posts nothing new. Throws ChatDeliveryError.
   */
  sendText(target: Target, text: string, thread?: { message: PostedMessage; broadcast: boolean }, key?: string): Promise<PostedMessage>;
  /**
   * The notice sent with `key` (under `thread`'s message, when given), if the platform has it: the
   * outbox asks before a retry, since a send whose answer was lost would otherwise appear twice.
   * Optional (platforms that de-duplicate by key themselves need none); best effort, null when it
   * cannot look.
   */
  findText?(target: Target, key: string, thread?: { message: PostedMessage }): Promise<PostedMessage | null>;
  /** War rooms, where the platform has them. */
  readonly rooms?: RoomPort;
}

/**
 * War rooms on a platform (DOMAIN.md §6). Optional: a platform without rooms leaves it out and
 * its room effects are skipped. Calls may be retried by the outbox worker, so each must be safe to
 * repeat; exactly-once comes from the war_rooms row, not from here.
 */
export interface RoomPort {
  /**
   * The room name for an incident within the platform's naming rules (Slack: lowercase
   * `[a-z0-9_-]`, at most 80 characters). `attempt` > 0 gives the suffixed name tried after a
   * collision with someone else's conversation. Pure and deterministic.
   */
  roomName(number: string, title: string, prefix: string, attempt: number): string;
  /** Creates a room named `name`; `'taken'` when the name is already in use. Throws ChatDeliveryError. */
  createRoom(name: string): Promise<{ channel: string } | 'taken'>;
  /**
   * Finds a live room named exactly `name` that this bot created: the one a create made whose
   * answer was lost (a crash or timeout after the platform did the work). Null when none.
   */
  findOwnRoom(name: string): Promise<{ channel: string } | null>;
  /** Sets the room's topic and purpose (or description). Idempotent. Throws ChatDeliveryError. */
  describeRoom(channel: string, topic: string, purpose: string): Promise<void>;
  /**
   * Invites platform users. Users already in count as invited; those the platform refuses are
   * returned with its reason and the rest are still invited. Throws ChatDeliveryError only when
   * nothing could be tried (rate limit, outage).
   */
  inviteToRoom(channel: string, users: string[]): Promise<{ failed: { user: string; error: string }[] }>;
  /** Pins a message in its room. Idempotent (already pinned is success). */
  pin(message: PostedMessage): Promise<void>;
  /** Archives the room. Idempotent (already archived is success). */
  archiveRoom(channel: string): Promise<void>;
}

export interface StoreStats {
  incidents: { status: Status; priority: string; count: number }[];
  queue: { tier: Tier; count: number }[];
  outbox: { pending: number; failed: number; oldestPendingAt: string | null };
}

/** Structured logger; implementations must never print secrets. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * One wake-up owed to an incident: at `at`, look at incident `incidentId` again. `generation` is
 * the incident version the timer was derived from; a job whose generation is no longer the
 * incident's version is stale and does nothing (the newer version scheduled its own timer).
 */
export interface TimerJob {
  incidentId: string;
  generation: number;
  /** ISO-8601 instant the wake-up is due. */
  at: string;
}

/**
 * Delayed wake-ups (ARCHITECTURE.md rule 7). A timer is an optimisation over the database's
 * `next_timer_at`: losing one only delays it until the next reconcile sweep re-creates it.
 */
export interface TimerPort {
  /**
   * Ensures a wake-up at `job.at` (immediately when it is in the past). Idempotent: scheduling the
   * same (incidentId, generation, at) twice, from one process or several, fires at most once
   * while the first is still known to the driver. Never throws for a driver outage: it logs, and
   * the reconcile sweep makes up for it.
   */
  schedule(job: TimerJob): Promise<void>;
}
