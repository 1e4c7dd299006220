// This package as users get it: the tarball `npm pack` makes from the built `dist/`. Packing needs
// a current build (`npm run test:e2e` builds first); a missing built file listed in package.json's
// `n8n` section stops here with that sentence rather than as an unknown node type inside n8n.
import { existsSync, readFileSync } from 'node:fs';
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

/** Packs the package into `destination` (the n8n user folder, removed with it); returns the tarball's path. */
export async function packTarball(destination: string): Promise<string> {
	assertBuilt();
	await run('npm', ['pack', '--pack-destination', destination, '--silent'], { cwd: PACKAGE_ROOT, env: node24Env() });
	const { name, version } = manifest();
	const tarball = path.join(destination, `${name}-${version}.tgz`);
	if (!existsSync(tarball)) throw new Error(`npm pack did not produce ${tarball}`);
	return tarball;
}
