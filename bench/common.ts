// Helpers every benchmark uses (not one itself): its numeric command-line options and the median
// of its timings.

/** `--name N` from the command line, or `fallback` when it is not given. */
export function argument(name: string, fallback: number): number {
	const index = process.argv.indexOf(`--${name}`);
	return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** The middle value once sorted (the upper one of the two middle values of an even count). */
export function median(values: number[]): number {
	return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}
