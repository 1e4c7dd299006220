// @google/genai 3.x sends through Node's fetch with a dispatcher that delegates to the undici global
// dispatcher it looks up on `globalThis[Symbol.for('undici.globalDispatcher.1')]`. Jest runs each
// test file in a vm context whose `globalThis` is not Node's, so inside Jest the client finds no
// dispatcher and every call fails with "Undici globalDispatcher is not available" (outside Jest, as
// in n8n, the lookup works). Sharing Node's dispatcher with the test context lets the client run its
// normal code path unchanged, rather than swapping in a custom `httpOptions.fetch`.
import { runInThisContext } from 'node:vm';

const DISPATCHER = Symbol.for('undici.globalDispatcher.1');

export function shareUndiciDispatcherWithJest(): void {
	const testGlobal = globalThis as Record<symbol, unknown>;
	if (testGlobal[DISPATCHER]) return;
	// Node creates its undici dispatcher lazily, on first use of a fetch class.
	new Headers();
	const nodeGlobal = runInThisContext('globalThis') as Record<symbol, unknown>;
	if (!nodeGlobal[DISPATCHER]) throw new Error("Node's undici global dispatcher was not found");
	testGlobal[DISPATCHER] = nodeGlobal[DISPATCHER];
}
