// The node and credential loaders, built with n8n-core's own loader classes so that nodes get what
// n8n gives them at load time (special parameters, declarative options, description checks):
// n8n-nodes-base lazily from its `dist/known` index, a community package (this one by default) from
// the `n8n` section of its package.json. Kept per process: reading n8n-nodes-base's index takes a
// moment; its nodes then load on first use.
import path from 'node:path';
import { LazyPackageDirectoryLoader, PackageDirectoryLoader, type DirectoryLoader } from 'n8n-core';
import { keepN8nOutOfUserHome } from './n8n-environment';
import { PACKAGE_ROOT, sourcePathOf } from './package-entries';

/** A community package loaded from its TypeScript sources (`nodes/X/X.node.ts`), so tests need no build. */
class SourcePackageLoader extends PackageDirectoryLoader {
	protected resolvePath(file: string): string {
		return sourcePathOf(this.directory, file) ?? super.resolvePath(file);
	}
}

export interface Loaders {
	base: DirectoryLoader;
	own: DirectoryLoader & { packageName: string };
}

let baseLoading: Promise<DirectoryLoader> | undefined;
const ownLoading = new Map<string, Promise<SourcePackageLoader>>();

function retryAfterFailure<T>(promise: Promise<T>, forget: () => void): Promise<T> {
	promise.catch(forget);
	return promise;
}

export async function loaders(packageRoot = PACKAGE_ROOT): Promise<Loaders> {
	keepN8nOutOfUserHome();
	baseLoading ??= retryAfterFailure(
		(async () => {
			const base = new LazyPackageDirectoryLoader(path.dirname(require.resolve('n8n-nodes-base/package.json')));
			await base.loadAll();
			return base;
		})(),
		() => (baseLoading = undefined),
	);
	const root = path.resolve(packageRoot);
	let own = ownLoading.get(root);
	if (!own) {
		own = retryAfterFailure(
			(async () => {
				const loader = new SourcePackageLoader(root);
				await loader.loadAll();
				return loader;
			})(),
			() => ownLoading.delete(root),
		);
		ownLoading.set(root, own);
	}
	const [base, loaded] = await Promise.all([baseLoading, own]);
	return { base, own: loaded };
}
