// Where a community package's node and credential sources are. package.json's `n8n` section lists
// the built files (`dist/nodes/X/X.node.js`), as n8n expects; the TypeScript source sits at the
// same path without `dist/` (`nodes/X/X.node.ts`), and so do codex files.
import { existsSync } from 'node:fs';
import path from 'node:path';

/** This package (n8n-nodes-leadflow). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** The source file for a path under `dist/`, or undefined when there is none (then the built file is used). */
export function sourcePathOf(packageRoot: string, distPath: string): string | undefined {
	const normalised = distPath.replace(/\\/g, '/').replace(/^\.\//, '');
	if (!normalised.startsWith('dist/')) return undefined;
	const relative = normalised.slice('dist/'.length);
	for (const candidate of [relative.replace(/\.js$/, '.ts'), relative]) {
		const file = path.join(packageRoot, candidate);
		if (existsSync(file)) return file;
	}
	return undefined;
}
