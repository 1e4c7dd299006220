// The rate setting: at most N Send API calls per second per Page, kept per Page for the whole n8n
// process, so two executions sending for the same Page share the budget instead of doubling it.
// Each call reserves the next free slot, 1/N s after the previous one, synchronously before any
// waiting, so concurrent callers never take the same slot and the average rate is exactly N
// however late timers fire.
// A bucket of one, not of N: a burst of N calls at once is what Meta's "flooding" throttle punishes.
// For the same reason a stalled process (a long GC pause, a starved CPU) must not wake up and fire
// every slot that passed meanwhile at once: a call also waits until half an interval after the
// last call actually started, so calls catch up at twice the rate at most, never all together.
import { sleep } from 'n8n-workflow';

class Pacer {
	private nextSlotAt = 0;
	private pausedUntil = 0;
	private lastStartAt = -Infinity;

	async waitForSlot(perSecond: number): Promise<void> {
		const intervalMs = 1000 / perSecond;
		const now = Date.now();
		const slot = Math.max(now, this.nextSlotAt, this.pausedUntil);
		this.nextSlotAt = slot + intervalMs;
		for (;;) {
			const at = Math.max(slot, this.pausedUntil, this.lastStartAt + intervalMs / 2);
			const current = Date.now();
			// Checked again after every wait: a throttle may have come back, another call may have started.
			if (at <= current) {
				this.lastStartAt = current;
				return;
			}
			await sleep(at - current);
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
