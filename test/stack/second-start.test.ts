// A second start on a data folder whose stack still runs (`npm run demo` in a second terminal while
// `npm run stack`, `editor` or `demo` runs on the same clone) is refused, and the running stack goes
// on: it neither stops that stack's PostgreSQL nor, with --fresh, removes its files under it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startStack, type RunningStack } from '../../stack';
import { freePort } from '../../stack/ports';

const root = path.resolve(__dirname, '..', '..');

/** `npm run stack -- --data-dir <dir> [extra]` on free ports, as a second terminal would: its exit code and stderr. */
async function secondStart(dataDir: string, extra: string[] = []): Promise<{ code: number | null; stderr: string }> {
	const tsx = require.resolve('tsx/cli', { paths: [root] });
	const child = spawn(
		process.execPath,
		[tsx, 'scripts/stack.ts', '--json', '--data-dir', dataDir, '--port', String(await freePort()), '--db-port', String(await freePort()), ...extra],
		{ cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
	);
	let stderr = '';
	child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
	child.stdout!.resume();
	const timer = setTimeout(() => child.kill('SIGINT'), 90_000); // a start that was not refused: stopped, and the test fails below
	const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
	clearTimeout(timer);
	return { code, stderr };
}

async function rows(dbUrl: string, sql: string): Promise<unknown[]> {
	const client = new Client({ connectionString: dbUrl });
	await client.connect();
	try {
		return (await client.query(sql)).rows;
	} finally {
		await client.end();
	}
}

let parent: string;
let first: RunningStack | undefined;

beforeAll(async () => {
	parent = mkdtempSync(path.join(tmpdir(), 'leadflow-second-start-'));
	first = await startStack({ dataDir: path.join(parent, '.stack'), fast: true });
	await rows(first.dbUrl, `create table second_start_mark (note text); insert into second_start_mark values ('kept')`);
}, 120_000);

afterAll(async () => {
	await first?.stop();
	rmSync(parent, { recursive: true, force: true });
});

const serverPid = () => Number(readFileSync(path.join(first!.dataDir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);

test.each([[[] as string[]], [['--fresh']]])('a second start %j is refused, naming the running one, and the first stack still answers with its data', async (extra) => {
	const pid = serverPid();
	const second = await secondStart(first!.dataDir, extra);
	expect(second.code).toBe(1);
	expect(second.stderr).toContain(`Another \`npm run demo\`, \`npm run stack\` or \`npm run editor\` uses ${first!.dataDir} (process ${process.pid}; its PostgreSQL is process ${pid})`);
	expect(second.stderr).toContain('Stop it first');
	expect(second.stderr).toContain('`npm run demo -- --once`');
	expect(second.stderr).not.toMatch(/EADDRINUSE|\n\s+at /);

	expect(await rows(first!.dbUrl, 'select note from second_start_mark')).toEqual([{ note: 'kept' }]);
	expect(serverPid()).toBe(pid);
	expect(existsSync(path.join(first!.dataDir, 'stack.json'))).toBe(true);
	// Through the Data API too: PostgREST still reaches its database.
	const response = await fetch(`${first!.supabaseUrl}/rest/v1/tags?select=id&limit=1`, { headers: { apikey: first!.serviceRoleKey, authorization: `Bearer ${first!.serviceRoleKey}` } });
	expect(response.status).toBe(200);
}, 120_000);
