// The pacer of a running batch when this machine's wall clock is stepped back (NTP, a VM resumed):
// the slots it holds, the time of the latest it took and when to ask again were placed on the clock
// from before the step. The source here hands out slots as the database's does (one spacing apart,
// within HORIZON_MS of its now, on this machine's clock as it is at the take), so nothing depends on
// how fast the machine is: what is asserted is which slots the pacer hands out and whether it asks again.
import { HORIZON_MS, LATE_MS, Pacer, SLOT_SPACING, type Slot, type SlotSource, type TakenSlots } from '../../../nodes/FacebookSend/helpers/pacer';

const realNow = Date.now.bind(Date);
/** The wall clock's step: Date.now answers the real time plus this. */
let skewMs = 0;
beforeAll(() => {
	Date.now = () => realNow() + skewMs;
});
afterAll(() => {
	Date.now = realNow;
});
beforeEach(() => {
	skewMs = 0;
});

const PER_SECOND = 20;
const SPACING = (SLOT_SPACING * 1000) / PER_SECOND;

/**
 * The database's slots, one spacing apart within the horizon of its now (its clock is the real one,
 * never stepped), placed on this machine's clock as it is at the take (the measure of sendSlots.ts
 * follows a step); each take counted.
 */
function source(): SlotSource & { takes: number } {
	/** The database's next free slot, on its own clock. */
	let nextAt = 0;
	const src = {
		takes: 0,
		withinHorizon: true,
		chunk: () => Math.max(1, Math.floor((PER_SECOND * HORIZON_MS) / (1000 * SLOT_SPACING))),
		async take(count: number): Promise<TakenSlots> {
			src.takes += 1;
			const databaseNow = realNow();
			nextAt = Math.max(nextAt, databaseNow);
			const slots: Slot[] = [];
			while (slots.length < count && nextAt <= databaseNow + HORIZON_MS) {
				slots.push({ at: nextAt + skewMs, latest: nextAt + skewMs + LATE_MS });
				nextAt += SPACING;
			}
			return slots.length > 0 ? { slots } : { slots, askAgainAt: nextAt + skewMs - HORIZON_MS };
		},
		pause: async () => undefined,
		pausedUntil: () => 0,
	};
	return src;
}

test('after the clock is stepped back 3 s, a running batch takes new slots at once: its call starts, not refused too_late before its deadline', async () => {
	const slots = source();
	const pacer = new Pacer(slots);
	// The batch announces 10 calls: the first take holds a chunk of slots (4 at 20 a second).
	pacer.expect(10);
	await expect(pacer.waitForSlot(PER_SECOND, true)).resolves.toBeUndefined();
	// One take, or two: handing out the first slot asks for more once half of the chunk is behind
	// (about 40 ms at 20 a second), which a busy machine reaches before this line.
	const takesBefore = slots.takes;
	expect(takesBefore).toBeGreaterThanOrEqual(1);
	// NTP steps the clock back 3 s; the batch's lease leaves its next call 2 s (on the clock as it is).
	skewMs = -3000;
	const deadline = Date.now() + 2000;
	// Kept, the slots in hand were 3 s ahead on the new clock, after the deadline: too_late, and
	// without a deadline nothing was sent for the whole step.
	await expect(pacer.waitForSlot(PER_SECOND, true, { deadline })).resolves.toBeUndefined();
	expect(slots.takes).toBeGreaterThan(takesBefore);
	// And the next ones follow on the new clock: each starts before its deadline (waitForSlot says
	// too_late for a slot at or after it).
	for (let call = 0; call < 3; call++) await expect(pacer.waitForSlot(PER_SECOND, true, { deadline })).resolves.toBeUndefined();
});

test('slots taken with a lead are kept when the take\'s own fast answer lowers the lead: no clock step, no second take', async () => {
	// The source's lead goes by its last round trips (sendSlots.ts): three slow answers gave 740 ms,
	// and this take's answer comes back fast, so the lead is 0 by the time its slots are in hand.
	// Judged against the lead as it is then, the slots (asked 740 ms after now) looked taken before a
	// clock step back and were dropped: the pacer took again at once, and the dropped slots were lost
	// to the Page (the database had moved its next free slot past them).
	let lead = 740;
	const takes: number[] = [];
	const src: SlotSource = {
		withinHorizon: true,
		chunk: () => 3,
		lead: () => lead,
		async take(count: number): Promise<TakenSlots> {
			const asked = lead;
			takes.push(asked);
			await new Promise((resolve) => setTimeout(resolve, 20));
			lead = 0;
			const now = Date.now();
			// Generous to start: what is asserted is which slots the pacer keeps, not how fast this machine is.
			const slots = Array.from({ length: Math.min(count, 3) }, (_, k) => ({ at: now + asked + k * 110, latest: now + asked + k * 110 + 2000 }));
			return { slots };
		},
		pause: async () => undefined,
		pausedUntil: () => 0,
	};
	const pacer = new Pacer(src);
	pacer.expect(1);
	const asked = Date.now();
	await expect(pacer.waitForSlot(10, true, { deadline: Date.now() + 5000 })).resolves.toBeUndefined();
	// The call started in the first take's first slot, a lead after it was asked for.
	expect(Date.now() - asked).toBeGreaterThanOrEqual(740);
	expect(takes).toEqual([740]);
});
