// The rate setting: at most N Send API calls per second per Page. Where the start times come from
// is a SlotSource; the Pacer only executes them:
//   - the database (slotSources.ts, recorded mode): every worker and n8n instance takes its slots
//     from the Page's row (limit_take_send_slots), so together they never exceed the Page's rate,
//     and a throttle one of them sees pauses them all (limit_pause_sends);
//   - this process (localSlotsFor, standalone mode without Supabase): the same schedule kept in
//     memory, shared by every execution of the process sending for the Page.
// Slots follow each other 1.1 / N s apart (a token bucket of one, not of N: a burst of N calls at
// once is what Meta's "flooding" throttle punishes), so that any one-second window holds at most N
// starts even when a start comes up to 100 ms after its slot. A call starts at its slot's time. A
// database slot it could not start soon enough after its time (LATE_MS, less what the source is
// unsure of the slot's time) is given up; this process's own schedule instead keeps each start one
// spacing after the last. Either way a stalled process or a long GC pause never fires missed slots
// together, and never makes a second hold more than N.
// Every wait has the caller's deadline (a recorded send's: the last moment its lease lets it start)
// and its execution's cancel signal: a slot, or the end of a pause, that comes after the deadline is
// not waited for (the caller says at once that its turn comes too late), and a Stop ends the wait.
import { channel } from 'node:diagnostics_channel';
import { sleep } from 'n8n-workflow';

/** The spacing of slots: 10 % more than 1 / rate (see supabase/migrations/20261201000630_limits_send_spacing.sql). */
export const SLOT_SPACING = 1.1;
/** A database slot not started within this many ms of its time is given up: of the 100 ms the spacing allows, the rest is the way to Facebook. */
export const LATE_MS = 20;
/** However unsure a source is of a slot's time, a call may start this late (timers fire a ms or two late). */
export const MIN_LATE_MS = 5;
/** A source hands out slots at most this far ahead (ms): a throttle reported by another worker holds this one back within it. */
export const HORIZON_MS = 250;

export interface Slot {
	/** When the call may start: epoch ms, this machine's clock. */
	at: number;
	/** The last moment it may start; after that the slot is given up. */
	latest: number;
}

/** What a caller of `waitForSlot` waits within. */
export interface SlotWait {
	/** The last moment the call may start (epoch ms): a slot or a pause's end at or after it is not waited for. */
	deadline?: number;
	/** The execution's cancel signal: a Stop ends the wait. */
	signal?: AbortSignal;
}

/**
 * Each call the pacer lets start, as it lets it: `{ at, slot }` (epoch ms, and the slot it starts in),
 * for whoever watches the pace (a test of the shared rate, a monitoring agent). Nothing is published
 * while no one subscribes.
 */
export const slotStarts = channel('leadflow:facebook-send:slot-start');

/** Why `waitForSlot` let a caller go without a slot: its turn comes at or after its deadline, or its execution was stopped. */
export type SlotRefusal = 'too_late' | 'cancelled';

/** `sleep`, ended early by `signal`. */
export function sleepUnless(ms: number, signal?: AbortSignal): Promise<void> {
	if (!signal) return sleep(ms);
	if (signal.aborted) return Promise.resolve();
	return new Promise((resolve) => {
		const done = () => {
			clearTimeout(timer);
			signal.removeEventListener('abort', done);
			resolve();
		};
		const timer = setTimeout(done, ms);
		signal.addEventListener('abort', done, { once: true });
	});
}

export interface TakenSlots {
	/** Ascending; may be fewer than asked for, or none (others took the next ones). */
	slots: Slot[];
	/** When none was handed out: when to ask again (epoch ms, this machine's clock). */
	askAgainAt?: number;
	/** A pause the source knows of (epoch ms, this machine's clock). */
	pausedUntil?: number;
}

export interface SlotSource {
	/** The most slots one take should ask for at this rate. */
	chunk(perSecond: number): number;
	/** Every slot a take hands out starts within HORIZON_MS (the database's); this process's own schedule has no horizon. */
	withinHorizon?: boolean;
	/** How much later than now the next take's first slot may start (ms; the database's, for a worker whose answers come back late). */
	lead?(): number;
	/** The earliest the next call may start whatever its slot says (this process's own starts), epoch ms. */
	notBefore?(): number;
	/** A call started now at this rate. */
	started?(at: number, perSecond: number): void;
	take(count: number, perSecond: number): Promise<TakenSlots>;
	/** Graph throttled the Page: no slot before `ms` from now, for every taker of this source. */
	pause(ms: number, reason: string): Promise<void>;
	/** A pause this process knows of (epoch ms; 0 for none). */
	pausedUntil(): number;
}

/** At most `HORIZON_MS` of slots at a time, between 1 and 50. */
export function chunkFor(perSecond: number, max = 50): number {
	return Math.max(1, Math.min(max, Math.floor((perSecond * HORIZON_MS) / (1000 * SLOT_SPACING))));
}

/**
 * Executes the start times a source hands out: each caller gets the earliest slot not given to
 * another, waits for its time (and for any pause), and starts. Slots are asked for as callers need
 * them: when fewer are in hand than callers waiting (and calls announced with `expect`), twice that
 * many at most, never more than a chunk, one take in flight at a time, and from a source with a
 * horizon not before half of what was taken is behind. So a batch whose calls are
 * slow (Facebook answering late, few Parallel Sends) never holds slots it cannot use, which other
 * workers could.
 */
export class Pacer {
	private slots: Slot[] = [];
	private expected = 0;
	private waiting = 0;
	private pausedUntil = 0;
	private taking: Promise<void> | undefined;
	private askAgainAt = 0;
	/** The time of the latest slot taken (epoch ms). */
	private takenUntil = 0;
	/** The largest lead the takes of the slots up to takenUntil were asked with (ms): their horizon counts from now plus that lead. */
	private heldLead = 0;
	/** The last take that failed, and how many have failed so far: it is thrown to the callers that were waiting when it failed. */
	private failure: unknown;
	private failures = 0;

	constructor(private readonly source: SlotSource) {}

	/** The batch will ask for `count` more slots (negative: fewer than it said). */
	expect(count: number): void {
		this.expected = Math.max(0, this.expected + count);
	}

	/**
	 * Resolves with undefined when the caller may start its call, or why it may not: its slot (or
	 * the end of the Page's pause) comes at or after `wait.deadline` ('too_late', said at once rather
	 * than after sleeping to it), or `wait.signal` was aborted ('cancelled'). Throws when the source
	 * cannot be read. `planned`: this is one of the calls announced with `expect` (an item's first
	 * attempt, not a retry).
	 */
	async waitForSlot(perSecond: number, planned = false, wait: SlotWait = {}): Promise<SlotRefusal | undefined> {
		this.waiting += 1;
		if (planned && this.expected > 0) this.expected -= 1;
		const failuresBefore = this.failures;
		const deadline = wait.deadline ?? Infinity;
		try {
			for (;;) {
				const slot = await this.reserve(perSecond, failuresBefore, deadline, wait.signal);
				if (typeof slot === 'string') return slot;
				// Re-checked after every wait: a throttle may have paused the Page meanwhile.
				for (;;) {
					if (wait.signal?.aborted) {
						this.giveBack(slot);
						return 'cancelled';
					}
					const now = Date.now();
					const paused = Math.max(this.pausedUntil, this.source.pausedUntil());
					if (slot.at < paused) break;
					const startAt = Math.max(slot.at, this.source.notBefore?.() ?? 0);
					if (startAt >= deadline) {
						this.giveBack(slot);
						return 'too_late';
					}
					if (now < startAt) {
						await sleepUnless(startAt - now, wait.signal);
						continue;
					}
					if (now > slot.latest) break;
					this.source.started?.(now, perSecond);
					if (slotStarts.hasSubscribers) slotStarts.publish({ at: now, slot });
					return undefined;
				}
			}
		} finally {
			this.waiting -= 1;
		}
	}

	/** A slot a caller will not use goes back to the hand, for a caller of another batch whose deadline is later. */
	private giveBack(slot: Slot): void {
		this.slots.push(slot);
		this.slots.sort((a, b) => a.at - b.at);
	}

	/** Graph throttled the Page: this pacer waits `ms`, and so does every taker of the source. */
	async pause(ms: number, reason: string): Promise<void> {
		this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
		await this.source.pause(ms, reason);
	}

	private async reserve(perSecond: number, failuresBefore: number, deadline: number, signal?: AbortSignal): Promise<Slot | SlotRefusal> {
		for (;;) {
			if (this.failures > failuresBefore) throw this.failure;
			if (signal?.aborted) return 'cancelled';
			const now = Date.now();
			this.followClockStep(now);
			const paused = Math.max(this.pausedUntil, this.source.pausedUntil());
			// A pause that ends at or after the deadline: no slot can come in time.
			if (paused >= deadline) return 'too_late';
			while (this.slots.length > 0 && (this.slots[0].latest < now || this.slots[0].at < paused)) this.slots.shift();
			// The earliest slot in hand is at or after the deadline: so is every other one (left for callers with a later deadline).
			if (this.slots.length > 0 && this.slots[0].at >= deadline) return 'too_late';
			const slot = this.slots.shift();
			if (slot !== undefined) {
				// Ask for more while the calls after this one still have slots, so they never wait for the database.
				if (this.source.chunk(perSecond) > 1) void this.refill(perSecond, 1);
				return slot;
			}
			// Paused, or nothing free soon enough (other workers hold the next slots): ask again when
			// slots can be had, not before (they would only be given up). No slot handed out then
			// starts before it: at or after the deadline, the caller's turn comes too late.
			const askAt = Math.max(this.askAgainAt, paused - HORIZON_MS, this.nextTakeAt(perSecond));
			if (askAt >= deadline) return 'too_late';
			if (askAt > now && !this.taking) await sleepUnless(askAt - now, signal);
			else await this.refill(perSecond);
		}
	}

	/**
	 * A take never hands out slots further ahead than HORIZON_MS (and a few ms a placement may add):
	 * the latest slot taken further ahead than that means this machine's clock was stepped back (NTP,
	 * a VM resumed) since, and the slots in hand, the time of the latest and when to ask again are on
	 * the clock from before the step. Those slots are dropped (the source places new ones on the clock
	 * as it is) and the source is asked again at once. Kept, they held every call of a running batch
	 * back as long as the step, and a call whose deadline came before them was refused too_late.
	 * "Further ahead" counts from the lead the slots were asked with, not the source's lead now: a
	 * fast answer lowers the lead, and its own take's slots (asked a lead after now) were dropped as
	 * if the clock had been stepped, lost to the Page (the database had moved past them).
	 */
	private followClockStep(now: number): void {
		// Nothing taken is ahead any more: no slot in hand was asked with the old lead.
		if (this.takenUntil <= now) this.heldLead = 0;
		const furthest = now + HORIZON_MS + LATE_MS + Math.max(this.heldLead, this.source.lead?.() ?? 0);
		if (!this.source.withinHorizon || this.takenUntil <= furthest) return;
		this.slots = this.slots.filter((slot) => slot.at <= furthest);
		this.takenUntil = this.slots.length > 0 ? this.slots[this.slots.length - 1].at : 0;
		if (this.slots.length === 0) this.heldLead = 0;
		this.askAgainAt = 0;
	}

	/**
	 * A source that hands out slots up to HORIZON_MS ahead is asked again once half of what was
	 * taken is behind: sooner, a take would only get the few slots that opened since the last one
	 * (every slot taken is soon handed to a waiting call, so the pacer's hand is empty while the calls
	 * it served still wait for their times: with many calls waiting, it was one round trip a slot).
	 * A source whose slots start a lead after now is asked that much sooner.
	 */
	private nextTakeAt(perSecond: number): number {
		return this.source.chunk(perSecond) > 1 ? this.takenUntil - HORIZON_MS / 2 - (this.source.lead?.() ?? 0) : 0;
	}

	/**
	 * One take at a time, when the callers waiting (less `served`, those already given a slot) and
	 * those the batch expects outnumber the slots in hand; a failed take is thrown to every caller
	 * waiting when it failed (one who comes later asks again: a pacer shared by several batches is
	 * not broken for good by one failed round trip).
	 */
	private refill(perSecond: number, served = 0): Promise<void> {
		const demand = this.waiting - served + this.expected;
		const now = Date.now();
		if (this.taking || this.slots.length >= demand || this.askAgainAt > now || this.nextTakeAt(perSecond) > now) return this.taking ?? Promise.resolve();
		const wanted = Math.max(1, Math.min(this.source.chunk(perSecond), 2 * demand - this.slots.length));
		const askedLead = this.source.lead?.() ?? 0;
		this.taking = this.source
			.take(wanted, perSecond)
			.then(
				({ slots, pausedUntil, askAgainAt }) => {
					if (pausedUntil !== undefined) this.pausedUntil = Math.max(this.pausedUntil, pausedUntil);
					this.askAgainAt = slots.length === 0 ? (askAgainAt ?? Date.now() + 1) : 0;
					if (slots.length > 0) {
						this.takenUntil = Math.max(this.takenUntil, slots[slots.length - 1].at);
						this.heldLead = Math.max(this.heldLead, askedLead);
					}
					this.slots.push(...slots);
					this.slots.sort((a, b) => a.at - b.at);
				},
				(error: unknown) => {
					this.failure = error;
					this.failures += 1;
				},
			)
			.finally(() => {
				this.taking = undefined;
			});
		return this.taking;
	}
}

/**
 * This process's own schedule for a Page: what the database does, kept in memory. It also knows
 * when calls really started, so instead of giving up late slots it keeps every start one spacing
 * after the one before: after a stall, calls go on at the rate, never faster.
 */
class LocalSlots implements SlotSource {
	private nextSlotAt = 0;
	private paused = 0;
	private lastStartAt = -Infinity;
	private lastSpacing = 0;

	chunk(): number {
		// Taking costs nothing here: one slot at a time, so none is ever left unused.
		return 1;
	}

	async take(count: number, perSecond: number): Promise<TakenSlots> {
		const spacing = (SLOT_SPACING * 1000) / perSecond;
		const first = Math.max(Date.now(), this.nextSlotAt, this.paused);
		this.nextSlotAt = first + count * spacing;
		return { slots: Array.from({ length: count }, (_, k) => ({ at: first + k * spacing, latest: Infinity })) };
	}

	notBefore(): number {
		return this.lastStartAt + this.lastSpacing;
	}

	started(at: number, perSecond: number): void {
		this.lastStartAt = at;
		this.lastSpacing = (SLOT_SPACING * 1000) / perSecond;
		this.nextSlotAt = Math.max(this.nextSlotAt, at + this.lastSpacing);
	}

	async pause(ms: number): Promise<void> {
		this.paused = Math.max(this.paused, Date.now() + ms);
		this.nextSlotAt = Math.max(this.nextSlotAt, this.paused);
	}

	pausedUntil(): number {
		return this.paused;
	}
}

const localSources = new Map<string, LocalSlots>();

/** The process's own schedule of one Page (keyed by where its calls go, so a simulator and Graph never share). */
export function localSlotsFor(pageKey: string): SlotSource {
	let source = localSources.get(pageKey);
	if (!source) {
		source = new LocalSlots();
		localSources.set(pageKey, source);
	}
	return source;
}

/** A pacer over the process's own schedule of one Page (standalone sends, and tests of the executor). */
export function pacerFor(pageKey: string): Pacer {
	return new Pacer(localSlotsFor(pageKey));
}

/**
 * The batches of this process sending for one Page through one database share one pacer: one take
 * of the Page's slots at a time for all of them, sized by all their calls, and each slot goes to
 * the first call waiting, whichever batch it is in. With a pacer each, overlapping batches (the
 * shipped workflow sends its batches in sub-executions it does not wait for) raced each other for
 * the Page's row, each holding slots for its own calls only, and a slot a batch could not start in
 * time was lost to all: gaps in the pace. The takes go through the newest batch's source (its
 * execution's credential), the other batches' sources wait their turn; the entry ends with the last
 * batch, so nothing of it outlives the sends that used it.
 */
interface SharedPacer {
	pacer: Pacer;
	sources: SlotSource[];
}

const sharedPacers = new Map<string, SharedPacer>();

/** A source that takes through the newest of the batches' own sources. */
function throughNewest(sources: SlotSource[]): SlotSource {
	const newest = () => sources[sources.length - 1];
	return {
		chunk: (perSecond) => newest().chunk(perSecond),
		lead: () => newest().lead?.() ?? 0,
		take: (count, perSecond) => newest().take(count, perSecond),
		pause: (ms, reason) => newest().pause(ms, reason),
		pausedUntil: () => Math.max(0, ...sources.map((source) => source.pausedUntil())),
	};
}

/**
 * Runs `send` with the pacer of `key` (the database, the Graph URL and the Page), shared with every
 * other batch of the process running meanwhile; `source` is this batch's way to the Page's slots.
 */
export async function withSharedPacer<T>(key: string, source: SlotSource, send: (pacer: Pacer) => Promise<T>): Promise<T> {
	let entry = sharedPacers.get(key);
	if (!entry) {
		const sources: SlotSource[] = [];
		entry = { sources, pacer: new Pacer(throughNewest(sources)) };
		sharedPacers.set(key, entry);
	}
	const { sources } = entry;
	sources.push(source);
	try {
		return await send(entry.pacer);
	} finally {
		sources.splice(sources.indexOf(source), 1);
		if (sources.length === 0 && sharedPacers.get(key) === entry) sharedPacers.delete(key);
	}
}
