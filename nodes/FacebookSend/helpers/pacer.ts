// The rate setting: at most N Send API calls per second per Page. A token bucket holding one token
// (each call reserves the next free slot, 1/N s after the previous one), kept per Page for the whole
// n8n process, so two executions sending for the same Page share the budget instead of doubling it.
// Slots are reserved synchronously, before any waiting, so concurrent callers never take the same
// one: however many sends are in flight, their calls start at least 1/N s apart.
// A bucket of one, not of N: a burst of N calls at once is what Meta's "flooding" throttle punishes.
import { sleep } from 'n8n-workflow';

class Pacer {
	private nextSlotAt = 0;
	private pausedUntil = 0;

	async waitForSlot(perSecond: number): Promise<void> {
		for (;;) {
			const now = Date.now();
			const slot = Math.max(now, this.nextSlotAt, this.pausedUntil);
			this.nextSlotAt = slot + 1000 / perSecond;
			if (slot > now) await sleep(slot - now);
			// A throttle that came back while this call waited for its slot: wait it out as well.
			if (this.pausedUntil <= Date.now()) return;
		}
	}

	/**
	 * Graph throttled the Page: no call for it starts before `until` (epoch ms), whichever execution
	 * or parallel send asks, including calls that already hold a slot. Without this, the other sends
	 * in flight would keep calling a Page that is being throttled, each making the throttle last longer.
	 */
	pauseUntil(until: number): void {
		this.pausedUntil = Math.max(this.pausedUntil, until);
	}
}

const pacers = new Map<string, Pacer>();

/** The shared pacer of one Page (keyed by where its calls go, so a simulator and Graph never share). */
export function pacerFor(pageKey: string): Pacer {
	let pacer = pacers.get(pageKey);
	if (!pacer) {
		pacer = new Pacer();
		pacers.set(pageKey, pacer);
	}
	return pacer;
}

export type { Pacer };
