// The console's Requeue refuses a Conversation IDs that is not a list, holds no or over 1,000
// entries, or holds one that is not a UUID, naming its field (conversationIds), as its rule ID's
// refusal does. Before (review RM1 F2) these were plain
// errors without a field: the failed item, and the console's webhook answer, did not say which
// value to mend. The webhook's answers: test/workflows/leadflow-console-requeue.test.ts.
import { randomUUID } from 'node:crypto';
import { createWorld } from '../../db/follow-up/fixtures';
import { consoleItemOf } from './support/workflow';



test('in a workflow, each refusal of Conversation IDs fails the item naming conversationIds', async () => {
	const world = await createWorld();
	const ruleId = await world.rule({ name: 'Requeue ids field' });
	const many = JSON.stringify(Array.from({ length: 1001 }, () => randomUUID()));
	const cases: Array<[string, string]> = [
		['all', 'conversationIds must be a list of conversation IDs'],
		['={{ { id: "x" } }}', 'conversationIds must be a list of conversation IDs'],
		['={{ [] }}', 'conversationIds must hold 1 to 1000 conversation IDs (got 0)'],
		[`={{ ${many} }}`, 'conversationIds must hold 1 to 1000 conversation IDs (got 1001)'],
		['={{ ["contact-1"] }}', 'conversationIds[0] "contact-1" is not a conversation ID (a UUID)'],
		[`={{ ["${randomUUID()}", 7] }}`, 'conversationIds[1] "7" is not a conversation ID (a UUID)'],
	];
	for (const [conversationIds, message] of cases) {
		const item = await consoleItemOf({ resource: 'followUp', operation: 'requeue', ruleId, userId: world.userId, conversationIds, uncertain: 'leave' });
		expect({ conversationIds: conversationIds.slice(0, 40), error: item.error }).toEqual({
			conversationIds: conversationIds.slice(0, 40),
			error: expect.objectContaining({ code: 'invalid_input', message, field: 'conversationIds' }),
		});
	}
	// A list of UUIDs is read as before (nothing of this rule failed: each is not_found).
	const fine = await consoleItemOf({ resource: 'followUp', operation: 'requeue', ruleId, userId: world.userId, conversationIds: `={{ ["${randomUUID()}"] }}`, uncertain: 'leave' });
	expect(fine.error).toBeUndefined();
	expect(fine.counts).toEqual(expect.objectContaining({ not_found: 1 }));
});
