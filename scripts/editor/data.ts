// The data `npm run editor` starts with: the demo's data sets, seeded by the demo's own code, for
// the person at the editor to run the workflows on (the editor runs none of them itself):
//   - the follow-up contacts and rules on the demo's Page, connected to the demo owner, with
//     Facebook's refusals for three contacts (scripts/demo/data-set.ts);
//   - the CRM pipeline "Course sales" on the owner's second Page, its 40 conversations due an
//     analysis, the model's answers scripted in the Gemini simulator until the editor stops
//     (scripts/demo/pipeline-data.ts): Analyse Now places them;
//   - the lead queue: the owner's queue settings, the leads added through the Queue Ledger node, and
//     today's queue (scripts/demo/queue.ts, seedQueueDemo): Run Now sends what is due by now,
//     Prepare Now makes tomorrow's;
//   - older conversations of the demo's Page on the Graph simulator, for Sync Now to bring in.
import { Client } from 'pg';
import type { RunningSimulators } from '../../simulators';
import type { StackInfo } from '../../stack';
import { addFacebookRefusals, seedDemoDataSet, type DemoDataSet } from '../demo/data-set';
import { CONTACTS, PIPELINE_NAME, PIPELINE_PAGE_ID, scriptAnalyses, seedPipelineDemo } from '../demo/pipeline-data';
import { seedQueueDemo, type QueueSeed } from '../demo/queue';

/** Conversations of the demo's Page on the Graph simulator that the database does not hold yet. */
export const OLDER_CONVERSATIONS = 12;

export interface EditorData {
	dataSet: DemoDataSet;
	pipeline: { name: string; pageId: string; conversations: number };
	queue: { leads: number; refused: number } & QueueSeed['prepared'];
	olderConversations: number;
}

export async function seedEditorData(stack: StackInfo, simulators: RunningSimulators): Promise<EditorData> {
	const dataSet = await seedDemoDataSet(stack, simulators);
	await addFacebookRefusals(simulators, dataSet);

	const db = new Client({ connectionString: stack.dbUrl });
	await db.connect();
	try {
		await seedPipelineDemo(db, dataSet.owner);
	} finally {
		await db.end();
	}
	// Kept until the simulators stop with the editor: every Analyse Now gets the scripted answers.
	await scriptAnalyses(simulators);

	const queue = await seedQueueDemo(stack, dataSet, 'today');
	const leads = queue.leads.filter((lead) => lead.outcome === 'created').length;

	await simulators.graph.control.generateConversations({ pageId: dataSet.owner.pageId, count: OLDER_CONVERSATIONS, messagesPerConversation: 3 });
	return {
		dataSet,
		pipeline: { name: PIPELINE_NAME, pageId: PIPELINE_PAGE_ID, conversations: CONTACTS },
		queue: { leads, refused: queue.invalid.length, ...queue.prepared },
		olderConversations: OLDER_CONVERSATIONS,
	};
}
