// When a console tab says "Offline, retrying" (console/src/offline.ts, the rule of every tab), without a
// browser: a failed call, or a call in flight that has waited 10 s for its answer. A slow call that
// answers sooner is a live tab however long ago the last answer came: polls start 2 s after the last
// one ends, so timing from the last answer said offline for every board taking more than 8 s, and
// flipped between "Offline" and "Updated" on each poll while every call answered.
import { isOffline, STALE_MS } from '../../console/src/offline';

const SHOWN = 1_000_000;

describe('the console\'s offline rule', () => {
	it('is live while a slow call is still within its 10 s, though the last answer came longer ago', () => {
		const lastAnswer = SHOWN + 5_000;
		const asked = lastAnswer + 2_000;
		const now = asked + 9_000;
		expect(now - lastAnswer).toBeGreaterThan(STALE_MS);
		expect(isOffline(false, asked, SHOWN, now)).toBe(false);
	});

	it('is offline once the call in flight has waited more than 10 s, before it is given up at 15 s', () => {
		const asked = SHOWN + 7_000;
		expect(isOffline(false, asked, SHOWN, asked + STALE_MS)).toBe(false);
		expect(isOffline(false, asked, SHOWN, asked + STALE_MS + 1)).toBe(true);
	});

	it('counts the wait from when the tab was shown when the call was asked before', () => {
		const asked = SHOWN - 30_000;
		expect(isOffline(false, asked, SHOWN, SHOWN + 9_000)).toBe(false);
		expect(isOffline(false, asked, SHOWN, SHOWN + STALE_MS + 1)).toBe(true);
	});

	it('is live with no call waiting, and offline whenever the last call failed', () => {
		expect(isOffline(false, null, SHOWN, SHOWN + 60_000)).toBe(false);
		expect(isOffline(true, null, SHOWN, SHOWN + 1)).toBe(true);
		expect(isOffline(true, SHOWN, SHOWN, SHOWN + 1)).toBe(true);
	});
});
