// When a console tab says "Offline, retrying": one rule for the Follow-ups, Pipeline and Queue tabs
// (console/src/tab.ts re-exports it for them).

/**
 * A call in flight that has waited this long for its answer (polls run 2 s after the last one ends):
 * every tab then says it is offline, before the call is given up (15 s). A slow call that answers
 * sooner is a live tab, however long ago the last answer came (a 9 s board is slow, not offline).
 */
export const STALE_MS = 10_000;

/**
 * Offline: the last call failed, or the call in flight (asked at `askedAt`; null when no call is
 * waiting, or the tab is hidden) has waited STALE_MS since it was asked or since the tab was shown.
 */
export function isOffline(failed: boolean, askedAt: number | null, shownAt: number, now: number): boolean {
	return failed || (askedAt !== null && now - Math.max(askedAt, shownAt) > STALE_MS);
}
