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
// Prints the figures; never a test, so a slow machine fails no build.
import { startSimulators } from '../simulators';
import { startStack } from '../stack';
import { loadWorkflow, type RunResult, type WorkflowJson } from '../test/harness';

function argument(name: string, fallback: number): number {
	const index = process.argv.indexOf(`--${name}`);
	return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** Milliseconds each node took in the run, in the order they ran. */
function breakdown(result: RunResult): string {
	const runData = result.run?.data.resultData.runData ?? {};
	return result.executedNodes.map((name) => `${name} ${runData[name]?.[0]?.executionTime ?? '?'} ms`).join(', ');
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
	const stack = await startStack({ fast: true });
	const sims = await startSimulators();
	try {
		process.env.LEADFLOW_TEST_STACK = JSON.stringify(stack);
		// Loaded once the stack is known: the helpers read it.
		const { pipelineCredentials, triggerNow } = await import('../test/pipeline/support/pipeline');
		const { dueContacts } = await import('../test/pipeline/support/seeds');

		// Warm-up: loads n8n's nodes, the package's nodes and the clients, so none of that is timed.
		const warm = await dueContacts(5, 100, 'bench-warm');
		await triggerNow(pipelineCredentials(sims, warm.owner.pageId), { ruleId: warm.ruleId }, workflow);

		const rates: number[] = [];
		for (let round = 1; round <= rounds; round += 1) {
			const seed = await dueContacts(contacts, contacts, `bench-${round}`);
			await sims.graph.control.reset();
			if (graphLatency > 0) await sims.graph.control.setLatency(graphLatency, '/messages');
			const started = performance.now();
			const { result, summary } = await triggerNow(pipelineCredentials(sims, seed.owner.pageId), { ruleId: seed.ruleId }, workflow);
			const seconds = (performance.now() - started) / 1000;
			const sends = (await sims.graph.control.messages()).length;
			rates.push(summary.sent / seconds);
			console.log(
				`round ${round}: ${contacts} due → claimed ${summary.claimed}, sent ${summary.sent} (Graph received ${sends}), skipped ${summary.skipped}, failed ${summary.failed} in ${seconds.toFixed(2)} s = ${(summary.sent / seconds).toFixed(0)} contacts/s`,
			);
			console.log(`  ${breakdown(result)}`);
		}
		const rate = median(rates);
		console.log(`median: ${rate.toFixed(0)} contacts/s through the whole workflow (target ≥ 200) ${rate >= 200 ? 'OK' : 'BELOW TARGET'}`);
	} finally {
		await sims.stop();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
