export default async function globalTeardown() {
	await globalThis.__LEADFLOW_STACK__?.stop();
	globalThis.__LEADFLOW_STACK__ = undefined;
}
