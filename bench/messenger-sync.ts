// Benchmark: Messenger Sync (issue 13): 10,000 conversations × 10 messages from the Graph simulator at 2 calls/s per Page, in-process.
//   tsx bench/messenger-sync.ts [--conversations 10000] [--messages 10] [--rate 2] [--page-size 100]
// The simulator enforces the Page's rate (more than `rate` calls in a second are refused with code
// 32); the node paces itself at the same rate, 100 conversations a call with their messages expanded.
// Targets: the whole sync within 1.1 × (calls ÷ rate) s (Facebook's pace, not ours), and our own
// time (parsing + the database calls) ≤ 1 ms per conversation. Then a second, incremental sync.
// Prints the figures; never a test, so a slow machine fails no build.
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import type { IDataObject, INode, INodeParameters } from 'n8n-workflow';
import { Client } from 'pg';
import { startSimulators } from '../simulators';
import { createAuthUser, startStack } from '../stack';
import { runWorkflow, type WorkflowJson } from '../test/harness';
import { argument } from './common';

const TOKEN = 'bench-page-token';

function workflow(options: INodeParameters): WorkflowJson {
	const start: INode = { id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };
	const sync: INode = {
		id: 'sync',
		name: 'Messenger Sync',
		type: 'n8n-nodes-leadflow.messengerSync',
		typeVersion: 1,
		position: [240, 0],
		parameters: { mode: 'incremental', options },
		credentials: { leadflowFacebookPageApi: { id: 'fb', name: 'Facebook Page' }, leadflowSupabaseApi: { id: 'sb', name: 'Supabase' } },
	};
	return { name: 'Messenger Sync bench', nodes: [start, sync], connections: { Start: { main: [[{ node: 'Messenger Sync', type: 'main', index: 0 }]] } } };
}

async function main() {
	const conversations = argument('conversations', 10_000);
	const messages = argument('messages', 10);
	const rate = argument('rate', 2);
	const pageSize = argument('page-size', 100);
	const stack = await startStack({ fast: true });
	const sims = await startSimulators({ graph: { conversations: { perSecond: rate } } });
	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		const owner = await createAuthUser(stack.dbUrl, `bench-sync-${randomUUID()}@leadflow.bench`);
		const pageId = '104857600099001';
		const warmPage = '104857600099002';
		await db.query('insert into public.messenger_pages (page_id, user_id) values ($1, $3), ($2, $3)', [pageId, warmPage, owner]);
		await sims.graph.control.configure({ pageTokens: { [pageId]: TOKEN, [warmPage]: `${TOKEN}-warm` } });
		await sims.graph.control.generateConversations({ pageId, count: conversations, messagesPerConversation: messages, newest: Date.now() - 60_000, stepMs: 5_000, psidStart: 7_000_000_000_000 });
		await sims.graph.control.generateConversations({ pageId: warmPage, count: 5, messagesPerConversation: 2, psidStart: 7_100_000_000_000 });
		const credentials = (page: string, token: string) => ({
			leadflowFacebookPageApi: { pageId: page, accessToken: token, graphApiVersion: 'v25.0', baseUrl: sims.graph.baseUrl },
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		});
		const options = { requestsPerSecond: rate, pageSize, messagesPerConversation: Math.min(100, Math.max(messages, 1)), backoffMs: 1000 };

		// Warm-up: loads n8n's engine, the node and supabase-js, so none of it is timed.
		await runWorkflow(workflow(options), { credentials: credentials(warmPage, `${TOKEN}-warm`) });

		const load = loadavg()[0];
		const started = performance.now();
		const run = await runWorkflow(workflow(options), { credentials: credentials(pageId, TOKEN) });
		const seconds = (performance.now() - started) / 1000;
		if (run.error) throw new Error(`the sync failed: ${run.error.message} (${run.error.description ?? ''})`);
		const output = run.nodeOutputs['Messenger Sync'][0];
		const thisRun = output.this_run as IDataObject;
		const calls = thisRun.calls as number;
		const ideal = calls / rate;
		const ownMs = (thisRun.database_ms as number) + (thisRun.parse_ms as number);
		const stored = await db.query<{ conversations: number; messages: number }>(
			`select count(distinct c.id)::int as conversations, count(m.id)::int as messages
			   from public.messenger_conversations c left join public.messenger_messages m on m.conversation_id = c.id where c.page_id = $1`,
			[pageId],
		);
		const stats = await sims.graph.control.conversationStats();
		console.log(`messenger-sync: ${conversations} conversations × ${messages} messages, ${pageSize} a call, Page rate ${rate} calls/s (load average ${load.toFixed(1)} on this machine)`);
		console.log(`  recorded: ${stored.rows[0].conversations} conversations, ${stored.rows[0].messages} messages; job ${output.status}, ${output.pages_read} pages, errors ${output.errors}`);
		console.log(`  calls ${calls} (refused by the simulator for the rate: ${stats.throttled[pageId] ?? 0}, retries ${thisRun.retries})`);
		console.log(`  whole sync ${seconds.toFixed(1)} s vs calls ÷ rate = ${ideal.toFixed(1)} s → ${(seconds / ideal).toFixed(3)}× (target ≤ 1.1×)`);
		console.log(`  our own time: database ${thisRun.database_ms} ms + parsing ${thisRun.parse_ms} ms = ${(ownMs / conversations).toFixed(3)} ms per conversation (target ≤ 1 ms)`);

		// A second sync: nothing changed but one conversation.
		await sims.graph.control.addConversations(pageId, [
			{ psid: '7000000000000', name: 'Person 7000000000000', updatedTime: Date.now(), messages: [{ text: 'One more question', from: 'person', createdTime: Date.now() }] },
		]);
		await new Promise((resolve) => setTimeout(resolve, 1100));
		const again = performance.now();
		const second = await runWorkflow(workflow(options), { credentials: credentials(pageId, TOKEN) });
		const secondOutput = second.nodeOutputs['Messenger Sync']?.[0] ?? {};
		const secondRun = (secondOutput.this_run ?? {}) as IDataObject;
		console.log(`  incremental sync after one new message: ${((performance.now() - again) / 1000).toFixed(2)} s, ${secondRun.calls} call(s), ${secondOutput.messages ?? '?'} message(s) recorded in total by that job`);
	} finally {
		await db.end();
		await sims.stop();
		await stack.stop();
	}
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
