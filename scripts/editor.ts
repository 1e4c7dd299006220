// `npm run editor` (the same as `npm run demo -- --editor`): the product in a real n8n editor.
//   1. the local stack and the simulators, with the demo's data sets (scripts/editor/data.ts: the
//      follow-up contacts and rules, the CRM pipeline, the lead queue; nothing is sent yet);
//   2. real n8n from the end-to-end tests' cache (scripts/n8n/install.ts: installed once, about
//      5 minutes the first time);
//   3. this package built (unless dist/ is newer than its sources), packed and installed into n8n's
//      user folder (`.n8n/nodes`) the way users install community nodes; the credentials pointing
//      at the stack and the simulators and every workflow in `workflows/` imported, the ones with a
//      webhook activated (scripts/n8n/start.ts);
//   4. the owner account created; the editor URL, the login, the console's URL with its key and a
//      curl line for the trigger webhook printed; then it runs until Ctrl-C / SIGTERM, which stops n8n, the stack and the simulators.
// Options:
//   --fresh       the stack starts from an empty database (`.stack/`, shared with `npm run demo`)
//   --port N      n8n's port (default 5678, or a free one if 5678 is taken)
//   --temporary   a temporary database and free ports for everything; nothing is kept
//   --json        progress on stderr, and one JSON line on stdout once ready (for scripts and tests;
//                 `npm run -s editor -- --json`: without -s, npm's own lines come first on stdout)
// n8n's user folder is a temporary folder, removed on stop: each start is a new n8n instance.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startSimulators, type RunningSimulators } from '../simulators';
import { startStack, type RunningStack } from '../stack';
import { changedMigrationsWarning } from '../stack/migrations';
import { freePort, isPortTaken } from '../stack/ports';
import { WEBHOOK_KEY } from './demo/data-set';
import { seedEditorData } from './editor/data';
import { Progress } from './editor/progress';
import { newOwnerLogin, setUpOwner } from './editor/owner';
import { readyText, type EditorReady } from './editor/ready';
import { editorCopy, findWebhook, shippedWorkflows } from './editor/workflows';
import { ensureN8n, isLoadable, n8nInstallDir, N8N_VERSION } from './n8n/install';
import { credentialsFor } from './n8n/n8n-import';
import { buildIsCurrent, PACKAGE_ROOT } from './n8n/package-tarball';
import { assertNode24, node24Env, run, stopRunningCommands } from './n8n/process';
import { startN8nWithPackage, workflowsWithWebhook, type N8nWithPackage } from './n8n/start';

const DEFAULT_PORT = 5678;
const TRIGGER_PATH = 'leadflow/trigger';
const CONSOLE_PATH = 'leadflow/console';

export type { EditorReady } from './editor/ready';

function portIsFree(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const server = createServer();
		server.once('error', () => resolve(false));
		server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
	});
}

const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

export async function runEditor(argv: string[]): Promise<void> {
	const { values } = parseArgs({
		args: argv,
		options: {
			fresh: { type: 'boolean', default: false },
			port: { type: 'string' },
			temporary: { type: 'boolean', default: false },
			json: { type: 'boolean', default: false },
		},
	});
	const out = values.json ? process.stderr : process.stdout;
	const say = (line = '') => out.write(`${line}\n`);
	const progress = new Progress(say);

	// Everything started so far, stopped in reverse order; a step under way is waited for (briefly)
	// so that what it starts is stopped too.
	const stoppers: Array<() => Promise<void>> = [];
	let underWay: Promise<unknown> | undefined;
	let stopping = false;
	const track = async <T>(promise: Promise<T>): Promise<T> => {
		underWay = promise;
		try {
			return await promise;
		} finally {
			underWay = undefined;
		}
	};
	const stopEverything = async (code: number) => {
		if (stopping) return;
		stopping = true;
		progress.end();
		const anything = stoppers.length > 0 || underWay !== undefined;
		if (anything) say('Stopping n8n, the stack and the simulators…');
		stopRunningCommands();
		if (underWay) await Promise.race([underWay.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
		for (const stop of stoppers.splice(0).reverse()) await stop().catch(() => undefined);
		if (anything) say('Stopped.');
		process.exit(code);
	};
	process.on('SIGINT', () => void stopEverything(0));
	process.on('SIGTERM', () => void stopEverything(0));
	// Something started after the stop began (a step that outran the wait) is stopped at once.
	const started = <T extends { stop(): Promise<void> }>(thing: T): T => {
		stoppers.push(() => thing.stop());
		if (stopping) void thing.stop();
		return thing;
	};

	try {
		assertNode24();
		const port = await choosePort(values.port, values.temporary, say);

		progress.step('Starting the local Supabase-compatible stack (Postgres + PostgREST) and the service simulators');
		const stack: RunningStack = started(
			await track(
				startStack(
					values.temporary
						? { fast: true }
						: { dataDir: path.resolve(PACKAGE_ROOT, '.stack'), fresh: values.fresh, port: 54321, dbPort: 54322 },
				),
			),
		);
		const warning = changedMigrationsWarning(stack.migrations.changed, 'demo');
		if (warning) say(`\n${warning}\n`);
		const simulators: RunningSimulators = started(await track(startSimulators(values.temporary ? {} : { geminiPort: 54331, graphPort: 54332 })));

		progress.step('Seeding the demo\'s data sets (a new demo owner: about 300 Messenger contacts and three follow-up rules, the CRM pipeline, the lead queue)');
		const seeded = await track(seedEditorData(stack, simulators));
		const data = seeded.dataSet;

		const installDir = n8nInstallDir();
		if (!(await isLoadable(installDir))) {
			say(
				`\nReal n8n ${N8N_VERSION} is not installed on this machine yet. It is installed once into ${installDir} ` +
					'(the cache the end-to-end tests use): about 5 minutes and 2.7 GB the first time; later starts reuse it.\n',
			);
			progress.step(`Installing n8n ${N8N_VERSION}`);
		} else {
			progress.step(`Using n8n ${N8N_VERSION} from ${installDir}`);
		}
		const installation = await track(
			ensureN8n({
				// Its own lines name the phase (shortened: the folder and the duration are said above);
				// npm's and the compiler's output is left out.
				log: (line) => {
					if (!/^(Fetching the headers|Installing n8n|Building sqlite3)/.test(line)) return;
					progress.phase(line.replace(/ into \S+/, '').replace(/ \([^)]*\)/g, '').replace(/…$/, ''));
				},
			}),
		);
		if (installation.installedNow) say(`n8n ${installation.version} installed in ${installation.seconds.toFixed(0)} s.`);

		if (buildIsCurrent()) {
			progress.step('The package is built (dist/ is newer than its sources)');
		} else {
			progress.step('Building the package (npm run build)');
			await track(run('npm', ['run', 'build'], { cwd: PACKAGE_ROOT, env: node24Env() }));
		}

		const userFolder = mkdtempSync(path.join(tmpdir(), 'leadflow-editor-'));
		stoppers.push(async () => rmSync(userFolder, { recursive: true, force: true }));
		const shipped = shippedWorkflows();
		const copies = shipped.map(({ workflow }) => editorCopy(workflow));
		const workflows = copies.map((copy) => copy.workflow);
		const credentials = credentialsFor(workflows, data.credentials);
		const published = workflowsWithWebhook(workflows);
		const n8n: N8nWithPackage = started(
			await track(
				startN8nWithPackage({
					installation,
					userFolder,
					workflows,
					credentials,
					publish: published,
					port,
					onStep: (step) => progress.step(`n8n: ${step}`),
				}),
			),
		);

		progress.step('Creating the n8n owner account (POST /rest/owner/setup)');
		const login = newOwnerLogin();
		await track(setUpOwner(n8n.baseUrl, login));
		progress.end();

		const trigger = findWebhook(workflows, TRIGGER_PATH);
		if (!trigger) throw new Error(`No shipped workflow has the webhook ${TRIGGER_PATH}.`);
		if (!findWebhook(workflows, CONSOLE_PATH)) throw new Error(`No shipped workflow has the webhook ${CONSOLE_PATH}.`);
		const triggerCall = {
			method: trigger.method,
			url: `${n8n.baseUrl}/webhook/${TRIGGER_PATH}`,
			headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value },
			body: {},
		};
		const curl = [
			`curl -sS -X ${triggerCall.method} ${shellQuote(triggerCall.url)}`,
			`-H ${shellQuote(`${WEBHOOK_KEY.name}: ${WEBHOOK_KEY.value}`)}`,
			`-H 'content-type: application/json' -d '{}'`,
		].join(' ');
		const ready: EditorReady = {
			editorUrl: `${n8n.baseUrl}/`,
			// The key in the fragment, as docs/console.md says: the browser never sends it to n8n.
			consoleUrl: `${n8n.baseUrl}/webhook/${CONSOLE_PATH}#key=${encodeURIComponent(WEBHOOK_KEY.value)}`,
			login,
			curl,
			trigger: triggerCall,
			workflows: shipped.map(({ file, workflow }) => ({ id: workflow.id, name: String(workflow.name ?? workflow.id), file, active: published.includes(workflow.id) })),
			rules: data.rules,
			ownerId: data.owner.userId,
			pageId: data.owner.pageId,
			pipeline: seeded.pipeline,
			queue: seeded.queue,
			olderConversations: seeded.olderConversations,
			supabaseUrl: stack.supabaseUrl,
			geminiBaseUrl: simulators.gemini.baseUrl,
			graphBaseUrl: simulators.graph.baseUrl,
			n8nUserFolder: userFolder,
		};
		const dataLine = values.temporary ? 'a temporary database, removed on stop' : `${stack.dataDir}${stack.dataDirNote ? ` (${stack.dataDirNote})` : ''}`;
		say(readyText({ ready, copies, followUpWorkflowId: trigger.workflow.id, data: dataLine, temporary: values.temporary }));
		if (values.json) process.stdout.write(`${JSON.stringify(ready)}\n`);

		// n8n ending by itself (a crash) ends the rest too, with what it said last.
		const watch = setInterval(() => {
			if (!n8n.process.exited() || stopping) return;
			clearInterval(watch);
			say(`\nn8n stopped by itself. Its last output:\n${n8n.process.output().slice(-3000)}`);
			void stopEverything(1);
		}, 1000);
	} catch (error) {
		progress.end();
		if (stopping) return; // a signal arrived during the set-up: the stop is under way
		const message = error instanceof Error ? error.message : String(error);
		say(`\neditor: ${message}`);
		if (isPortTaken(error)) {
			say('A port is taken: is `npm run demo`, `npm run stack` or another `npm run editor` running? Stop it, or add --temporary (free ports).');
		}
		await stopEverything(1);
	}
}

async function choosePort(requested: string | undefined, temporary: boolean, say: (line: string) => void): Promise<number> {
	if (requested !== undefined) {
		const port = Number(requested);
		if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new Error(`--port must be a TCP port number, got "${requested}".`);
		if (!(await portIsFree(port))) throw new Error(`Port ${port} is taken on 127.0.0.1 (another n8n?): stop it, or choose another with --port.`);
		return port;
	}
	if (temporary) return freePort();
	if (await portIsFree(DEFAULT_PORT)) return DEFAULT_PORT;
	const port = await freePort();
	say(`Port ${DEFAULT_PORT} is taken on 127.0.0.1 (another n8n?); this n8n uses ${port}.`);
	return port;
}

/** For `npm run editor` and `npm run demo -- --editor`: a bad option is said in one line, without a stack trace. */
export function editorMain(argv: string[]): void {
	runEditor(argv).catch((error) => {
		console.error(`editor: ${error instanceof Error ? error.message : String(error)}`);
		process.exit(1);
	});
}

if (require.main === module) editorMain(process.argv.slice(2));
