// Benchmark: the whole follow-up workflow (issue #3), workflows/tag-monitor-send.json through n8n's
// engine in-process: claim → Gemini simulator → Graph simulator → the summary, on the local stack.
//   tsx bench/pipeline.ts [--contacts 1000] [--rounds 3] [--rate 300] [--parallel 10] [--graph-latency 0]
//                         [--compare <workflow.json> [--batch 50] [--breakdown]] [--simulators-apart]
// Each round seeds `contacts` due contacts for a new owner and rule (set-based, not timed) and times
// one "Trigger Now" call, simulators answering at once. Target: ≥ 200 contacts/s.
// Facebook Send paces its calls (messagesPerSecond, 300 in the workflow: about Meta's limit per
// Page), so sending alone takes contacts / rate seconds; `--rate` runs a copy of the workflow with
// another pace, to see what the rest of the pipeline costs. `--parallel` sets Facebook Send's
// Parallel Sends and `--graph-latency` makes the Graph simulator answer after that many ms, to see
// what parallel sends buy when Facebook is slow to answer (it is: ~100 ms and more).
// The nodes reach Supabase through a pass-through that times each database round trip, so each
// node's time is printed split into its round trips, Facebook Send's pacing and the rest (the
// nodes' own work, the client libraries, n8n, the simulators); and the CPU the process used.
// `--compare <file>` runs, round after round, alternating which goes first, another copy of the
// workflow (e.g. the one before a change: `git show <commit>:workflows/tag-monitor-send.json`)
// from its schedule, and the shipped one from its schedule (batches sent by sub-executions it does
// not wait for) and from its webhook (waiting for each batch, to answer with the counts); each on
// its own Page, rule and seed, claiming for that rule. The time is until the last sub-execution
// ended, with the load average at the start of each run; with --breakdown, also when Graph received
// the first and the last send and the gaps in the pace between them.
// `--simulators-apart` runs the simulators in a process of their own (as Gemini and Graph are other
// machines for a real n8n), so their work takes no time from the event loop that paces the sends.
// Prints the figures; never a test, so a slow machine fails no build.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import os from 'node:os';
import { SLOT_SPACING } from '../nodes/FacebookSend/helpers/pacer';
import { SimulatorControl, startSimulators, type RunningSimulators } from '../simulators';
import { startStack } from '../stack';
import { loadWorkflow, runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../test/harness';
import { startRpcCounter } from '../test/nodes/FacebookSend/support/rpc-counter';
import { argument, median } from './common';

/** A database round trip: the SQL function called (the path after /rest/v1/rpc/) and its time. */
interface RoundTrip {
	name: string;
	ms: number;
}

const TWO_CLAIMS = 'Claim Due Contacts + Claim The Rest';

// Which node makes which database calls (workflows/tag-monitor-send.json).
const CALLS_OF_NODE: Record<string, string[]> = {
	'Claim Due Contacts': ['automation_claim_explained'],
	// The schedule's two claims (the first 50, then the rest) call the same function: one line for both.
	[TWO_CLAIMS]: ['automation_claim_explained'],
	'Generate Follow-Up': ['automation_mark_generating', 'automation_record_generation', 'limit_take_gemini_keys', 'limit_rest_gemini_key'],
	'Facebook Send': ['automation_begin_send', 'automation_record_send', 'limit_take_send_slots', 'limit_pause_sends'],
};

/**
 * Milliseconds each node took in the run: the nodes that call the database one line each, split into
 * their round trips, Facebook Send's pacing and the rest; then the other nodes on one line. A node
 * that ran several times (once per batch, in the run or in its sub-executions) is summed: batches
 * overlapping, the sum can be more than the run's time.
 */
function breakdown(result: RunResult, trips: RoundTrip[], sends: number, rate: number): string[] {
	const runs = [result.run, ...result.subExecutions.map((sub) => sub.run)];
	const twoClaims = runs.some((run) => run?.data.resultData.runData['Claim The Rest'] !== undefined);
	const timeOf = new Map<string, number>();
	for (const run of runs) {
		for (const [ran, tasks] of Object.entries(run?.data.resultData.runData ?? {})) {
			const name = twoClaims && (ran === 'Claim Due Contacts' || ran === 'Claim The Rest') ? TWO_CLAIMS : ran;
			timeOf.set(name, (timeOf.get(name) ?? 0) + tasks.reduce((sum, task) => sum + task.executionTime, 0));
		}
	}
	const ms = (value: number) => `${value.toFixed(0)} ms`;
	const lines: string[] = [];
	const others: string[] = [];
	for (const name of timeOf.keys()) {
		const total = timeOf.get(name);
		const calls = trips.filter((trip) => CALLS_OF_NODE[name]?.includes(trip.name));
		if (total === undefined || calls.length === 0) {
			others.push(`${name} ${total ?? '?'} ms`);
			continue;
		}
		// The shared limits' calls run while the node's other calls wait (Gemini, the pacing): shown, not subtracted.
		const overlapping = (trip: RoundTrip) => trip.name.startsWith('limit_');
		const database = calls.filter((trip) => !overlapping(trip)).reduce((sum, trip) => sum + trip.ms, 0);
		// Facebook Send cannot be faster than its pace: the n-th call starts (n − 1) × 1.1 / rate s
		// after the first (slots are 10 % further apart than the rate: docs/scaling.md).
		const pacing = name === 'Facebook Send' && sends > 1 ? ((sends - 1) * SLOT_SPACING * 1000) / rate : 0;
		// Each function once, with how many calls it took when more than one (the shared limits are
		// taken a few at a time while the node runs, overlapping its other work).
		const byName = new Map<string, { count: number; ms: number }>();
		for (const trip of calls) {
			const entry = byName.get(trip.name) ?? { count: 0, ms: 0 };
			byName.set(trip.name, { count: entry.count + 1, ms: entry.ms + trip.ms });
		}
		const parts = [
			`database ${[...byName].filter(([fn]) => !fn.startsWith('limit_')).map(([fn, { ms: total }]) => `${fn.replace(/^automation_/, '')} ${ms(total)}`).join(' + ')}`,
			...(pacing > 0 ? [`pacing ${ms(pacing)}`] : []),
			`rest ${ms(total - database - pacing)}`,
			...[...byName].filter(([fn]) => fn.startsWith('limit_')).map(([fn, { count, ms: total }]) => `meanwhile ${fn} ×${count} (${ms(total)} in all)`),
		];
		lines.push(`${name} ${total} ms = ${parts.join(', ')}`);
	}
	return [...lines, `others: ${others.join(', ')}`];
}


/**
 * When Graph received the sends (epoch ms, the simulator's clock, which is this machine's), from the
 * run's start: the first and the last, and the gaps between two in a row longer than two slots'
 * spacing, with the time they held beyond one spacing (the pace lost: slots given up late, or no
 * batch ready to send; a late send followed by one on time counts its gap too).
 */
function arrivals(times: number[], startedAt: number, rate: number): string {
	if (times.length === 0) return 'Graph received nothing';
	const sorted = [...times].sort((a, b) => a - b);
	const spacing = (SLOT_SPACING * 1000) / rate;
	let gaps = 0;
	let beyond = 0;
	for (let index = 1; index < sorted.length; index += 1) {
		const gap = sorted[index] - sorted[index - 1];
		if (gap > 2 * spacing) {
			gaps += 1;
			beyond += gap - spacing;
		}
	}
	const at = (ms: number) => `${((ms - startedAt) / 1000).toFixed(2)} s`;
	const ideal = ((sorted.length - 1) * spacing) / 1000;
	return `Graph received the first at ${at(sorted[0])}, the last at ${at(sorted[sorted.length - 1])} (the pace alone: ${ideal.toFixed(2)} s from first to last); ${gaps} gaps over two slots, ${beyond.toFixed(0)} ms beyond one slot in them`;
}

/**
 * The simulators in a process of their own (`npm run simulators -- --json`), reached as before through
 * their base URLs and control routes: Gemini and Graph are other machines for a real n8n, so their
 * work then takes no time from this process's event loop, which paces the sends.
 */
async function simulatorsApart(): Promise<RunningSimulators> {
	const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/simulators.ts', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
	const lines = createInterface({ input: child.stdout });
	const [line] = (await once(lines, 'line')) as [string];
	const { geminiBaseUrl, graphBaseUrl } = JSON.parse(line) as { geminiBaseUrl: string; graphBaseUrl: string };
	return {
		gemini: { baseUrl: geminiBaseUrl, control: new SimulatorControl(geminiBaseUrl) },
		graph: { baseUrl: graphBaseUrl, control: new SimulatorControl(graphBaseUrl) },
		stop: async () => {
			if (child.exitCode !== null) return;
			const exited = once(child, 'exit');
			child.kill('SIGTERM');
			await exited;
		},
	};
}

/** A copy of a workflow whose claim is for one rule (the schedule's claims for every enabled rule). */
function forRule(workflow: WorkflowJson, ruleId: string): WorkflowJson {
	return {
		...workflow,
		nodes: workflow.nodes.map((node) =>
			node.type === 'n8n-nodes-leadflow.tagEligibility' ? { ...node, parameters: { ...node.parameters, ruleId: { __rl: true, mode: 'id', value: ruleId } } } : node,
		),
	};
}

async function main() {
	const contacts = argument('contacts', 1000);
	const rounds = argument('rounds', 3);
	const workflow: WorkflowJson = loadWorkflow('workflows/tag-monitor-send.json');
	const send = workflow.nodes.find((node) => node.type === 'n8n-nodes-leadflow.facebookSend');
	if (send && process.argv.includes('--rate')) send.parameters = { ...send.parameters, messagesPerSecond: argument('rate', 300) };
	if (send && process.argv.includes('--parallel')) {
		send.parameters = { ...send.parameters, options: { ...(send.parameters.options as object), concurrency: argument('parallel', 10) } };
	}
	const graphLatency = argument('graph-latency', 0);
	const parallel = (send?.parameters.options as { concurrency?: number } | undefined)?.concurrency ?? 'default';
	console.log(`Facebook Send paced at ${String(send?.parameters.messagesPerSecond)} messages/s, Parallel Sends ${parallel}, Graph answering after ${graphLatency} ms`);
	const pace = Number(send?.parameters.messagesPerSecond ?? 10);
	const stack = await startStack({ fast: true });
	const apart = process.argv.includes('--simulators-apart');
	const sims = apart ? await simulatorsApart() : await startSimulators();
	console.log(`the simulators run ${apart ? 'in a process of their own' : 'in this process'}`);
	const timer = await startRpcCounter(stack.supabaseUrl);
	try {
		process.env.LEADFLOW_TEST_STACK = JSON.stringify(stack);
		// Loaded once the stack is known: the helpers read it.
		const { pipelineCredentials: testCredentials, triggerNow } = await import('../test/workflows/support/pipeline');
		const { dueContacts } = await import('../test/workflows/support/seeds');
		const pipelineCredentials = (...args: Parameters<typeof testCredentials>) => {
			const credentials = testCredentials(...args);
			return { ...credentials, leadflowSupabaseApi: { ...credentials.leadflowSupabaseApi, url: timer.url } };
		};

		// Warm-up: loads n8n's nodes, the package's nodes and the clients, so none of that is timed.
		const warm = await dueContacts(5, 100, 'bench-warm');
		await triggerNow(pipelineCredentials(sims, warm.owner.pageId), { ruleId: warm.ruleId }, workflow);

		if (process.argv.includes('--compare')) {
			const other = process.argv[process.argv.indexOf('--compare') + 1];
			// --batch: the shipped copy's batch size (Batches: 50 on the schedule), to see what the size costs.
			const batches = workflow.nodes.find((node) => node.type === 'n8n-nodes-base.splitInBatches');
			if (batches && process.argv.includes('--batch')) batches.parameters = { ...batches.parameters, batchSize: argument('batch', 50) };
			await compare({ workflow, other: loadWorkflow(readFileSync(other, 'utf8')), contacts, rounds, sims, credentialsFor: pipelineCredentials, triggerNow, dueContacts, timer, pace });
			return;
		}
		const rates: number[] = [];
		for (let round = 1; round <= rounds; round += 1) {
			const seed = await dueContacts(contacts, contacts, `bench-${round}`);
			await sims.graph.control.reset();
			if (graphLatency > 0) await sims.graph.control.setLatency(graphLatency, '/messages');
			timer.reset();
			const started = performance.now();
			const cpu = process.cpuUsage();
			const { result, summary } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: seed.ruleId }, workflow);
			const seconds = (performance.now() - started) / 1000;
			const { user, system } = process.cpuUsage(cpu);
			const sends = (await sims.graph.control.messages()).length;
			rates.push(summary.sent / seconds);
			console.log(
				`round ${round}: ${contacts} due → claimed ${summary.claimed}, sent ${summary.sent} (Graph received ${sends}), skipped ${summary.skipped}, failed ${summary.failed} in ${seconds.toFixed(2)} s = ${(summary.sent / seconds).toFixed(0)} contacts/s`,
			);
			for (const line of breakdown(result, timer.trips.map((trip) => ({ name: trip.path.replace(/^\/rest\/v1\/rpc\//, ''), ms: trip.ms })), sends, pace)) console.log(`  ${line}`);
			console.log(`  this process (n8n, the nodes, the simulators) used ${((user + system) / 1000).toFixed(0)} ms of CPU`);
		}
		const rate = median(rates);
		console.log(`median: ${rate.toFixed(0)} contacts/s through the whole workflow (target ≥ 200) ${rate >= 200 ? 'OK' : 'BELOW TARGET'}`);
	} finally {
		await timer.stop();
		await sims.stop();
		await stack.stop();
	}
}

interface CompareRun {
	workflow: WorkflowJson;
	other: WorkflowJson;
	contacts: number;
	rounds: number;
	sims: Awaited<ReturnType<typeof startSimulators>>;
	credentialsFor: (sims: CompareRun['sims'], pageId: string) => TestCredentials;
	triggerNow: typeof import('../test/workflows/support/pipeline').triggerNow;
	dueContacts: typeof import('../test/workflows/support/seeds').dueContacts;
	timer: Awaited<ReturnType<typeof startRpcCounter>>;
	pace: number;
}

type Variant = 'other, schedule' | 'shipped, schedule' | 'shipped, webhook';

/** One run of a variant on a new seed: seconds until everything ended, what Graph received, and when the run's own execution ended. */
async function runVariant(run: CompareRun, variant: Variant, label: string) {
	const seed = await run.dueContacts(run.contacts, run.contacts, label);
	const credentials = run.credentialsFor(run.sims, seed.owner.pageId);
	await run.sims.graph.control.reset();
	run.timer.reset();
	const workflow = forRule(variant.startsWith('other') ? run.other : run.workflow, seed.ruleId);
	const started = performance.now();
	const startedAt = Date.now();
	const result = variant.endsWith('webhook')
		? // The copy's Claim has the rule picked (forRule), which refuses a body ruleId: {} runs that rule.
			(await run.triggerNow(credentials, {}, workflow)).result
		: await runWorkflow(workflow, { trigger: 'schedule', credentials });
	const seconds = (performance.now() - started) / 1000;
	if (result.error) throw new Error(`${variant}: ${result.error.message}`);
	// A webhook run refused or failed sends nothing: never timed as a run.
	if (result.response && result.response.statusCode !== 200) throw new Error(`${variant}: answered ${result.response.statusCode} ${JSON.stringify(result.response.body)}`);
	const delivered = await run.sims.graph.control.messages();
	const sent = delivered.length;
	const lines = [arrivals(delivered.map((message) => Date.parse(message.deliveredAt)), startedAt, run.pace), ...breakdown(result, run.timer.trips.map((trip) => ({ name: trip.path.replace(/^\/rest\/v1\/rpc\//, ''), ms: trip.ms })), sent, run.pace)];
	return { seconds, sent, own: (result.durationMs ?? 0) / 1000, subExecutions: result.subExecutions.length, lines };
}

/** The variants alternately, each on its own seed; seconds until all was sent. */
async function compare(run: CompareRun): Promise<void> {
	const variants: Variant[] = ['other, schedule', 'shipped, schedule', 'shipped, webhook'];
	const seconds = new Map<Variant, number[]>(variants.map((variant) => [variant, []]));
	for (const variant of variants) await runVariant(run, variant, `bench-warm-${variant}`);
	for (let round = 1; round <= run.rounds; round += 1) {
		// Each variant first, second and third in turn.
		const order = variants.map((_, index) => variants[(index + round) % variants.length]);
		for (const variant of order) {
			const load = os.loadavg()[0].toFixed(1);
			const { seconds: took, sent, own, subExecutions, lines } = await runVariant(run, variant, `bench-${round}-${variant}`);
			seconds.get(variant)?.push(took);
			console.log(
				`round ${round} ${variant.padEnd(17)}: ${run.contacts} due → Graph received ${sent} in ${took.toFixed(2)} s = ${(sent / took).toFixed(0)} contacts/s (its own execution ended at ${own.toFixed(2)} s, ${subExecutions} sub-executions; load average ${load})`,
			);
			if (process.argv.includes('--breakdown')) for (const line of lines) console.log(`  ${line}`);
		}
	}
	const bound = (1.15 * run.contacts) / 300;
	const medians = variants.map((variant) => `${variant} ${median(seconds.get(variant) ?? []).toFixed(2)} s`);
	console.log(`medians: ${medians.join(', ')}; the bound at 300/s: ${bound.toFixed(2)} s`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
