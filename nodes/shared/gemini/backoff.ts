// How long to wait: between retries (exponential, with jitter so that many items failing together
// do not retry together), and how long a throttled key rests.

/** Attempt 1, 2, 3… → base × 2^(attempt−1), capped, then "equal jitter": half fixed, half random. */
export function backoffMs(attempt: number, baseMs: number, capMs = 30_000, random: () => number = Math.random): number {
	const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
	return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

const PACIFIC = new Intl.DateTimeFormat('en-US', {
	timeZone: 'America/Los_Angeles',
	hourCycle: 'h23',
	year: 'numeric',
	month: 'numeric',
	day: 'numeric',
	hour: 'numeric',
	minute: 'numeric',
	second: 'numeric',
});

/** Pacific wall-clock time at `instant`, read as if it were UTC (so its difference from `instant` is the offset). */
function pacificWallClock(instant: number): { wall: number; year: number; month: number; day: number } {
	const parts = PACIFIC.formatToParts(new Date(instant));
	const part = (type: string) => Number(parts.find((one) => one.type === type)?.value ?? 0);
	const [year, month, day] = [part('year'), part('month'), part('day')];
	return { wall: Date.UTC(year, month - 1, day, part('hour') % 24, part('minute'), part('second')), year, month, day };
}

/**
 * Per-day Gemini quotas reset at midnight Pacific time: the milliseconds until the next one (at
 * least a minute). The next midnight is found on the calendar, not as 24 hours after the last: the
 * days the clocks change are 23 and 25 hours long.
 */
export function msUntilMidnightPacific(now: number): number {
	const today = pacificWallClock(now);
	const midnightWall = Date.UTC(today.year, today.month - 1, today.day + 1);
	// The offset at midnight may differ from now's (a change at 02:00 lies between): read it there.
	const guess = midnightWall - (today.wall - Math.floor(now / 1000) * 1000);
	const midnight = midnightWall - (pacificWallClock(guess).wall - guess);
	return Math.max(60_000, midnight - now);
}
