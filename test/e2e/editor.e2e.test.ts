// `npm run editor` as a person runs it, started as a child process (`--json`: its ready line on
// stdout; `--temporary`: a temporary database and free ports, so it runs beside anything else):
// n8n accepts the printed login, every shipped workflow is there with its credentials (active where
// it has a webhook), the printed curl line runs the follow-up pipeline on the seeded contacts and
// n8n records the execution as a success, *Execute workflow* (what the editor's button sends)
// starts at once, the demo's other data sets are there (the console opens with the printed key,
// Analyse Now places the pipeline's conversations, Run Now sends today's due queue, the Page syncs),
// and SIGTERM ends every process the command started.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { EditorReady } from '../../scripts/editor';
import { until } from '../helpers/until';

const root = path.resolve(__dirname, '..', '..');
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}` };

interface WorkflowFile {
	id: string;
	name: string;
	nodes: Array<{ name: string; type: string; disabled?: boolean; parameters?: Record<string, unknown>; credentials?: Record<string, { id: string }> }>;
}

const shipped: WorkflowFile[] = readdirSync(path.join(root, 'workflows'))
	.filter((file) => file.endsWith('.json'))
	.map((file) => JSON.parse(readFileSync(path.join(root, 'workflows', file), 'utf8')) as WorkflowFile);
const hasWebhook = (workflow: WorkflowFile) => workflow.nodes.some((node) => node.type === 'n8n-nodes-base.webhook' && !node.disabled);
const triggerWorkflow = shipped.find((workflow) => workflow.nodes.some((node) => node.type === 'n8n-nodes-base.webhook' && node.parameters?.path === 'leadflow/trigger'));

interface Proc {
	pid: number;
	ppid: number;
	args: string;
}

function processes(): Proc[] {
	return execFileSync('ps', ['-A', '-ww', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' })
		.split('\n')
		.map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
		.filter((match): match is RegExpExecArray => match !== null)
		.map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), args: match[3] }));
}

/** Every process below `pid`, found by parent ids (n8n runs in a process group of its own). */
function descendants(pid: number): Proc[] {
	const all = processes();
	const found: Proc[] = [];
	let parents = new Set([pid]);
	while (parents.size > 0) {
		const children = all.filter((one) => parents.has(one.ppid));
		found.push(...children);
		parents = new Set(children.map((one) => one.pid));
	}
	return found;
}

/** Those of `procs` still running (same pid, same command line). */
function stillRunning(procs: Proc[]): Proc[] {
	const now = new Map(processes().map((one) => [one.pid, one.args]));
	return procs.filter((one) => now.get(one.pid) === one.args);
}

/** The URL, headers and body of a printed `curl -X M 'url' -H 'a: b' -d '…'` line (single-quoted words). */
function parseCurl(line: string): { method: string; url: string; headers: Record<string, string>; body?: string } {
	const words = [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((match) => (match[1] !== undefined ? match[1].replace(/'\\''/g, "'") : match[2]));
	expect(words[0]).toBe('curl');
	const result: { method: string; url: string; headers: Record<string, string>; body?: string } = { method: 'GET', url: '', headers: {} };
	for (let i = 1; i < words.length; i += 1) {
		const word = words[i];
		if (word === '-X') result.method = words[++i];
		else if (word === '-H') {
			const [name, ...value] = words[++i].split(':');
			result.headers[name.trim()] = value.join(':').trim();
		} else if (word === '-d') result.body = words[++i];
		else if (!word.startsWith('-')) result.url = word;
	}
	return result;
}

describe('npm run editor', () => {
	let child: ChildProcess;
	let ready: EditorReady;
	let progress = '';
	let cookie = '';

	const rest = async <T>(pathname: string, init: RequestInit = {}): Promise<T> => {
		const response = await fetch(`${ready.editorUrl.replace(/\/$/, '')}${pathname}`, {
			...init,
			headers: { cookie, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
		});
		const text = await response.text();
		if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${pathname}: HTTP ${response.status} ${text.slice(0, 300)}`);
		return (JSON.parse(text) as { data: T }).data;
	};

	interface ExecutionSummary {
		id: string;
		workflowId: string;
		mode: string;
		status: string;
	}

	/** The execution as n8n's REST API lists it, once it is no longer running. */
	const finishedExecution = async (workflowId: string, executionId: string): Promise<ExecutionSummary | undefined> => {
		let found: ExecutionSummary | undefined;
		await until(async () => {
			const filter = encodeURIComponent(JSON.stringify({ workflowId }));
			const { results } = await rest<{ results: ExecutionSummary[] }>(`/rest/executions?filter=${filter}`);
			found = results.find((one) => one.id === executionId && !['new', 'running', 'waiting'].includes(one.status));
			return found !== undefined;
		}, 30_000, 500);
		return found;
	};

	const graphMessages = async () => {
		const response = await fetch(`${ready.graphBaseUrl}/__sim/messages`);
		return ((await response.json()) as { messages: unknown[] }).messages.length;
	};

	beforeAll(async () => {
		child = spawn('npm', ['run', '--silent', 'editor', '--', '--json', '--temporary'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
		child.stderr?.on('data', (chunk: Buffer) => (progress = (progress + chunk.toString('utf8')).slice(-6000)));
		ready = await new Promise<EditorReady>((resolve, reject) => {
			let stdout = '';
			child.stdout?.on('data', (chunk: Buffer) => {
				stdout += chunk.toString('utf8');
				for (const line of stdout.split('\n')) {
					if (!line.startsWith('{')) continue;
					const parsed = JSON.parse(line) as EditorReady;
					if (parsed.editorUrl) resolve(parsed);
				}
			});
			child.once('exit', (code, signal) => reject(new Error(`npm run editor ended (${signal ?? `exit ${code}`}) before it was ready:\n${progress}`)));
		});
		const steps = progress.split('\n').filter((line) => line.startsWith('[') && !line.endsWith('so far'));
		process.stderr.write(`npm run editor, until ready:\n${steps.join('\n')}\n`);
	}, 300_000);

	afterAll(async () => {
		// Only when a test failed before the SIGTERM test: nothing the command started may outlive the run.
		if (child && child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
			const tree = descendants(child.pid);
			child.kill('SIGTERM');
			await until(() => stillRunning(tree).length === 0 && child.exitCode !== null, 60_000, 250);
			for (const one of stillRunning(tree)) process.kill(one.pid, 'SIGKILL');
		}
	}, 90_000);

	test('n8n accepts the printed login; every shipped workflow is there, active where it has a webhook, with its credentials', async () => {
		expect(ready.editorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
		const login = await fetch(`${ready.editorUrl}rest/login`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ emailOrLdapLoginId: ready.login.email, password: ready.login.password }),
		});
		expect(login.status).toBe(200);
		cookie = login.headers.getSetCookie().map((one) => one.split(';')[0]).join('; ');
		expect(cookie).toMatch(/n8n-auth=/);

		const listed = await rest<Array<{ id: string; name: string; active: boolean }>>('/rest/workflows');
		expect(shipped.length).toBeGreaterThanOrEqual(3);
		for (const workflow of shipped) {
			expect(listed.find((one) => one.id === workflow.id)).toEqual(expect.objectContaining({ name: workflow.name, active: hasWebhook(workflow) }));
		}
		expect(ready.workflows.map((one) => [one.id, one.active]).sort()).toEqual(shipped.map((one) => [one.id, hasWebhook(one)]).sort());

		// Every credential a shipped node selects exists in n8n, under the id the node names.
		const credentials = await rest<Array<{ id: string; type: string }>>('/rest/credentials');
		const selected = shipped.flatMap((workflow) => workflow.nodes.flatMap((node) => Object.entries(node.credentials ?? {}).map(([type, { id }]) => ({ id, type }))));
		expect(selected.length).toBeGreaterThan(0);
		for (const one of selected) expect(credentials).toContainEqual(expect.objectContaining(one));
		expect(new Set(credentials.map((one) => one.type))).toEqual(new Set(['leadflowSupabaseApi', 'leadflowGeminiApi', 'leadflowFacebookPageApi', 'leadflowWhatsAppApi', 'httpHeaderAuth']));
	});

	test('the printed curl line runs the follow-up pipeline on the seeded contacts; n8n records the execution as a success', async () => {
		expect(triggerWorkflow).toBeDefined();
		const call = parseCurl(ready.curl);
		expect(call).toMatchObject({ method: 'POST', url: `${ready.editorUrl}webhook/leadflow/trigger` });
		const response = await fetch(call.url, { method: call.method, headers: call.headers, body: call.body });
		expect(response.status).toBe(200);
		const summary = (await response.json()) as { executionId: string };
		// The demo data set (scripts/demo/data-set.ts), as `npm run demo` reports it.
		expect(summary).toMatchObject({ claimed: 130, sent: 127, skipped: 2, failed: 1, skippedByReason: { unavailable: 2 }, failedByReason: { no_matching_user: 1 } });
		expect(await graphMessages()).toBe(127);

		const execution = await finishedExecution(triggerWorkflow!.id, summary.executionId);
		expect(execution).toMatchObject({ workflowId: triggerWorkflow!.id, mode: 'webhook', status: 'success' });
	});

	test('Execute workflow, as the editor sends it, starts at once from the pinned trigger and succeeds; nothing is sent twice', async () => {
		const workflow = await rest<WorkflowFile & { pinData?: Record<string, unknown> }>(`/rest/workflows/${triggerWorkflow!.id}`);
		const [pinned] = Object.keys(workflow.pinData ?? {});
		expect(workflow.nodes.find((node) => node.name === pinned)?.type).toBe('n8n-nodes-base.webhook');
		expect(workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.scheduleTrigger').every((node) => node.disabled)).toBe(true);

		const run = await rest<{ executionId?: string; waitingForWebhook?: boolean }>(`/rest/workflows/${triggerWorkflow!.id}/run`, {
			method: 'POST',
			body: JSON.stringify({ triggerToStartFrom: { name: pinned } }),
		});
		expect(run.waitingForWebhook).toBeUndefined();
		const execution = await finishedExecution(triggerWorkflow!.id, run.executionId!);
		expect(execution).toMatchObject({ mode: 'manual', status: 'success' });
		expect(await graphMessages()).toBe(127);
	});

	test('the demo\'s data sets are there as the banner says: the console opens with its key, Analyse Now places the pipeline, Run Now sends today\'s due messages, the Page syncs', async () => {
		const key = ready.trigger.headers;
		const asOwner = { ...key, 'content-type': 'application/json', 'X-Leadflow-Owner': ready.ownerId };
		const base = ready.editorUrl.replace(/\/$/, '');
		const consoleUrl = new URL(ready.consoleUrl);
		expect(`${consoleUrl.origin}${consoleUrl.pathname}`).toBe(`${base}/webhook/leadflow/console`);
		expect(consoleUrl.hash).toBe(`#key=${encodeURIComponent(Object.values(key)[0])}`);
		const page = await fetch(`${consoleUrl.origin}${consoleUrl.pathname}`);
		expect(page.status).toBe(200);
		expect(page.headers.get('content-type')).toMatch(/^text\/html/);

		// The Queue tab's data: today's queue of the demo owner, all of it queued.
		const queueTab = async () => {
			const response = await fetch(`${base}/webhook/leadflow/console/api/queue?userId=${ready.ownerId}&limit=100`, { headers: key });
			expect(response.status).toBe(200);
			return (await response.json()) as { day: string; counts: Record<string, number>; rows: { rows: Array<{ status: string; scheduled_for: string }> } };
		};
		const before = await queueTab();
		expect(ready.queue).toMatchObject({ leads: 23, refused: 1, queued: 20 });
		expect(before).toMatchObject({ day: ready.queue.day, counts: { total: 20, queued: 20 } });
		const dueBefore = before.rows.rows.filter((row) => Date.parse(row.scheduled_for) <= Date.now()).length;
		const run = await fetch(`${base}/webhook/leadflow/queue/run`, { method: 'POST', headers: asOwner, body: '{}' });
		expect(run.status).toBe(200);
		const ran = (await run.json()) as { claimed: number; sent: number };
		expect(ran.claimed).toBeGreaterThanOrEqual(dueBefore);
		expect(ran.sent).toBe(ran.claimed);
		expect((await queueTab()).counts.sent).toBe(ran.sent);

		// The pipeline's 40 conversations, as `npm run demo`'s first run places them.
		const analyse = await fetch(`${base}/webhook/leadflow/auto-assign`, { method: 'POST', headers: asOwner, body: '{}' });
		expect(analyse.status).toBe(200);
		expect(await analyse.json()).toMatchObject({ analysed: 40, fallback: 2, assigned: 40, moved: 0, kept: 0 });
		expect(ready.pipeline).toMatchObject({ name: 'Course sales', conversations: 40 });

		// The demo's Page is connected: a sync brings in its older conversations from the Graph simulator.
		const sync = await fetch(`${base}/webhook/leadflow/sync`, { method: 'POST', headers: asOwner, body: '{}' });
		expect(sync.status).toBe(200);
		expect(await sync.json()).toMatchObject({ page_id: ready.pageId, status: 'completed', conversations: ready.olderConversations, errors: 0 });
	});

	test('SIGTERM stops n8n, the stack and the simulators: no process the command started is left', async () => {
		const tree = descendants(child.pid!);
		expect(tree.some((one) => one.args.includes('n8n') && one.args.includes(' start'))).toBe(true);
		expect(tree.some((one) => /postgres/.test(one.args))).toBe(true);

		const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
		child.kill('SIGTERM');
		await exited;
		expect(await until(() => stillRunning(tree).length === 0, 30_000, 250)).toBe(true);
		expect(stillRunning(tree).map((one) => one.args)).toEqual([]);
		await expect(fetch(ready.editorUrl)).rejects.toThrow();
		expect(progress).toMatch(/Stopped\./);
	}, 90_000);
});

test('npm run demo -- --editor is the same command: it takes the editor\'s options', async () => {
	const demo = spawn('npm', ['run', '--silent', 'demo', '--', '--editor', '--port', 'none'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
	let output = '';
	demo.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
	demo.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
	const code = await new Promise<number | null>((resolve) => demo.once('exit', (exitCode) => resolve(exitCode)));
	expect(code).toBe(1);
	expect(output).toMatch(/editor: --port must be a TCP port number, got "none"/);
});
