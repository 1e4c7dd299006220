// Tests that judge time as Facebook or Google would (when requests arrive at a simulator, how far
// apart calls start) run alone on the machine: `npm test` runs two test files at once, and on a
// small machine a neighbour's database load delays requests in transit, which bunches arrivals the
// product spaced correctly. Every test file holds a shared lock for its run (test/setup/machine-share.ts);
// a file that calls `runsAlone()` holds it exclusively instead, so it starts when the file beside it
// has finished and nothing starts beside it until it ends. The lock is a Postgres advisory lock on
// the run's own local stack: it ends with the connection, so a crashed file never leaves it held.
import { Client } from 'pg';
import { testStack } from './stack';

/** One key for the whole run (any constant; advisory locks are per database). */
const MACHINE_LOCK = 4_242_001;
/** A file waits at most this long for its turn: the longest test file runs about a minute. */
const WAIT_MS = 15 * 60_000;

let alone = false;

/** This file's tests judge time: run them with no other test file running. Call at the top of the file. */
export function runsAlone(): void {
	alone = true;
}

/** Registers the lock around the file's tests (test/setup/machine-share.ts calls it for every file). */
export function shareMachine(): void {
	let db: Client | undefined;
	beforeAll(async () => {
		db = new Client({ connectionString: testStack().dbUrl, application_name: alone ? 'leadflow-test-alone' : 'leadflow-test-shared' });
		await db.connect();
		await db.query(alone ? 'select pg_advisory_lock($1)' : 'select pg_advisory_lock_shared($1)', [MACHINE_LOCK]);
	}, WAIT_MS);
	afterAll(async () => {
		await db?.end();
	});
}
