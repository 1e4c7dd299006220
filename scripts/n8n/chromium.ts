// Chromium for the browser tests (test/e2e/console.e2e.test.ts): Debian's `chromium` package,
// installed with apt-get when the machine has none (as root, or through sudo), as redis.ts does for
// queue mode. playwright-core drives it; it downloads no browser of its own.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium'];

function findChromium(): string | undefined {
	if (process.env.LEADFLOW_CHROMIUM && existsSync(process.env.LEADFLOW_CHROMIUM)) return process.env.LEADFLOW_CHROMIUM;
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		for (const name of ['chromium', 'chromium-browser']) {
			const candidate = path.join(dir, name);
			if (dir && existsSync(candidate)) return candidate;
		}
	}
	return CANDIDATES.find((candidate) => existsSync(candidate));
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): { ok: boolean; output: string } {
	const result = spawnSync(command, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
	return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

/** The Chromium to drive: `$LEADFLOW_CHROMIUM`, the machine's, else Debian's package installed now. */
export function ensureChromium(log: (line: string) => void = () => undefined): string {
	const found = findChromium();
	if (found) return found;
	const asRoot = process.getuid?.() === 0;
	const sudo = !asRoot && run('sudo', ['-n', 'true'], process.env).ok;
	if (!asRoot && !sudo) {
		throw new Error('Chromium is not installed and apt-get needs root: run `sudo apt-get install chromium` (Debian/Ubuntu) once, or set LEADFLOW_CHROMIUM, then the tests again.');
	}
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	const apt = (args: string[]) => (sudo ? run('sudo', ['-n', '--preserve-env=DEBIAN_FRONTEND', 'apt-get', ...args], env) : run('apt-get', args, env));
	log('chromium is missing: installing Debian\'s package (apt-get install chromium)…');
	let installed = apt(['install', '-y', '--no-install-recommends', 'chromium']);
	if (!installed.ok) {
		// A fresh machine may have no package lists yet.
		apt(['update', '-qq']);
		installed = apt(['install', '-y', '--no-install-recommends', 'chromium']);
	}
	const chromium = findChromium();
	if (!installed.ok || !chromium) throw new Error(`apt-get could not install chromium:\n${installed.output.slice(-2000)}`);
	return chromium;
}
