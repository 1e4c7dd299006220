// `npm test`: unit tests, integration tests against the local stack and the simulators, and every
// shipped workflow run through n8n's engine in-process. One local stack serves the whole run.
//
// The suites that judge time (test/db/follow-up) run again with their clock (test/db/follow-up/fixtures.ts
// NOW) moved: a year ahead, and to the Wednesdays before Europe's spring and autumn DST changes, so
// a rule's "next Monday 09:00 in Paris" or "tomorrow's midnight" is judged across the change. Each
// run passes only if the database judges at the suite's NOW, never at the real date.
const shared = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test'],
	transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
	setupFiles: ['<rootDir>/test/setup/each-file.ts'],
	// Files that judge time run alone on the machine (test/helpers/quiet-machine.ts).
	setupFilesAfterEnv: ['<rootDir>/test/setup/machine-share.ts'],
};

const movedClocks = [
	['a year ahead', '2027-11-24T12:00:00Z'],
	['before the spring DST change', '2027-03-24T12:00:00Z'],
	['before the autumn DST change', '2027-10-27T12:00:00Z'],
];

/** @type {import('jest').Config} */
module.exports = {
	globalSetup: '<rootDir>/test/setup/global-setup.ts',
	globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
	testTimeout: 60_000,
	maxWorkers: 2,
	// A worker keeps every test file's vm context it has run: a heap snapshot after four files held
	// four jest Runtimes, each reached from V8's eternal handles through a template cache entry of
	// its context (Node's internals, nothing the tests hold). One worker grew by about 40 MB a file
	// (1.1 GB after 29 files) and took over jest's 500 ms to exit at the end ("A worker process has
	// failed to exit gracefully", once a run; a 2.5 GB Node heap takes 1.4-1.8 s to exit here). A
	// worker above this after a file is replaced by a fresh one: the warning is gone, and the
	// suite's time did not grow (333 s against 361-374 s in the same day's runs without it).
	workerIdleMemoryLimit: '512MB',
	// The last file a worker runs may still take it past that limit (nothing replaces a worker at the
	// end), and on this 2-core machine under load such a worker took over jest's default 500 ms to
	// exit: the same warning, in each of three clean-clone CI runs. A worker that exits at all is
	// given 5 s; one held open by a leaked handle is still reported, 4.5 s later.
	workerGracefulExitTimeout: 5_000,
	projects: [
		{
			...shared,
			displayName: 'tests',
			testMatch: ['**/*.test.ts'],
			// Real-n8n tests run with `npm run test:e2e` (jest.e2e.config.js).
			testPathIgnorePatterns: ['/node_modules/', '\\.e2e\\.test\\.ts$'],
		},
		...movedClocks.map(([name, now]) => ({
			...shared,
			displayName: `clock ${name} (${now.slice(0, 10)})`,
			testMatch: ['<rootDir>/test/db/follow-up/**/*.test.ts'],
			globals: { LEADFLOW_TEST_NOW: now },
		})),
	],
};
