import type { Trigger } from "../audit/audit.ts";
import type { EnforcerDependencies } from "../callbacks/enforcer.ts";
import { inParallel } from "../concurrency.ts";
import { AuditEntryFinalizedError } from "../errors.ts";
import { type PublishDependencies, type PublishReport, publishEvents } from "../events/publish.ts";
import { apply, disconnect, type KickReport } from "../kicks/kicks.ts";
import { type Action, evaluate } from "../rules/decide.ts";
import type { RuleChange, RuleStore } from "../rules/ports.ts";
import { isInForce, type Rule, ruleCovers } from "../rules/rules.ts";
import type { SweepState, TrackedSession } from "../sessions/ports.ts";
import { findSession, isLive, type Presence, type Session } from "../sessions/presence.ts";
import type { CallBudget, ParticipantStatus } from "../video/video.ts";

/**
 * The scheduled sweep closes what callbacks cannot: deadlines that pass in silence, kicks that failed, callbacks
 * that were lost, and rules created while their targets are already connected. Every kick it makes goes through the
 * same write-ahead audit as the enforcer's, keyed by participant, so two sweeps (or a sweep and the enforcer) racing
 * on one participant produce one kick. A lease keeps overlapping runs from doing the same work twice.
 */

export interface SweepDependencies extends EnforcerDependencies {
  readonly ruleStore: RuleStore;
  /** The event stream's outbox and sink: each run publishes what is marked (none configured: nothing is). */
  readonly events?: PublishDependencies;
}

export interface SweepOptions {
  /** Identifies this run for the lease. */
  readonly owner: string;
  /** How long the lease holds if this run dies: longer than a run. */
  readonly leaseMs: number;
  /** Upper bound of items read per phase and run. */
  readonly batch: number;
  /** Whether this run reconciles the rooms in progress with the provider's lists (two requests a room); yes if absent. */
  readonly reconcile?: boolean;
  /** Epoch ms (system time) by which every provider request of this run must have ended: the invocation's end. */
  readonly deadline?: number;
  /**
   * Deadlines due within this long after the run's start are read too, and the earliest is reported as
   * `nextDeadlineAt`, so that the caller can run again right when it passes instead of at the next tick. 0 if absent.
   */
  readonly lookaheadMs?: number;
  /** Only the due deadlines: a run started for a deadline read ahead, between two whole runs. */
  readonly deadlinesOnly?: boolean;
}

export interface SweepReport {
  /** False when another run held the lease: this one did nothing. */
  readonly ran: boolean;
  readonly deadlinesDue: number;
  readonly retried: number;
  readonly ruleChanges: number;
  readonly roomsReconciled: number;
  readonly sessionsClosed: number;
  readonly sessionsAdopted: number;
  /** Rooms believed in progress that the provider does not know with these credentials: left untouched, alarmed. */
  readonly unknownRooms: readonly string[];
  readonly kicks: readonly KickReport[];
  /**
   * The earliest deadline read ahead and not yet due (or this run's start when more were due than a run takes): when
   * the next run should start, at the latest, for that deadline to be enforced on time.
   */
  readonly nextDeadlineAt?: number;
  /** What this run published of the event outbox; `error` when the outbox could not be read or updated. */
  readonly events?: PublishReport | { readonly error: string };
}

const idle: Omit<SweepReport, "ran"> = {
  deadlinesDue: 0,
  retried: 0,
  ruleChanges: 0,
  roomsReconciled: 0,
  sessionsClosed: 0,
  sessionsAdopted: 0,
  unknownRooms: [],
  kicks: [],
};

/**
 * Input: the dependencies and options. Output: what the run did.
 * Steps: take the lease → due deadlines → open kicks (stalled or failed) → rule changes since the last run →
 * reconciliation of the rooms believed in progress with the provider's participant lists → give the lease back.
 */
export async function sweep(deps: SweepDependencies, options: SweepOptions): Promise<SweepReport> {
  const startedAt = deps.clock.now();
  const state = await deps.sessions.claimSweep(options.owner, startedAt, options.leaseMs);
  if (state === undefined) return { ran: false, ...idle };
  const trigger: Trigger = { type: "sweep", at: new Date(startedAt).toISOString() };
  const run: Run = {
    trigger,
    now: startedAt,
    budget: options.deadline === undefined ? {} : { deadline: options.deadline },
  };
  const kicks: KickReport[] = [];
  let ruleState: SweepState = state;
  try {
    const read = await deps.sessions.dueDeadlines(startedAt + (options.lookaheadMs ?? 0), options.batch);
    const due = read.filter((deadline) => deadline.deadlineAt <= startedAt);
    const nextDeadlineAt =
      due.length === options.batch ? startedAt : read.find((deadline) => deadline.deadlineAt > startedAt)?.deadlineAt;
    // One task per identity: its deadlines are decided together, over one read of its presence.
    const dueByIdentity = new Map<string, (typeof due)[number][]>();
    for (const deadline of due)
      dueByIdentity.set(deadline.identity, [...(dueByIdentity.get(deadline.identity) ?? []), deadline]);
    for (const reports of await inParallel([...dueByIdentity], SWEEP_CONCURRENCY, async ([identity, deadlines]) => {
      const targets = deadlines.map((deadline) => ({ ...deadline, status: "connected" as const, lastEventAt: 0 }));
      return enforceIdentity(identity, targets, run, deps);
    })) {
      kicks.push(...reports);
    }

    const ahead = nextDeadlineAt === undefined ? {} : { nextDeadlineAt };
    if (options.deadlinesOnly === true)
      return { ran: true, ...idle, deadlinesDue: due.length, kicks, ...ahead, ...(await publish(deps)) };

    const open = await deps.audit.openKicks(startedAt, options.batch);
    for (const report of await inParallel(open, SWEEP_CONCURRENCY, ({ entry, retryAt }) =>
      retryKick(entry, retryAt, run, deps),
    )) {
      if (report !== undefined) kicks.push(report);
    }

    const changes = await unappliedChanges(state, options.batch, deps);
    if (changes.length > 0) {
      kicks.push(
        ...(await applyRuleChanges(
          changes.map((change) => change.rule),
          run,
          deps,
        )),
      );
      ruleState = afterApplying(state, changes);
    }

    const reconciled: Reconciliation =
      options.reconcile === false
        ? { rooms: 0, closed: 0, adopted: 0, unknownRooms: [], kicks: [] }
        : await reconcile(run, deps);
    kicks.push(...reconciled.kicks);
    return {
      ran: true,
      deadlinesDue: due.length,
      retried: open.length,
      ruleChanges: changes.length,
      roomsReconciled: reconciled.rooms,
      sessionsClosed: reconciled.closed,
      sessionsAdopted: reconciled.adopted,
      unknownRooms: reconciled.unknownRooms,
      kicks,
      ...ahead,
      ...(await publish(deps)),
    };
  } finally {
    await deps.sessions.releaseSweep(options.owner, ruleState);
  }
}

/** Publishes the outbox last, so that this run's own decisions go out with it. */
async function publish(deps: SweepDependencies): Promise<Pick<SweepReport, "events">> {
  if (deps.events === undefined) return {};
  try {
    return { events: await publishEvents(deps.events) };
  } catch (error) {
    return { events: { error: error instanceof Error ? error.message : String(error) } };
  }
}

/**
 * A change's log key is stamped before its transaction commits, so a change can land behind one the sweep has read
 * already. Each run reads again from this long before its newest applied change (longer than an admin request can
 * take to commit) and skips the changes it applied within that window.
 */
export const RULE_CHANGE_OVERLAP_MS = 120_000;
/** Bounds the sweep state's list of applied changes; one dropped from it is applied again, which is harmless. */
const MAX_APPLIED_CHANGES = 2_000;

const changeTime = (cursor: string) => Date.parse(cursor.slice(0, cursor.indexOf("#")));

/** Up to `limit` changes not applied yet, oldest first, from the overlap window before the state's cursor on. */
async function unappliedChanges(state: SweepState, limit: number, deps: SweepDependencies): Promise<RuleChange[]> {
  const applied = new Set(state.appliedChanges);
  const unapplied: RuleChange[] = [];
  let after =
    state.ruleCursor === undefined
      ? "0"
      : new Date(Math.max(0, changeTime(state.ruleCursor) - RULE_CHANGE_OVERLAP_MS)).toISOString();
  for (;;) {
    const page = await deps.ruleStore.changesSince(after, limit);
    unapplied.push(...page.filter((change) => !applied.has(change.cursor)));
    const last = page[page.length - 1];
    if (unapplied.length >= limit || page.length < limit || last === undefined) break;
    after = last.cursor;
  }
  return unapplied.slice(0, limit);
}

/** The state once `changes` are applied: the cursor at the newest change, the window's applied changes kept. */
function afterApplying(state: SweepState, changes: readonly RuleChange[]): SweepState {
  const newest = [state.ruleCursor, ...changes.map((change) => change.cursor)]
    .filter((cursor): cursor is string => cursor !== undefined)
    .reduce((a, b) => (a > b ? a : b));
  const windowStart = changeTime(newest) - RULE_CHANGE_OVERLAP_MS;
  const applied = [...state.appliedChanges, ...changes.map((change) => change.cursor)]
    .filter((cursor) => changeTime(cursor) >= windowStart)
    .sort()
    .slice(-MAX_APPLIED_CHANGES);
  return { ruleCursor: newest, appliedChanges: applied };
}

/** What every step of one run shares: its trigger, its time, and the time its provider requests must end by. */
interface Run {
  readonly trigger: Trigger;
  readonly now: number;
  readonly budget: CallBudget;
}

/**
 * Re-decides the given sessions of one identity from its current presence and rules, and carries out the actions:
 * a kick when a deadline passed or a rule now matches, a deadline moved when a limit changed, none left otherwise.
 */
async function enforceIdentity(
  identity: string,
  targets: readonly Session[] | "all",
  run: Run,
  deps: SweepDependencies,
): Promise<KickReport[]> {
  const [presence, rules] = await Promise.all([deps.sessions.presence(identity), deps.rules.forIdentity(identity)]);
  // A target presence no longer knows has ended long ago (its entry was forgotten): treat it as gone.
  const sessions =
    targets === "all"
      ? (presence?.sessions ?? []).filter(isLive)
      : targets.map(
          (target) =>
            (presence === undefined ? undefined : findSession(presence, target.participantSid)) ?? {
              ...target,
              status: "disconnected" as const,
            },
        );
  const reports: KickReport[] = [];
  for (const session of sessions) {
    if (presence === undefined || !isLive(session)) {
      // Gone already (its disconnect was recorded, or never was): nothing to enforce, no deadline to keep.
      await deps.sessions.clearDeadline(session, session.lastEventAt);
      continue;
    }
    reports.push(...(await carryOut(session, presence, rules, run, deps)));
  }
  return reports;
}

async function carryOut(
  session: Session,
  presence: Presence,
  rules: readonly Rule[],
  { trigger, now, budget }: Run,
  deps: SweepDependencies,
): Promise<KickReport[]> {
  const actions: Action[] = evaluate(session, presence, rules, now);
  const reports: KickReport[] = [];
  for (const action of actions) {
    const report = await apply(action, action.session.lastEventAt, trigger, now, deps, budget);
    if (report !== undefined) reports.push(report);
  }
  const deadlineMoved = actions.some(
    (action) => action.type === "set-deadline" && action.session.participantSid === session.participantSid,
  );
  // Kicked, or no limit applies any more: the deadline is done with either way.
  if (!deadlineMoved) await deps.sessions.clearDeadline(session, session.lastEventAt);
  return reports;
}

/** Tries a stalled or failed kick once more, if no other caller took it first. */
async function retryKick(
  entry: Parameters<typeof disconnect>[0],
  retryAt: number,
  { now, budget }: Run,
  deps: SweepDependencies,
): Promise<KickReport | undefined> {
  if (entry.outcome === "failed") {
    try {
      await deps.audit.reopen(entry.id, now);
    } catch (error) {
      if (error instanceof AuditEntryFinalizedError) return undefined;
      throw error;
    }
  } else if (!(await deps.audit.claimPending(entry.id, retryAt, now))) {
    return undefined;
  }
  return disconnect(entry, now, deps, budget);
}

/**
 * New and changed rules reach the participants already connected: a ban disconnects them, a limit re-times their
 * deadlines. An exact ban concerns one identity; any other change (and a deletion, whose scope is gone) is checked
 * against every live session of the rooms in progress.
 */
async function applyRuleChanges(
  changed: readonly (Rule | undefined)[],
  run: Run,
  deps: SweepDependencies,
): Promise<KickReport[]> {
  const { now } = run;
  const identities = new Set<string>();
  let everyone = false;
  for (const rule of changed) {
    if (rule !== undefined && rule.kind === "ban" && rule.identity !== undefined) {
      if (isInForce(rule, now)) identities.add(rule.identity);
    } else {
      everyone = true;
    }
  }
  if (everyone) {
    for (const session of await liveTrackedSessions(deps)) {
      if (changed.some((rule) => rule === undefined || affects(rule, session))) identities.add(session.identity);
    }
  }
  const reports: KickReport[] = [];
  for (const identity of identities) reports.push(...(await enforceIdentity(identity, "all", run, deps)));
  return reports;
}

const affects = (rule: Rule, session: TrackedSession) => ruleCovers(rule, session.identity, session.roomName);

async function liveTrackedSessions(deps: SweepDependencies): Promise<TrackedSession[]> {
  const rooms = await deps.sessions.activeRooms();
  const sessions = await Promise.all(rooms.map((room) => deps.sessions.roomSessions(room.sid)));
  return sessions.flat().filter((session) => session.status !== "disconnected");
}

/**
 * Compares each room believed in progress with the provider: a room it ended is marked ended and its sessions
 * closed; a session it no longer lists as present (connected, or reconnecting: a network blip is not a departure)
 * is closed (its disconnect callback was lost); a connected participant never seen is adopted (its connect callback
 * was lost) and the rules are enforced on it, as they are on a participant connected again whose reconnected
 * callback was lost. A room the provider does not know at all is left as it is and
 * counted: that is what credentials of another account see, and wiping its sessions would end their enforcement.
 */
async function reconcile(run: Run, deps: SweepDependencies): Promise<Reconciliation> {
  const { now, budget } = run;
  const rooms = await deps.sessions.activeRooms();
  const result: Reconciliation = { rooms: rooms.length, closed: 0, adopted: 0, unknownRooms: [], kicks: [] };
  await inParallel(rooms, SWEEP_CONCURRENCY, async (room) => {
    const [state, tracked] = await Promise.all([
      deps.video.fetchRoom(room.sid, budget),
      deps.sessions.roomSessions(room.sid),
    ]);
    if (state === undefined) {
      result.unknownRooms.push(room.sid);
      return;
    }
    const live = tracked.filter((session) => session.status !== "disconnected");
    const present = new Map<string, { identity: string; since: number; status: ParticipantStatus }>();
    const list = async (status: "connected" | "reconnecting") => {
      for await (const participant of deps.video.listParticipants(room.sid, { status, pageSize: 1000 }, budget)) {
        present.set(participant.sid, {
          identity: participant.identity,
          since: participant.startedAt ?? participant.createdAt,
          status,
        });
      }
    };
    if (state.status === "in-progress") {
      await list("connected");
      // Twilio lists one status at a time: the reconnecting are asked for only when a session is missing.
      if (live.some((session) => !present.has(session.participantSid))) await list("reconnecting");
    } else {
      await deps.sessions.trackRoom(room, false, now);
    }

    for (const session of live) {
      const listed = present.get(session.participantSid);
      if (listed === undefined) {
        await closeSession(session, now, deps);
        result.closed += 1;
      } else if (session.status === "reconnecting" && listed.status === "connected") {
        // Connected again, its reconnected callback lost or late: the rules are checked now, as that callback would.
        result.kicks.push(...(await enforceIdentity(session.identity, [session], run, deps)));
      }
    }

    const known = new Set(live.map((session) => session.participantSid));
    for (const [participantSid, participant] of present) {
      // A participant reconnecting is adopted once it is connected again: it has no media to moderate meanwhile.
      if (known.has(participantSid) || participant.status !== "connected") continue;
      const update = await deps.sessions.record({
        identity: participant.identity,
        participantSid,
        roomSid: room.sid,
        roomName: room.name,
        status: "connected",
        // The provider gives the start to the second: ordered from the start of that second (never newer than an
        // exact connect in it), marked approximate until the connect callback corrects it, and timed from the
        // second's end, so that no limit runs out early.
        timestamp: participant.since,
        connectedAt: Math.floor(participant.since / 1000) * 1000 + 999,
        adoptedAt: now,
      });
      // Not applied when presence has the connect already, to the millisecond (the provider's time is to the
      // second): its callback failed after recording it, before its decisions were written down. Adopted as
      // presence knows it.
      const session = findSession(update.presence, participantSid);
      if (session === undefined || !isLive(session)) continue;
      result.adopted += 1;
      const rules = await deps.rules.forIdentity(participant.identity);
      result.kicks.push(...(await carryOut(session, update.presence, rules, run, deps)));
      // Tracked once its decisions are written down: if this run fails before, the next one adopts it again.
      await deps.sessions.trackSession(session, session.lastEventAt);
    }
  });
  return result;
}

interface Reconciliation {
  rooms: number;
  closed: number;
  adopted: number;
  /** Rooms believed in progress that the provider does not know with these credentials. */
  unknownRooms: string[];
  kicks: KickReport[];
}

/**
 * How many identities, kicks or rooms one sweep works on at once: the provider's requests dominate (two per room
 * reconciled, one per kick), and one after another they would not fit 500 rooms into a run.
 */
export const SWEEP_CONCURRENCY = 8;

/** Records the disconnect the provider's list implies, as of `now`, and drops the session's deadline. */
async function closeSession(session: TrackedSession, now: number, deps: SweepDependencies): Promise<void> {
  const update = await deps.sessions.record({
    identity: session.identity,
    participantSid: session.participantSid,
    roomSid: session.roomSid,
    roomName: session.roomName,
    status: "disconnected",
    timestamp: Math.max(now, session.lastEventAt),
  });
  const closed = findSession(update.presence, session.participantSid);
  if (closed !== undefined) await deps.sessions.clearDeadline(closed, closed.lastEventAt);
}
