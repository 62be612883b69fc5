import type { Trigger } from "./audit.ts";
import { type Action, evaluate } from "./decide.ts";
import { apply, disconnect, type EnforcerDependencies, type KickReport } from "./enforcer.ts";
import { AuditEntryFinalizedError } from "./errors.ts";
import { globMatches } from "./glob.ts";
import type { RuleStore, TrackedSession } from "./ports.ts";
import { findSession, isLive, type Presence, type Session } from "./presence.ts";
import { duplicateScopeIncludes, isInForce, maxDurationApplies, type Rule } from "./rules.ts";

/**
 * The scheduled sweep closes what callbacks cannot: deadlines that pass in silence, kicks that failed, callbacks
 * that were lost, and rules created while their targets are already connected. Every kick it makes goes through the
 * same write-ahead audit as the enforcer's, keyed by participant, so two sweeps (or a sweep and the enforcer) racing
 * on one participant produce one kick. A lease keeps overlapping runs from doing the same work twice.
 */

export interface SweepDependencies extends EnforcerDependencies {
  readonly ruleStore: RuleStore;
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
  readonly kicks: readonly KickReport[];
}

const idle: Omit<SweepReport, "ran"> = {
  deadlinesDue: 0,
  retried: 0,
  ruleChanges: 0,
  roomsReconciled: 0,
  sessionsClosed: 0,
  sessionsAdopted: 0,
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
  const kicks: KickReport[] = [];
  let ruleCursor = state.ruleCursor;
  try {
    const due = await deps.sessions.dueDeadlines(startedAt, options.batch);
    // One task per identity: its deadlines are decided together, over one read of its presence.
    const dueByIdentity = new Map<string, (typeof due)[number][]>();
    for (const deadline of due)
      dueByIdentity.set(deadline.identity, [...(dueByIdentity.get(deadline.identity) ?? []), deadline]);
    for (const reports of await inParallel([...dueByIdentity], async ([identity, deadlines]) => {
      const targets = deadlines.map((deadline) => ({ ...deadline, status: "connected" as const, lastEventAt: 0 }));
      return enforceIdentity(identity, targets, trigger, startedAt, deps);
    })) {
      kicks.push(...reports);
    }

    const open = await deps.audit.openKicks(startedAt, options.batch);
    for (const report of await inParallel(open, ({ entry, retryAt }) => retryKick(entry, retryAt, startedAt, deps))) {
      if (report !== undefined) kicks.push(report);
    }

    const changes = await deps.ruleStore.changesSince(ruleCursor ?? "0", options.batch);
    if (changes.length > 0) {
      const changed = changes.map((change) => change.rule);
      kicks.push(...(await applyRuleChanges(changed, trigger, startedAt, deps)));
      ruleCursor = changes[changes.length - 1]?.cursor ?? ruleCursor;
    }

    const reconciled =
      options.reconcile === false
        ? { rooms: 0, closed: 0, adopted: 0, kicks: [] }
        : await reconcile(trigger, startedAt, deps);
    kicks.push(...reconciled.kicks);
    return {
      ran: true,
      deadlinesDue: due.length,
      retried: open.length,
      ruleChanges: changes.length,
      roomsReconciled: reconciled.rooms,
      sessionsClosed: reconciled.closed,
      sessionsAdopted: reconciled.adopted,
      kicks,
    };
  } finally {
    await deps.sessions.releaseSweep(options.owner, { ruleCursor });
  }
}

/**
 * Re-decides the given sessions of one identity from its current presence and rules, and carries out the actions:
 * a kick when a deadline passed or a rule now matches, a deadline moved when a limit changed, none left otherwise.
 */
async function enforceIdentity(
  identity: string,
  targets: readonly Session[] | "all",
  trigger: Trigger,
  now: number,
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
    reports.push(...(await carryOut(session, presence, rules, trigger, now, deps)));
  }
  return reports;
}

async function carryOut(
  session: Session,
  presence: Presence,
  rules: readonly Rule[],
  trigger: Trigger,
  now: number,
  deps: SweepDependencies,
): Promise<KickReport[]> {
  const actions: Action[] = evaluate(session, presence, rules, now);
  const reports: KickReport[] = [];
  for (const action of actions) {
    const report = await apply(action, action.session.lastEventAt, trigger, now, deps);
    if (report !== undefined) reports.push(report);
  }
  const deadlineMoved = actions.some((action) => action.type === "set-deadline");
  // Kicked, or no limit applies any more: the deadline is done with either way.
  if (!deadlineMoved) await deps.sessions.clearDeadline(session, session.lastEventAt);
  return reports;
}

/** Tries a stalled or failed kick once more, if no other caller took it first. */
async function retryKick(
  entry: Parameters<typeof disconnect>[0],
  retryAt: number,
  now: number,
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
  return disconnect(entry, now, deps);
}

/**
 * New and changed rules reach the participants already connected: a ban disconnects them, a limit re-times their
 * deadlines. An exact ban concerns one identity; any other change (and a deletion, whose scope is gone) is checked
 * against every live session of the rooms in progress.
 */
async function applyRuleChanges(
  changed: readonly (Rule | undefined)[],
  trigger: Trigger,
  now: number,
  deps: SweepDependencies,
): Promise<KickReport[]> {
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
  for (const identity of identities) reports.push(...(await enforceIdentity(identity, "all", trigger, now, deps)));
  return reports;
}

function affects(rule: Rule, session: TrackedSession): boolean {
  switch (rule.kind) {
    case "ban":
      return (
        (rule.identityPattern === undefined || globMatches(rule.identityPattern, session.identity)) &&
        (rule.roomPattern === undefined || globMatches(rule.roomPattern, session.roomName))
      );
    case "max-duration":
      return maxDurationApplies(rule, session.identity, session.roomName);
    case "duplicate-identity":
      return duplicateScopeIncludes(rule, session.roomName);
  }
}

async function liveTrackedSessions(deps: SweepDependencies): Promise<TrackedSession[]> {
  const rooms = await deps.sessions.activeRooms();
  const sessions = await Promise.all(rooms.map((room) => deps.sessions.roomSessions(room.sid)));
  return sessions.flat().filter((session) => session.status !== "disconnected");
}

/**
 * Compares each room believed in progress with the provider: a room it ended is marked ended and its sessions
 * closed; a session it no longer lists as connected is closed (its disconnect callback was lost); a connected
 * participant never seen is adopted (its connect callback was lost) and the rules are enforced on it.
 */
async function reconcile(
  trigger: Trigger,
  now: number,
  deps: SweepDependencies,
): Promise<{ rooms: number; closed: number; adopted: number; kicks: KickReport[] }> {
  const rooms = await deps.sessions.activeRooms();
  let closed = 0;
  let adopted = 0;
  const kicks: KickReport[] = [];
  await inParallel(rooms, async (room) => {
    const [state, tracked] = await Promise.all([deps.video.fetchRoom(room.sid), deps.sessions.roomSessions(room.sid)]);
    const connected = new Map<string, { identity: string; since: number }>();
    if (state?.status === "in-progress") {
      for await (const participant of deps.video.listParticipants(room.sid, { status: "connected", pageSize: 1000 })) {
        connected.set(participant.sid, {
          identity: participant.identity,
          since: participant.startedAt ?? participant.createdAt,
        });
      }
    } else {
      await deps.sessions.trackRoom(room, false, now);
    }

    for (const session of tracked) {
      if (session.status === "disconnected" || connected.has(session.participantSid)) continue;
      await closeSession(session, now, deps);
      closed += 1;
    }

    const known = new Set(tracked.filter((s) => s.status !== "disconnected").map((s) => s.participantSid));
    for (const [participantSid, participant] of connected) {
      if (known.has(participantSid)) continue;
      const update = await deps.sessions.record({
        identity: participant.identity,
        participantSid,
        roomSid: room.sid,
        roomName: room.name,
        status: "connected",
        // The provider gives the start to the second: ordered from the start of that second, so that any later
        // event for the participant applies, and timed from its end, so that no limit runs out early.
        timestamp: participant.since,
        connectedAt: Math.floor(participant.since / 1000) * 1000 + 999,
      });
      // Not applied when presence has the connect already, to the millisecond (the provider's time is to the
      // second): its callback failed after recording it, before its decisions were written down. Adopted as
      // presence knows it.
      const session = findSession(update.presence, participantSid);
      if (session === undefined || !isLive(session)) continue;
      adopted += 1;
      const rules = await deps.rules.forIdentity(participant.identity);
      kicks.push(...(await carryOut(session, update.presence, rules, trigger, now, deps)));
      // Tracked once its decisions are written down: if this run fails before, the next one adopts it again.
      await deps.sessions.trackSession(session, session.lastEventAt);
    }
  });
  return { rooms: rooms.length, closed, adopted, kicks };
}

/**
 * How many identities, kicks or rooms one sweep works on at once: the provider's requests dominate (two per room
 * reconciled, one per kick), and one after another they would not fit 500 rooms into a run.
 */
export const SWEEP_CONCURRENCY = 8;

/**
 * `task` over every item, at most SWEEP_CONCURRENCY at a time; the results in the items' order. After a failure no
 * new item is started, and the first error is thrown once those under way have settled, so nothing is left running
 * when the lease is given back.
 */
async function inParallel<T, R>(items: readonly T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return results;
}

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
