// This package as users get it: the tarball `npm pack` makes from the built `dist/`. Packing needs
// a current build (`npm run test:e2e` builds first; a plain `npm pack` builds itself, package.json's
// `prepack`); a missing built file listed in package.json's
// `n8n` section stops here with that sentence rather than as an unknown node type inside n8n.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { node24Env, run } from './process';

export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

interface Manifest {
	name: string;
	version: string;
	n8n?: { nodes?: string[]; credentials?: string[] };
}

export function manifest(): Manifest {
	return JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Manifest;
}

export function assertBuilt() {
	const { n8n } = manifest();
	const missing = [...(n8n?.nodes ?? []), ...(n8n?.credentials ?? [])].filter((file) => !existsSync(path.join(PACKAGE_ROOT, file)));
	if (missing.length > 0) {
		throw new Error(`The package is not built (missing ${missing.join(', ')}): run \`npm run build\` (\`npm run test:e2e\` does).`);
	}
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
	if (!existsSync(dir)) return [];
	return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
		const full = path.join(dir, entry.name);
		return entry.isDirectory() ? filesUnder(full) : [full];
	});
}

/**
 * True when `dist/` is newer than everything `npm run build` reads (nodes/, credentials/, icons/,
 * package.json, tsconfig.json, gulpfile.js), so that building again would change nothing.
 */
export function buildIsCurrent(): boolean {
	const { n8n } = manifest();
	const built = [...(n8n?.nodes ?? []), ...(n8n?.credentials ?? [])].map((file) => path.join(PACKAGE_ROOT, file));
	if (built.length === 0 || !built.every((file) => existsSync(file))) return false;
	const oldestBuilt = Math.min(...built.map((file) => statSync(file).mtimeMs));
	const sources = [
		...['nodes', 'credentials', 'icons'].flatMap((dir) => filesUnder(path.join(PACKAGE_ROOT, dir))),
		...['package.json', 'tsconfig.json', 'gulpfile.js'].map((file) => path.join(PACKAGE_ROOT, file)),
	];
	return sources.every((file) => !existsSync(file) || statSync(file).mtimeMs < oldestBuilt);
}

/**
 * Packs the package into `destination` (the n8n user folder, removed with it); returns the tarball's path.
 * The caller has built it (`npm run test:e2e` builds first, `npm run editor` when dist/ is older than
 * its sources), so npm's scripts are not run: `prepack` would build again for every n8n started,
 * and empty dist/ under another pack running beside it.
 */
export async function packTarball(destination: string): Promise<string> {
	assertBuilt();
	await run('npm', ['pack', '--pack-destination', destination, '--silent', '--ignore-scripts'], { cwd: PACKAGE_ROOT, env: node24Env() });
	const { name, version } = manifest();
	const tarball = path.join(destination, `${name}-${version}.tgz`);
	if (!existsSync(tarball)) throw new Error(`npm pack did not produce ${tarball}`);
	return tarball;
}
