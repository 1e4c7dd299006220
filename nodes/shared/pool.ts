// Runs async work over a list with at most `limit` calls in flight, results in input order, so a
// batch of n items takes about ⌈n / limit⌉ × one call's latency. `work` must not throw: it turns
// its own failures into results.
export async function mapWithConcurrency<T, R>(inputs: readonly T[], limit: number, work: (input: T, index: number) => Promise<R>): Promise<R[]> {
	const results = new Array<R>(inputs.length);
	let next = 0;
	const worker = async () => {
		while (next < inputs.length) {
			const index = next++;
			results[index] = await work(inputs[index], index);
		}
	};
	const workers = Math.max(1, Math.min(Math.floor(limit) || 1, inputs.length));
	await Promise.all(Array.from({ length: workers }, worker));
	return results;
}
