// The rate setting: at most N Send API calls per second per Page. A token bucket holding one token
// (each call reserves the next free slot, 1/N s after the previous one), kept per Page for the whole
// n8n process, so two executions sending for the same Page share the budget instead of doubling it.
// Slots are reserved synchronously, before any waiting, so concurrent callers never take the same one.
import { sleep } from 'n8n-workflow';

class Pacer {
	private nextSlotAt = 0;

	async waitForSlot(perSecond: number): Promise<void> {
		const now = Date.now();
		const slot = Math.max(now, this.nextSlotAt);
		this.nextSlotAt = slot + 1000 / perSecond;
		if (slot > now) await sleep(slot - now);
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
