// Installs real n8n into a cache folder outside the package, for the end-to-end tests:
//   tsx scripts/n8n/install.ts            (prints the folder; skips when already installed)
// The recipe, found to work when npm installs n8n from a registry mirror: overrides for xlsx
// and linkedom, `npm install --ignore-scripts` (the Kafka node's library would try to download and
// build librdkafka), then `npm rebuild sqlite3` against Node 24's headers. A cold install takes
// 4–5 minutes and 2.7 GB, so it is done once per machine and reused by every run.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { withInstallLock } from './install-lock';
import { nodeHeadersDir } from './node-headers';
import { assertNode24, node24Env, run } from './process';

export const N8N_VERSION = '2.41.1';

/** Where Leadflow caches big downloads: `$LEADFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/leadflow`, else `~/.cache/leadflow`. */
export function leadflowCacheDir(env: NodeJS.ProcessEnv = process.env): string {
	if (env.LEADFLOW_CACHE_DIR) return path.resolve(env.LEADFLOW_CACHE_DIR);
	return path.join(env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(homedir(), '.cache'), 'leadflow');
}

export interface N8nInstallation {
	/** The folder holding `node_modules/n8n`. */
	dir: string;
	/** The `n8n` command's script, run as `node <bin> …` with Node 24. */
	bin: string;
	version: string;
	/** False when an existing installation was reused. */
	installedNow: boolean;
	seconds: number;
}

export function n8nInstallDir(version = N8N_VERSION, env: NodeJS.ProcessEnv = process.env): string {
	return path.join(leadflowCacheDir(env), `n8n-${version}`);
}

const binOf = (dir: string) => path.join(dir, 'node_modules', 'n8n', 'bin', 'n8n');

/** Installed and loadable with this Node: n8n answers its version and sqlite3's addon loads. */
export async function isLoadable(dir: string, version = N8N_VERSION): Promise<boolean> {
	if (!existsSync(binOf(dir))) return false;
	try {
		const installed = JSON.parse(readFileSync(path.join(dir, 'node_modules', 'n8n', 'package.json'), 'utf8')) as { version: string };
		if (installed.version !== version) return false;
		await run(process.execPath, ['-e', "require('sqlite3')"], { cwd: dir, env: node24Env() });
		return true;
	} catch {
		return false;
	}
}

export async function ensureN8n(options: { version?: string; log?: (line: string) => void } = {}): Promise<N8nInstallation> {
	assertNode24();
	const version = options.version ?? N8N_VERSION;
	const dir = n8nInstallDir(version);
	const started = Date.now();
	const done = (installedNow: boolean): N8nInstallation => ({
		dir,
		bin: binOf(dir),
		version,
		installedNow,
		seconds: (Date.now() - started) / 1000,
	});
	if (await isLoadable(dir, version)) return done(false);

	mkdirSync(path.dirname(dir), { recursive: true });
	return withInstallLock(`${dir}.lock`, async () => {
		// Another process may have finished the install while this one waited for the lock.
		if (await isLoadable(dir, version)) return done(false);
		const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
		// Built in a side folder and renamed into place, so a killed install never looks finished.
		const building = `${dir}.partial`;
		rmSync(building, { recursive: true, force: true });
		mkdirSync(building, { recursive: true });
		writeFileSync(
			path.join(building, 'package.json'),
			`${JSON.stringify(
				{
					name: 'leadflow-n8n-runtime',
					private: true,
					description: 'Real n8n for the n8n-nodes-leadflow end-to-end tests (installed by scripts/n8n/install.ts).',
					dependencies: { n8n: version },
					overrides: { xlsx: '0.18.5', linkedom: '0.18.14' },
				},
				null,
				2,
			)}\n`,
		);
		const headers = await nodeHeadersDir(leadflowCacheDir(), { log });
		const env = node24Env({ npm_config_nodedir: headers });
		log(`Installing n8n ${version} into ${dir} (4–5 minutes the first time)…`);
		await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: building, env, log });
		log(`Building sqlite3 for Node ${process.versions.node}…`);
		await run('npm', ['rebuild', 'sqlite3', '--foreground-scripts'], { cwd: building, env, log });
		rmSync(dir, { recursive: true, force: true });
		renameSync(building, dir);
		if (!(await isLoadable(dir, version))) throw new Error(`n8n was installed into ${dir} but does not load with Node ${process.versions.node}.`);
		return done(true);
	});
}

if (require.main === module) {
	ensureN8n()
		.then((installation) => {
			process.stderr.write(
				`n8n ${installation.version} ${installation.installedNow ? 'installed' : 'already installed'} in ${installation.seconds.toFixed(1)} s\n`,
			);
			process.stdout.write(`${installation.dir}\n`);
		})
		.catch((error: Error) => {
			process.stderr.write(`${error.message}\n`);
			process.exit(1);
		});
}
