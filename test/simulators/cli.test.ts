// `npm run simulators` (scripts/simulators.ts) as a real child process: --json prints one line of
// base URLs once ready, the ports flags are honoured, the banner names the URLs, and SIGTERM/SIGINT
// close the servers and exit 0. The README's `npm run -s simulators -- --json`, run through npm as
// written, has that line first on stdout.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { node24Env } from '../../scripts/n8n/process';
import { freePort } from '../../stack/ports';
import { until } from '../helpers/until';

const root = path.resolve(__dirname, '../..');
const tsxCli = path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');

const children = new Set<ChildProcessWithoutNullStreams>();

function startCli(args: string[]): ChildProcessWithoutNullStreams {
	const child = spawn(process.execPath, [tsxCli, 'scripts/simulators.ts', ...args], { cwd: root });
	children.add(child);
	child.on('exit', () => children.delete(child));
	return child;
}

/** The first stdout lines, until `enough` says so. */
async function readLines(child: ChildProcessWithoutNullStreams, enough: (lines: string[]) => boolean): Promise<string[]> {
	const lines: string[] = [];
	const reader = createInterface({ input: child.stdout });
	let stderr = '';
	child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	for await (const line of reader) {
		lines.push(line);
		if (enough(lines)) break;
	}
	if (!enough(lines)) throw new Error(`the CLI ended early: ${stderr}`);
	return lines;
}

async function exitCode(child: ChildProcessWithoutNullStreams): Promise<number | null> {
	if (child.exitCode !== null) return child.exitCode;
	const [code] = (await once(child, 'exit')) as [number | null];
	return code;
}

afterAll(() => {
	// Only if a test failed half-way: never leave a simulator process behind.
	for (const child of children) child.kill('SIGKILL');
});

it('prints one JSON line with working base URLs, honours the port flags, and exits 0 on SIGTERM', async () => {
	const [geminiPort, graphPort] = await Promise.all([freePort(), freePort()]);
	const child = startCli(['--json', '--gemini-port', String(geminiPort), '--graph-port', String(graphPort)]);
	const [line] = await readLines(child, (lines) => lines.length >= 1);
	const urls = JSON.parse(line) as { geminiBaseUrl: string; graphBaseUrl: string };
	expect(urls).toEqual({ geminiBaseUrl: `http://127.0.0.1:${geminiPort}`, graphBaseUrl: `http://127.0.0.1:${graphPort}` });

	const me = await fetch(`${urls.graphBaseUrl}/v25.0/me?access_token=cli-token`);
	expect(me.status).toBe(200);
	const health = await fetch(`${urls.geminiBaseUrl}/__sim/health`);
	expect(await health.json()).toMatchObject({ ok: true, service: 'gemini' });

	child.kill('SIGTERM');
	expect(await exitCode(child)).toBe(0);
	await expect(fetch(`${urls.graphBaseUrl}/__sim/health`)).rejects.toThrow();
});

it('prints a banner with the URLs and control routes, and exits 0 on SIGINT', async () => {
	const child = startCli([]);
	const lines = await readLines(child, (seen) => seen.some((line) => line.startsWith('Ctrl-C')));
	const banner = lines.join('\n');
	expect(banner).toMatch(/Gemini API\s+http:\/\/127\.0\.0\.1:\d+/);
	expect(banner).toMatch(/Graph API\s+http:\/\/127\.0\.0\.1:\d+/);
	expect(banner).toContain('/__sim/faults');
	child.kill('SIGINT');
	expect(await exitCode(child)).toBe(0);
});

it('refuses a bad port flag with exit code 1', async () => {
	const child = startCli(['--graph-port', 'eighty']);
	let stderr = '';
	child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
	expect(await exitCode(child)).toBe(1);
	expect(stderr).toContain('--graph-port');
});

it('the README\'s machine-readable commands are `npm run -s <script> -- --json`, and the simulators\' one, run through npm as written, prints its JSON line first', async () => {
	const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
	const commands = [...readme.matchAll(/`(npm run [^`]*--json)`/g)].map((match) => match[1]);
	expect(commands).toEqual(expect.arrayContaining([expect.stringMatching(/ stack /), expect.stringMatching(/ editor /), expect.stringMatching(/ simulators /)]));
	// Without -s, npm prints "> n8n-nodes-leadflow@… <script>" and the command on stdout before the script's own line.
	for (const command of commands) expect(command).toMatch(/^npm run -s [\w:-]+ -- --json$/);

	const [geminiPort, graphPort] = await Promise.all([freePort(), freePort()]);
	const [npm, ...args] = commands.find((command) => / simulators /.test(command))!.split(' ');
	// In a process group of its own, so that the stop reaches npm's child (tsx) and its node too.
	const child = spawn(npm, [...args, '--gemini-port', String(geminiPort), '--graph-port', String(graphPort)], {
		cwd: root,
		env: node24Env(),
		detached: true,
	}) as ChildProcessWithoutNullStreams;
	children.add(child);
	child.on('exit', () => children.delete(child));
	try {
		const [first] = await readLines(child, (lines) => lines.length >= 1);
		expect(JSON.parse(first)).toEqual({ geminiBaseUrl: `http://127.0.0.1:${geminiPort}`, graphBaseUrl: `http://127.0.0.1:${graphPort}` });
	} finally {
		process.kill(-child.pid!, 'SIGTERM');
	}
	// npm, tsx and the simulators all get the signal; npm's own exit code then depends on which ends
	// first (0 or 143), so what is checked is that the simulators are gone.
	await exitCode(child);
	const gone = (port: number) => fetch(`http://127.0.0.1:${port}/__sim/health`).then(() => false, () => true);
	const stopped = await until(async () => (await gone(graphPort)) && (await gone(geminiPort)), 10_000, 100);
	expect(stopped).toBe(true);
});
