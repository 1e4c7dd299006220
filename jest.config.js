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
