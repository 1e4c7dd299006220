// What a rate limit looks like from the receiving side: the simulators log when each request
// arrived, and these read the log the way Facebook would count.

/** The most arrivals inside any window of `windowMs` (half-open [t, t + windowMs)), and where it starts. */
export function mostInAnyWindow(times: number[], windowMs = 1000): { count: number; from: number } {
	const sorted = [...times].sort((a, b) => a - b);
	let best = { count: 0, from: sorted[0] ?? 0 };
	let first = 0;
	for (let last = 0; last < sorted.length; last++) {
		while (sorted[last] - sorted[first] >= windowMs) first++;
		if (last - first + 1 > best.count) best = { count: last - first + 1, from: sorted[first] };
	}
	return best;
}

/** Arrivals strictly inside (from, to). */
export function arrivalsBetween(times: number[], from: number, to: number): number[] {
	return times.filter((time) => time > from && time < to);
}
