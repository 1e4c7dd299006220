// `npm run test:e2e`: workflows run in real n8n (installed once into the cache by
// scripts/n8n/install.ts), with this package installed from its packed tarball, against the local
// stack. Runs after `npm run build`. One test file at a time: each starts its own n8n (~750 MB).
/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test/e2e'],
	testMatch: ['**/*.e2e.test.ts'],
	transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
	globalSetup: '<rootDir>/test/e2e/support/global-setup.ts',
	globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
	testTimeout: 180_000,
	maxWorkers: 1,
};
