// How long to wait: between retries (exponential, with jitter so that many items failing together
// do not retry together), and how long a throttled key rests.

/** Attempt 1, 2, 3… → base × 2^(attempt−1), capped, then "equal jitter": half fixed, half random. */
export function backoffMs(attempt: number, baseMs: number, capMs = 30_000, random: () => number = Math.random): number {
	const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
	return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

const PACIFIC = new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hourCycle: 'h23', hour: 'numeric', minute: 'numeric', second: 'numeric' });

/** Per-day Gemini quotas reset at midnight Pacific time: the milliseconds until then (at least a minute). */
export function msUntilMidnightPacific(now: number): number {
	const parts = PACIFIC.formatToParts(new Date(now));
	const part = (type: string) => Number(parts.find((one) => one.type === type)?.value ?? 0);
	const elapsedMs = ((part('hour') % 24) * 3600 + part('minute') * 60 + part('second')) * 1000;
	return Math.max(60_000, 86_400_000 - elapsedMs);
}
