// The Claim operation's contact items get their rule's settings from the answer's claimedRules; an
// answer from a database older than the package (no claimedRules) stops the node saying what to do.
import type { IExecuteFunctions, INode } from 'n8n-workflow';
import type { ClaimedContact, ClaimExplained } from '../../../nodes/shared/contract';
import { failedItem } from '../../../nodes/shared/per-item';
import { contactsWithRules } from '../../../nodes/TagEligibility/helpers/claimed';

// The node the errors are raised for: all these functions ask of their context.
const node: INode = { id: 'claim', name: 'Claim Due Contacts', type: 'n8n-nodes-leadflow.tagEligibility', typeVersion: 1, position: [0, 0], parameters: {} };
const context = { getNode: () => node } as unknown as IExecuteFunctions;

const rule = (id: string, instructions: string): ClaimedContact['rule'] => ({
	id,
	name: `Rule ${id}`,
	page_id: null,
	instructions,
	model: null,
	language: null,
	context_message_count: 5,
	max_follow_ups: 3,
	min_hours_between_follow_ups: 24,
	stop_on_reply: true,
	daily_limit: 100,
	time_zone: 'UTC',
});

const contact = (conversationId: string, ruleId: string) => ({
	state_id: `state-${conversationId}`,
	rule_id: ruleId,
	user_id: 'owner',
	conversation_id: conversationId,
	page_id: '100200300',
	recipient_id: `psid-${conversationId}`,
	sender_name: null,
	follow_up_number: 1,
	tags: ['AI Lead'],
	messages: [],
	last_customer_message_at: '2026-11-25T11:00:00.000Z',
	window_closes_at: '2026-11-26T11:00:00.000Z',
	lease_expires_at: '2026-11-25T12:10:00.000Z',
	execution_id: 'exec-1',
});

const summary: ClaimExplained['summary'] = { requested: 3, pageId: null, claimed: 3, reason: null, notClaimed: {}, rules: [] };

test('each contact carries its own rule\'s settings, in the answer\'s order', () => {
	const answer: ClaimExplained = {
		contacts: [contact('c1', 'r1'), contact('c2', 'r2'), contact('c3', 'r1')],
		claimedRules: { r1: rule('r1', 'Be brief.'), r2: rule('r2', 'Be warm.') },
		summary,
	};
	const items = contactsWithRules(context, answer);
	expect(items.map((item) => [item.conversation_id, item.rule.id, item.rule.instructions])).toEqual([
		['c1', 'r1', 'Be brief.'],
		['c2', 'r2', 'Be warm.'],
		['c3', 'r1', 'Be brief.'],
	]);
});

test('an answer without claimedRules (migrations older than the package) says to apply the migrations', () => {
	const older = { contacts: [{ ...contact('c1', 'r1'), rule: rule('r1', 'Be brief.') }], summary } as unknown as ClaimExplained;
	let thrown: unknown;
	try {
		contactsWithRules(context, older);
	} catch (error) {
		thrown = error;
	}
	expect((thrown as Error).message).toMatch(/without claimedRules: .*migrations are older than the Leadflow package; apply the migrations \(`npm run migrate/);
	// The service's fault, not the request's: a service_error (500 in the trigger webhook's answer),
	// never invalid_input, which the webhook answers as a refused ruleId.
	expect(failedItem(context, thrown, { item: 0 }).json).toEqual({ error: expect.objectContaining({ code: 'service_error' }) });
});
