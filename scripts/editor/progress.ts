// What `npm run editor` is doing, in lines a person can follow: each step as it starts, with the
// seconds since the command started, and while a step runs longer than a few seconds (installing
// n8n takes minutes the first time) a line every few seconds with the step and its elapsed time.
export class Progress {
	private readonly started = performance.now();
	private current: { text: string; started: number } | undefined;
	private timer: NodeJS.Timeout | undefined;

	constructor(
		private readonly write: (line: string) => void,
		private readonly everyMs = 5_000,
	) {}

	private stamp(): string {
		return `[${String(Math.round((performance.now() - this.started) / 1000)).padStart(4)} s]`;
	}

	/** A new step: printed now, then every few seconds while it runs. */
	step(text: string): void {
		this.end();
		this.current = { text, started: performance.now() };
		this.write(`${this.stamp()} ${text}…`);
		this.timer = setInterval(() => {
			if (!this.current) return;
			const seconds = Math.round((performance.now() - this.current.started) / 1000);
			this.write(`${this.stamp()}   ${this.current.text}: ${seconds} s so far`);
		}, this.everyMs);
		this.timer.unref();
	}

	/** The running step's phase changed (e.g. from downloading to building): said now, kept for the periodic lines. */
	phase(text: string): void {
		if (!this.current) return this.step(text);
		this.current.text = text;
		this.write(`${this.stamp()}   ${text}…`);
	}

	/** Stops the periodic lines. */
	end(): void {
		if (this.timer) clearInterval(this.timer);
		this.timer = undefined;
		this.current = undefined;
	}
}
