// Every request a simulator received, in arrival order, so tests can assert what the nodes sent
// (bodies, keys used for rotation, how many retries) and what each got back.
import type { LoggedRequest } from './protocol';

/** A long `npm run simulators` session must not grow without bound; tests stay far below this. */
const DEFAULT_CAPACITY = 50_000;

export class RequestLog {
	private entries: LoggedRequest[] = [];
	private nextSeq = 1;

	constructor(private readonly capacity = DEFAULT_CAPACITY) {}

	/** Adds an entry; the caller keeps the object and fills in the outcome as it happens. */
	record(entry: Omit<LoggedRequest, 'seq'>): LoggedRequest {
		const logged: LoggedRequest = { seq: this.nextSeq++, ...entry };
		this.entries.push(logged);
		if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
		return logged;
	}

	/** Copies, so that a caller cannot edit the log and later updates do not change what was read. */
	list(sinceSeq = 0): LoggedRequest[] {
		return this.entries.filter((entry) => entry.seq > sinceSeq).map((entry) => ({ ...entry }));
	}

	clear(): void {
		this.entries = [];
	}
}
