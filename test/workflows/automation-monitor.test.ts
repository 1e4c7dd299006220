// workflows/automation-monitor.json through n8n's engine in-process against the local stack. A
// contact tagged a moment ago must show (in automation_eligible_contacts and in the monitor's
// snapshot) before any run has processed it, not "no contacts". A ruleId missing or malformed
// answers 400, one of no rule 404, naming ruleId.
import { randomUUID } from 'node:crypto';
import { runWorkflow } from '../harness';
import { withDb } from '../helpers/stack';
import { addContacts, addRule, createTags } from '../../scripts/demo/seed';
import { pipelineCredentials, WEBHOOK_KEY } from './support/pipeline';
import { newOwner } from './support/seeds';
import type { RunningSimulators } from '../../simulators';

// The monitor calls neither Gemini nor Graph: their credentials are not used.
const noSimulators = { gemini: { baseUrl: 'http://127.0.0.1:9' }, graph: { baseUrl: 'http://127.0.0.1:9' } } as RunningSimulators;

const monitor = (ruleId: string, pageId: string, key = WEBHOOK_KEY.value) =>
	runWorkflow('workflows/automation-monitor.json', {
		webhook: { method: 'GET', headers: { [WEBHOOK_KEY.name]: key }, query: { ruleId } },
		credentials: pipelineCredentials(noSimulators, pageId),
	});

test('visible the moment it is tagged: a contact tagged a moment ago is in automation_eligible_contacts and in the snapshot, before any processing', async () => {
	const owner = await newOwner('seed000');
	const { ruleId, psid } = await withDb(async (db) => {
		const tags = await createTags(db, owner, ['AI', 'Lead']);
		const rule = await addRule(db, owner, { name: 'AI follow-up', includeTagIds: [tags.AI] });
		// Tagged after the rule exists, as the user did: no run has seen it.
		const { psids } = await addContacts(db, owner, { label: 'John Doe', count: 1, tagIds: [tags.AI, tags.Lead], lastMessageMinutesAgo: 5 });
		return { ruleId: rule, psid: psids[0] };
	});

	const { rows: viewRows } = await withDb((db) =>
		db.query(`select sender_id, contact_status, matching_tags, is_being_processed from public.automation_eligible_contacts where rule_id = $1`, [ruleId]),
	);
	expect(viewRows).toEqual([{ sender_id: psid, contact_status: 'eligible', matching_tags: ['AI'], is_being_processed: false }]);
	const { rows: states } = await withDb((db) => db.query(`select 1 from public.ai_automation_contact_states where rule_id = $1`, [ruleId]));
	expect(states).toHaveLength(0);

	const result = await monitor(ruleId, owner.pageId);

	expect(result.error).toBeUndefined();
	expect(result.response?.statusCode).toBe(200);
	expect(result.response?.body).toMatchObject({
		rule: { id: ruleId },
		stats: { total_with_tags: 1, eligible_count: 1, active_count: 0, sent_count: 0 },
		eligibleContacts: [{ sender_id: psid, contact_status: 'eligible', is_being_processed: false, status_reason: null }],
		activeContacts: [],
	});
});

test('without the webhook key n8n refuses (403)', async () => {
	const owner = await newOwner('monitor-key');
	const result = await monitor('00000000-0000-4000-8000-000000000000', owner.pageId, 'guess');
	expect(result.response?.statusCode).toBe(403);
	expect(result.executedNodes).toEqual([]);
});

test.each([
	['not a UUID', { ruleId: 'abc' }, 'The rule ID "abc" is not a UUID'],
	['missing', {}, 'The rule ID "" is not a UUID'],
])('a ruleId %s answers 400 naming ruleId, with the message only', async (_label, query, message) => {
	const owner = await newOwner('monitor-bad-rule');
	const result = await runWorkflow('workflows/automation-monitor.json', {
		webhook: { method: 'GET', headers: { [WEBHOOK_KEY.name]: WEBHOOK_KEY.value }, query },
		credentials: pipelineCredentials(noSimulators, owner.pageId),
	});
	expect(result.response?.statusCode).toBe(400);
	expect(result.response?.body).toEqual({ status: 400, error: message, field: 'ruleId', hint: expect.stringMatching(/ruleId=.*ai_automation_rules/) });
	expect(result.error).toBeUndefined();
});

test('the id of no rule answers 404 naming ruleId', async () => {
	const owner = await newOwner('monitor-no-rule');
	const unknown = randomUUID();
	const result = await monitor(unknown, owner.pageId);
	expect(result.response?.statusCode).toBe(404);
	expect(result.response?.body).toEqual({ status: 404, error: `There is no automation rule with ID ${unknown}`, field: 'ruleId', hint: expect.stringMatching(/ruleId/) });
});
