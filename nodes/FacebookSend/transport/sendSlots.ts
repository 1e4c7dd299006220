// The Page's send slots from the database (limit_take_send_slots, limit_pause_sends; see
// supabase/migrations/20261201000600_limits_send_rate.sql): every worker and n8n instance sending
// for the Page takes its start times from the same row, so together they keep to its rate, and a
// throttle one of them sees pauses them all.
// The slots are instants of the database's clock, kept as they are: servers keep their clocks in
// step (NTP; Supabase's do), and "when the answer arrived" would place them wrong, because answers
// take longer on a busy machine and two takes answered at different speeds would overlap. Each take
// also checks that this machine's clock agrees with the database's (NTP's way: the database's now
// against the middle of the round trip; the process keeps the measure of its fastest round trip,
// clocks drift, so an old measure counts as a little slower, its age and every round trip timed on
// the monotonic clock, which no clock step moves). A new measure that disagrees with the kept one by
// more than their two round trips allow means the clock was stepped (NTP, a VM resumed): the kept one
// is dropped. The clocks count as in step only when the measure proves them within a few ms (the
// offset and half the round trip it is unsure by); otherwise the measured offset is used, every
// slot half that round trip later so it is never early. A call keeps its full 20 ms to start while
// the measure is consistent with clocks in step (the offset within half the round trip and a few
// ms), and is then placed at most MAX_CLOCK_LATE_MS late (the clocks may be exactly in step); only a
// clock off by more than the measure can tell has what it leaves unsure taken from them. So that an
// answer coming back later than that still brings slots ahead of it, each take asks for slots that
// start no sooner than the fastest of the last three takes' round trips less MAX_CLOCK_LATE_MS
// after now (the lead).
// (Judged in step whenever the offset was within half the round trip, a worker 30 ms ahead and
// 60 ms from the database started every call 30 ms early: 11 in a second at 10 a second. Keeping
// the fastest measure whatever came after, with its age on the wall clock, a worker whose clock was
// stepped back kept the old offset and sent nothing for as long as the step, then bunched.)
// A take that fails for a moment (no SQLSTATE, a connection or rollback error) is repeated with the
// waits of the begin and record.
import type { IExecuteFunctions } from 'n8n-workflow';
import type { PauseSendsArgs, TakeSendSlotsArgs } from '../../shared/contract';
import { callRpc } from '../../shared/supabase';
import { repeatWhileTransient } from './sendState';
import { chunkFor, HORIZON_MS, LATE_MS, MIN_LATE_MS, type SlotSource, type TakenSlots } from '../helpers/pacer';
import type { GraphTarget } from './graphSend';

/** One line of at most 500 characters, as limit_pause_sends keeps it (no C0, DEL, C1 or line separators). */
function oneLine(text: string): string {
	const isBreak = (code: number) => code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029;
	return [...text]
		.slice(0, 500)
		.map((char) => (isBreak(char.codePointAt(0) ?? 0) ? ' ' : char))
		.join('');
}

interface ClockMeasure {
	/** The database's clock minus this machine's, ms. */
	offset: number;
	/** The round trip it was measured over, ms: the offset is right within half of it either way. */
	roundTripMs: number;
	/** When (performance.now(): monotonic, unmoved by a step of the wall clock). */
	measuredAt: number;
}

/** Per database (its URL): one measure serves every batch of the process. */
const clocks = new Map<string, ClockMeasure>();
/** How unsure an old measure becomes: clocks kept by NTP drift well under 0.1 ms a second. */
const DRIFT_PER_MS = 1e-4;
/** What a measure's offset may be off by, either way twice over: its round trip, and the drift since. */
const unsureBy = (measure: ClockMeasure, monotonicNow: number) => measure.roundTripMs + Math.max(0, monotonicNow - measure.measuredAt) * DRIFT_PER_MS;

/**
 * The measure to use: the kept one while it is as sure as the new one and agrees with it, else the
 * new one. Both offsets are right within half of what each is unsure by; further apart than that,
 * one clock was stepped since the kept one was taken, and only the new one knows the clocks as they are.
 */
function measureToKeep(known: ClockMeasure | undefined, measure: ClockMeasure): ClockMeasure {
	if (!known) return measure;
	const knownUnsure = unsureBy(known, measure.measuredAt);
	const agree = Math.abs(known.offset - measure.offset) <= (knownUnsure + measure.roundTripMs) / 2;
	return agree && knownUnsure <= measure.roundTripMs ? known : measure;
}
/** The longest pause limit_pause_sends records (a day, ms). */
export const MAX_PAUSE_MS = 86_400_000;
/** Clocks kept by NTP agree within a few ms. */
const CLOCK_TOLERANCE_MS = 5;
/**
 * While the measure is consistent with clocks in step, the most a slot is placed after its instant
 * for what the measure leaves unsure: with its 20 ms to start, a call comes at most 80 ms after its
 * instant on the database's clock, and 20 of the 100 ms the 1.1 spacing leaves stay for the way out.
 */
export const MAX_CLOCK_LATE_MS = 60;
/** limit_take_send_slots takes a lead of at most 2 s. */
const MAX_LEAD_MS = 2000;
/** How many of the last takes' round trips the lead goes by. */
const LEAD_TAKES = 3;
/** Per database (its URL): the round trips of the process's last takes, ms, newest last. */
const lastRoundTrips = new Map<string, number[]>();

/**
 * How much later than now the next take's first slot may start (ms): what the answer may need to
 * come back beyond the MAX_CLOCK_LATE_MS a slot is placed late, bounded by a take's whole round trip
 * (its way back cannot be longer), the fastest of the last three: a worker whose answers are slow
 * every time gets its lead, one slow answer now and then (a busy moment) does not make the next
 * takes skip slots. 0 until a take was timed, and while answers come fast.
 */
export function leadFor(roundTripsMs: number[] | undefined): number {
	if (!roundTripsMs || roundTripsMs.length === 0) return 0;
	return Math.min(MAX_LEAD_MS, Math.max(0, Math.ceil(Math.min(...roundTripsMs)) - MAX_CLOCK_LATE_MS));
}

export function databaseSlots(context: IExecuteFunctions, target: GraphTarget, databaseUrl: string): SlotSource {
	let pausedUntil = 0;

	return {
		chunk: (perSecond) => chunkFor(perSecond),
		withinHorizon: true,
		lead: () => leadFor(lastRoundTrips.get(databaseUrl)),

		async take(count: number, perSecond: number): Promise<TakenSlots> {
			const lead = leadFor(lastRoundTrips.get(databaseUrl));
			// The lead is always sent, 0 included: a database without …2760 then refuses the first take
			// (the function with p_lead_ms is missing: apply the migrations), not only once answers slow down.
			const args: TakeSendSlotsArgs = { p_page_id: target.pageId, p_count: count, p_per_second: perSecond, p_graph_url: target.baseUrl, p_lead_ms: lead };
			// A blip is taken again, as the begin and the record are: every batch of the process
			// waiting for a slot would otherwise give up its unsent contacts. Harmless: a take whose
			// answer was lost holds at most a quarter of a second of slots nobody uses.
			const {
				sent,
				rows: [answer],
			} = await repeatWhileTransient(context, `taking the send slots of Page ${target.pageId}`, async () => ({
				sent: performance.now(),
				rows: await callRpc(context, 'limit_take_send_slots', args),
			}));
			const arrivedAt = performance.now();
			const arrived = Date.now();
			const databaseNow = Date.parse(answer.database_now);
			// The round trip on the monotonic clock, its middle on the wall clock as it is now.
			const roundTripMs = arrivedAt - sent;
			lastRoundTrips.set(databaseUrl, [...(lastRoundTrips.get(databaseUrl) ?? []), roundTripMs].slice(-LEAD_TAKES));
			const measure = { offset: databaseNow - (arrived - roundTripMs / 2), roundTripMs, measuredAt: arrivedAt };
			const clock = measureToKeep(clocks.get(databaseUrl), measure);
			clocks.set(databaseUrl, clock);
			const unsure = unsureBy(clock, arrivedAt);
			// In step only when the measure proves it: the offset, and whatever it is unsure of, within
			// the few ms a clock may be off. Never early otherwise: the slot goes to its latest local time.
			const inStep = Math.abs(clock.offset) + unsure / 2 <= CLOCK_TOLERANCE_MS;
			// The full 20 ms to start while the measure is consistent with clocks in step (the offset within
			// half the round trip and a few ms): a worker in step but 20-60 ms from the database (hosted
			// Supabase) is never proven in step, and with 20 ms less the round trip it lost most slots.
			// Only a worker whose clock is off by more than the measure can tell gets less.
			const consistent = Math.abs(clock.offset) <= unsure / 2 + CLOCK_TOLERANCE_MS;
			// Consistent with clocks in step, the clocks may well be in step (NTP): a slot placed at its
			// latest local time is then that late on the database's clock too (as late as the measure's
			// answer took to come back), so it is placed at most MAX_CLOCK_LATE_MS late (never early for a
			// clock up to that far ahead). Placed as late as the measure left unsure, a fresh worker whose
			// first answers came 100-800 ms late on a loaded machine started its calls up to 270 ms late
			// while the other workers started theirs on time, and as faster answers replaced its measure
			// its own slots came closer than the spacing: 11 calls in a second at 10 a second
			// (test/nodes/FacebookSend/slot-clocks.test.ts, shared-rate.test.ts).
			const placedLate = inStep ? 0 : consistent ? Math.min(MAX_CLOCK_LATE_MS, unsure / 2 - clock.offset) : unsure / 2 - clock.offset;
			const local = (databaseMs: number) => databaseMs + placedLate;
			const allowance = inStep || consistent ? LATE_MS : Math.max(MIN_LATE_MS, LATE_MS - unsure);
			const slots = answer.starts_in_ms.map((ms) => {
				const at = local(databaseNow + ms);
				return { at, latest: at + allowance };
			});
			if (answer.paused_until) pausedUntil = Math.max(pausedUntil, local(Date.parse(answer.paused_until)));
			return {
				slots,
				...(slots.length === 0 && { askAgainAt: local(databaseNow + answer.next_in_ms) - HORIZON_MS - leadFor(lastRoundTrips.get(databaseUrl)) }),
				...(pausedUntil > arrived && { pausedUntil }),
			};
		},

		async pause(ms: number, reason: string): Promise<void> {
			// limit_pause_sends takes 1 ms to a day: a long Backoff doubled over many retries can ask
			// for more, and is paused a day rather than not at all.
			const pauseMs = Math.min(MAX_PAUSE_MS, Math.max(1, Math.round(ms)));
			pausedUntil = Math.max(pausedUntil, Date.now() + pauseMs);
			const args: PauseSendsArgs = { p_page_id: target.pageId, p_pause_ms: pauseMs, p_reason: oneLine(reason), p_graph_url: target.baseUrl };
			try {
				await callRpc(context, 'limit_pause_sends', args);
			} catch (error) {
				// This batch pauses anyway; the other workers learn of the throttle from Facebook
				// itself, and from the database once it answers again.
				context.logger.warn(`Leadflow Facebook Send: the pause of Page ${target.pageId} could not be recorded in Supabase: ${(error as Error).message}`);
			}
		},

		pausedUntil: () => pausedUntil,
	};
}
