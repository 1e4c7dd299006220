// Benchmark: the whole follow-up workflow (issue #3), workflows/tag-monitor-send.json through n8n's
// engine in-process: claim → Gemini simulator → Graph simulator → the summary, on the local stack.
//   tsx bench/pipeline.ts [--contacts 1000] [--rounds 3] [--rate 300] [--parallel 10] [--graph-latency 0]
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
// Prints the figures; never a test, so a slow machine fails no build.
import { SLOT_SPACING } from '../nodes/FacebookSend/helpers/pacer';
import { startSimulators } from '../simulators';
import { startStack } from '../stack';
import { loadWorkflow, type RunResult, type WorkflowJson } from '../test/harness';
import { startRpcCounter } from '../test/nodes/FacebookSend/support/rpc-counter';

function argument(name: string, fallback: number): number {
	const index = process.argv.indexOf(`--${name}`);
	return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** A database round trip: the SQL function called (the path after /rest/v1/rpc/) and its time. */
interface RoundTrip {
	name: string;
	ms: number;
}

// Which node makes which database calls (workflows/tag-monitor-send.json).
const CALLS_OF_NODE: Record<string, string[]> = {
	'Claim Due Contacts': ['automation_claim_explained'],
	'Generate Follow-Up': ['automation_mark_generating', 'automation_record_generation', 'limit_take_gemini_keys', 'limit_rest_gemini_key'],
	'Facebook Send': ['automation_begin_send', 'automation_record_send', 'limit_take_send_slots', 'limit_pause_sends'],
};

/**
 * Milliseconds each node took in the run: the nodes that call the database one line each, split into
 * their round trips, Facebook Send's pacing and the rest; then the other nodes on one line.
 */
function breakdown(result: RunResult, trips: RoundTrip[], sends: number, rate: number): string[] {
	const runData = result.run?.data.resultData.runData ?? {};
	const ms = (value: number) => `${value.toFixed(0)} ms`;
	const lines: string[] = [];
	const others: string[] = [];
	for (const name of result.executedNodes) {
		const total = runData[name]?.[0]?.executionTime;
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

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

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
	const sims = await startSimulators();
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

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
