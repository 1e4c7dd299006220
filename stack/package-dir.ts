import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The installed folder of a package, found the way Node looks for it. Needed for packages that only
 * carry binaries: their `exports` field hides `package.json` from `require.resolve`.
 */
export function packageDir(name: string, from = __dirname): string | undefined {
	let dir = from;
	for (;;) {
		const candidate = path.join(dir, 'node_modules', name);
		if (existsSync(path.join(candidate, 'package.json'))) return candidate;
		const parent = path.dirname(dir);
		if (parent === dir) return undefined;
		dir = parent;
	}
}
