// A child process has exited and what it wrote is read. Node emits 'exit' when the process ends,
// possibly before the last of its output has been read from the pipes; 'close' comes once its
// stdio streams are closed. A server refused at start-up says why in that last output (e.g.
// "could not bind …: Address already in use", which stack/ports.ts onFreePort looks for), so
// callers that report or judge it wait for 'close'. If a grandchild keeps the pipes open, this
// waits at most `graceMs` after the exit.
import type { ChildProcess } from 'node:child_process';

export function exitedAndRead(child: ChildProcess, graceMs = 1_000): Promise<void> {
	return new Promise((resolve) => {
		const afterExit = () => setTimeout(resolve, graceMs).unref();
		child.once('close', () => resolve());
		if (child.exitCode !== null || child.signalCode !== null) afterExit();
		else child.once('exit', afterExit);
	});
}
