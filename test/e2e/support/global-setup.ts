// Before the end-to-end tests: the run's local stack (as for `npm test`), real n8n installed in the
// cache and redis-server (minutes the first time on a machine, so not inside any test's timeout).
import stackSetup from '../../setup/global-setup';
import { ensureN8n } from '../../../scripts/n8n/install';
import { ensureRedisServer } from '../../../scripts/n8n/redis';
import { ensureChromium } from '../../../scripts/n8n/chromium';

export default async function globalSetup() {
	const installation = await ensureN8n({ log: (line) => process.stderr.write(`${line}\n`) });
	if (installation.installedNow) process.stderr.write(`\nn8n ${installation.version} installed in ${installation.seconds.toFixed(0)} s\n`);
	// Queue mode's Redis (test/e2e/queue-mode.e2e.test.ts): Debian's package, installed now when missing.
	ensureRedisServer((line) => process.stderr.write(`${line}\n`));
	// The console's browser test (test/e2e/console.e2e.test.ts): Debian's Chromium, installed now when missing.
	ensureChromium((line) => process.stderr.write(`${line}\n`));
	await stackSetup();
}
