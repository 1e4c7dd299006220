/**
 * Polls `condition` every `intervalMs` (50 ms unless told): true once it holds, false if it still
 * does not after `timeoutMs`. The condition may be asynchronous (a request, a file read).
 */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (!(await condition())) {
		if (Date.now() > deadline) return false;
		await new Promise((resolve) => setTimeout(resolve, intervalMs));
	}
	return true;
}
