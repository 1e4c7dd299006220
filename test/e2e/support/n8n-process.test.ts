// The n8n process wrapper (scripts/n8n/n8n-process.ts) leaves nothing behind: stop() ends n8n and
// its children (n8n's task runners), a process that ignores SIGTERM is killed, and if the test
// process dies without stopping it, the watchdog ends the group. A stand-in script plays n8n.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { spawnN8n, type N8nProcess } from '../../../scripts/n8n/n8n-process';
import { isAlive as alive } from '../../helpers/process-alive';
import { until } from '../../helpers/until';

const fixtures = path.resolve(__dirname, '..', '..', 'fixtures', 'fake-n8n');
const fakeN8n = path.join(fixtures, 'fake-n8n.js');

async function pidsOf(fake: N8nProcess): Promise<{ main: number; runner: number }> {
	await until(() => fake.output().includes('}'), 10_000);
	return JSON.parse(fake.output().split('\n')[0]) as { main: number; runner: number };
}

test('stop() ends n8n and every process it started', async () => {
	const fake = spawnN8n(fakeN8n, [], process.env, fixtures);
	const { main, runner } = await pidsOf(fake);
	expect(alive(main) && alive(runner)).toBe(true);

	await fake.stop();
	expect(fake.exited()).toBe(true);
	expect(await until(() => !alive(main) && !alive(runner), 2_000)).toBe(true);
});

test('a process that ignores SIGTERM is killed after the grace period', async () => {
	const fake = spawnN8n(fakeN8n, ['--ignore-sigterm'], process.env, fixtures);
	const { main, runner } = await pidsOf(fake);

	const started = Date.now();
	await fake.stop(500);
	expect(Date.now() - started).toBeLessThan(5_000);
	expect(await until(() => !alive(main) && !alive(runner), 2_000)).toBe(true);
});

test('when the test process dies without stopping n8n, the watchdog ends the group', async () => {
	const parent = spawn(process.execPath, ['--import', 'tsx', path.join(fixtures, 'orphaning-parent.ts')], {
		cwd: fixtures,
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	let output = '';
	parent.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
	await until(() => /\d+\n/.test(output), 20_000);
	const group = Number(output.trim().split('\n')[0]);
	expect(await until(() => alive(group), 5_000)).toBe(true);

	parent.kill('SIGKILL');
	const groupGone = await until(() => {
		try {
			process.kill(-group, 0);
			return false;
		} catch {
			return true;
		}
	}, 5_000);
	expect(groupGone).toBe(true);
});
