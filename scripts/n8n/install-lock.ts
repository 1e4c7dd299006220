// One n8n install at a time per machine (it takes minutes, gigabytes and both cores): a lock folder
// holding the owner's pid. A lock whose owner is gone (killed install) is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function ownerAlive(lockDir: string): boolean {
	try {
		const pid = Number(readFileSync(path.join(lockDir, 'pid'), 'utf8'));
		if (!Number.isInteger(pid) || pid <= 0) return false;
		process.kill(pid, 0);
		return true;
	} catch (error) {
		// EPERM: the process exists but belongs to someone else.
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

export async function withInstallLock<T>(lockDir: string, fn: () => Promise<T>, timeoutMs = 20 * 60_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			mkdirSync(lockDir);
			writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
			break;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
			// A lock without a pid file yet may be a second old; give its owner a moment to write it.
			if (!ownerAlive(lockDir)) {
				await new Promise((resolve) => setTimeout(resolve, 1000));
				if (!ownerAlive(lockDir)) rmSync(lockDir, { recursive: true, force: true });
				continue;
			}
			if (Date.now() > deadline) throw new Error(`Another n8n install holds ${lockDir} for too long; remove it if no install is running.`);
			await new Promise((resolve) => setTimeout(resolve, 2000));
		}
	}
	try {
		return await fn();
	} finally {
		rmSync(lockDir, { recursive: true, force: true });
	}
}
