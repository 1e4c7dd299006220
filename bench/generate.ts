// Benchmark: GenerateFollowUp (issue #3), in-process through n8n's engine with the Gemini simulator.
//   tsx bench/generate.ts [--n 100] [--latency 800] [--concurrency 20] [--contacts 1000 (0 skips part 2)]
// 1. Concurrency: n items, the model answering after `latency` ms, `concurrency` calls at once,
//    Record Stages off. Target: within 1.3 × ⌈n / c⌉ × latency.
// 2. Throughput: `contacts` claimed contacts on the local stack, the simulator answering at once,
//    Record Stages on (mark generating, Gemini, record results). Target: ≥ 200 contacts/s.
// Prints the figures; never a test, so a slow machine fails no build.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators } from '../simulators';
import { startStack } from '../stack';
import type { RunResult } from '../test/harness';
import { runGenerate } from '../test/nodes/GenerateFollowUp/support/workflow';
import { argument } from './common';

const nodeMs = (result: RunResult) => result.run?.data.resultData.runData.Generate?.[0]?.executionTime ?? NaN;

const contact = (index: number): IDataObject => ({
	sender_name: `Lead${index}`,
	follow_up_number: 1,
	messages: [{ direction: 'inbound', text: 'How much is it?', sent_at: new Date().toISOString() }],
	rule: { instructions: 'Be brief and friendly.' },
});

async function main() {
	const n = argument('n', 100);
	const latency = argument('latency', 800);
	const concurrency = argument('concurrency', 20);
	const contacts = argument('contacts', 1000);
	const sims = await startSimulators();
	const keys = Array.from({ length: 4 }, () => `bench-key-${randomUUID()}`).join('\n');
	const gemini = { leadflowGeminiApi: { apiKeys: keys, baseUrl: sims.gemini.baseUrl, model: 'gemini-3-flash' } };
	try {
		// Warm-up: loads n8n's nodes and @google/genai, so neither is timed.
		await runGenerate([contact(0)], { recordStages: false }, gemini);

		await sims.gemini.control.setLatency(latency);
		const items = Array.from({ length: n }, (_, index) => contact(index));
		const started = Date.now();
		const run = await runGenerate(items, { recordStages: false, options: { concurrency } }, gemini);
		const wallMs = Date.now() - started;
		const idealMs = Math.ceil(n / concurrency) * latency;
		const measuredMs = nodeMs(run.result);
		console.log(`concurrency: n=${n}, latency ${latency} ms, c=${concurrency}: ${run.generated.length} generated, ${run.failed.length} failed`);
		console.log(`  node ${measuredMs} ms (workflow ${wallMs} ms) vs ⌈n/c⌉×latency = ${idealMs} ms → ${(measuredMs / idealMs).toFixed(3)}× (target ≤ 1.3×)`);

		if (contacts <= 0) return;
		await sims.gemini.control.setLatency(0);
		const stack = await startStack({ fast: true });
		try {
			process.env.LEADFLOW_TEST_STACK = JSON.stringify(stack);
			// Loaded after the stack is known: the seeding helper reads it.
			const { claimedContacts } = await import('../test/nodes/GenerateFollowUp/support/claimed');
			const batch = await claimedContacts(contacts);
			const credentials = { ...gemini, leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey } };
			const throughputStarted = Date.now();
			const recorded = await runGenerate(batch.items, { options: { concurrency } }, credentials);
			const throughputWallMs = Date.now() - throughputStarted;
			const ms = nodeMs(recorded.result);
			console.log(`throughput: ${contacts} claimed contacts, simulator at 0 ms, c=${concurrency}, stages recorded: ${recorded.generated.length} ready_to_send, ${recorded.failed.length} failed`);
			console.log(
				`  node ${ms} ms → ${Math.round((contacts / ms) * 1000)} contacts/s; whole workflow run ${throughputWallMs} ms → ${Math.round((contacts / throughputWallMs) * 1000)} contacts/s (target ≥ 200)`,
			);
		} finally {
			await stack.stop();
		}
	} finally {
		await sims.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
