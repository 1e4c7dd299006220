// Benchmark: AutoAssignStage's Analyze (issue 11), in-process through n8n's engine with the Gemini simulator.
//   tsx bench/analyze.ts [--n 100] [--latency 800] [--concurrency 20]
// n conversations (their messages on the items), the model answering after `latency` ms with a
// valid structured reply, `concurrency` calls at once, on the fast local stack: Analyze reads the
// Page pipelines' stage names and shares its Gemini keys through the database.
// Target: within 1.2 × ⌈n / c⌉ × latency. Prints the figures; never a test, so a slow machine fails no build.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators } from '../simulators';
import { startStack } from '../stack';
import type { RunResult } from '../test/harness';
import { runStage } from '../test/nodes/AutoAssignStage/support/workflow';
import { argument } from './common';

const nodeMs = (result: RunResult) => result.run?.data.resultData.runData.Stage?.[0]?.executionTime ?? NaN;

const conversation = (index: number): IDataObject => ({
	conversation_id: randomUUID(),
	sender_name: `Lead${index}`,
	messages: [
		{ direction: 'inbound', text: 'How much is the premium plan? I would like to order.', sent_at: '2026-11-20T10:00:00Z' },
		{ direction: 'outbound', text: 'It is 49 a month.', sent_at: '2026-11-20T10:05:00Z' },
	],
});

const REPLY = JSON.stringify({ lead_status: 'QUALIFIED', lead_score: 72, confidence: 85, recommended_stage: 'Qualified', summary: 'Wants to order.', reasoning: 'Asked the price.' });

async function main() {
	const n = argument('n', 100);
	const latency = argument('latency', 800);
	const concurrency = argument('concurrency', 20);
	const stack = await startStack({ fast: true });
	const sims = await startSimulators();
	const keys = Array.from({ length: 4 }, () => `bench-key-${randomUUID()}`).join('\n');
	const credentials = {
		leadflowGeminiApi: { apiKeys: keys, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' },
		leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
	};
	try {
		await sims.gemini.control.addFault({ effect: { kind: 'text', text: REPLY } });
		// Warm-up: loads n8n's nodes and @google/genai, so neither is timed.
		await runStage([conversation(0)], { operation: 'analyze' }, credentials);

		await sims.gemini.control.setLatency(latency);
		const items = Array.from({ length: n }, (_, index) => conversation(index));
		const started = Date.now();
		const run = await runStage(items, { operation: 'analyze', options: { concurrency } }, credentials);
		const wallMs = Date.now() - started;
		const idealMs = Math.ceil(n / concurrency) * latency;
		const measuredMs = nodeMs(run.result);
		const fallback = run.contacts.filter((contact) => contact.fallback === true).length;
		console.log(`analyze: n=${n}, latency ${latency} ms, c=${concurrency}: ${run.contacts.length - fallback} analysed by the model, ${fallback} fallback${run.result.error ? `, error: ${run.result.error.message}` : ''}`);
		console.log(`  node ${measuredMs} ms (workflow ${wallMs} ms) vs ⌈n/c⌉×latency = ${idealMs} ms → ${(measuredMs / idealMs).toFixed(3)}× (target ≤ 1.2×)`);
	} finally {
		await sims.stop();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
