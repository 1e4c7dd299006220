// A claim never takes again a contact its own holder (p_execution_id: one n8n execution, the Tag
// Eligibility node names it after the execution) claimed earlier, whatever the rule's minimum
// interval, and does not count it among those it did not claim (migration …2900). The case it is
// for: tag-monitor-send.json's schedule claims twice in one run, a first batch then the rest while
// that batch is sent; under a rule whose interval is 0 a first-batch contact already sent is due
// again, and was claimed and messaged a second time by the same run.
import type { ClaimExplained } from '../../../nodes/shared/contract';
import { serviceClient } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { beginSend, generate, recordSend, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const claimExplained = (ruleId: string, executionId: string, limit: number) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: limit,
		p_execution_id: executionId,
		p_now: NOW.toISOString(),
	});

/** The claimed contacts generated and sent by the holder, as its batch's sub-execution does. */
async function sendAll(executionId: string, stateIds: string[]) {
	await generate(service, executionId, stateIds);
	const begun = await beginSend(service, executionId, stateIds);
	await recordSend(
		service,
		executionId,
		begun.filter((item) => item.outcome === 'send').map((item) => ({ state_id: item.state_id, outcome: 'sent', facebook_message_id: `m_${item.attempt_id}` })),
	);
}

describe('automation_claim_explained never takes again what its own holder claimed earlier', () => {
	it('with a rule whose interval is 0: the first batch, sent, is neither claimed again nor counted; another holder may claim it', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ minHours: 0, maxFollowUps: 5 });
		await world.contacts(5);
		const holder = 'n8n-77-0123456789ab';
		const first = await claimExplained(ruleId, holder, 2);
		expect(first.contacts).toHaveLength(2);
		await sendAll(holder, first.contacts.map((contact) => contact.state_id));

		// The same holder's second claim: the 3 others only, and why it came short says nothing of
		// the 2 it sent (before …2900: the 2 taken again, a follow-up number 2 each).
		const rest = await claimExplained(ruleId, holder, 10);
		const firstIds = first.contacts.map((contact) => contact.conversation_id);
		expect(rest.contacts).toHaveLength(3);
		expect(rest.contacts.map((contact) => contact.conversation_id).filter((id) => firstIds.includes(id))).toEqual([]);
		expect(rest.summary).toMatchObject({ requested: 10, claimed: 3, reason: 'no_more_due' });
		expect(rest.summary.notClaimed).toEqual({});
		expect(rest.summary.rules).toEqual([expect.objectContaining({ ruleId, status: 'no_more_due', claimed: 3, notClaimed: {} })]);

		// Nothing left for that holder: no_more_due (the run's own contacts are tagged), not no_tagged_contacts.
		const nothing = await claimExplained(ruleId, holder, 10);
		expect(nothing.contacts).toEqual([]);
		expect(nothing.summary).toMatchObject({ claimed: 0, reason: 'no_more_due' });
		expect(nothing.summary.notClaimed).toEqual({});

		// Another execution (another holder) may claim the 2 sent ones: due again under interval 0.
		const other = await claimExplained(ruleId, 'n8n-78-0123456789ab', 10);
		expect(other.contacts.map((contact) => contact.conversation_id).sort()).toEqual([...firstIds].sort());
		expect(other.contacts.every((contact) => contact.follow_up_number === 2)).toBe(true);
	});

	it('a contact the holder still holds is not counted in_progress by its own second claim', async () => {
		const world = await createWorld();
		const ruleId = await world.rule();
		await world.contacts(3);
		const holder = 'n8n-79-0123456789ab';
		expect((await claimExplained(ruleId, holder, 2)).contacts).toHaveLength(2);
		const rest = await claimExplained(ruleId, holder, 10);
		expect(rest.contacts).toHaveLength(1);
		expect(rest.summary).toMatchObject({ claimed: 1, reason: 'no_more_due' });
		expect(rest.summary.notClaimed).toEqual({});
		// Another holder sees them held by another run, as before.
		const other = await claimExplained(ruleId, 'n8n-80-0123456789ab', 10);
		expect(other.summary).toMatchObject({ claimed: 0 });
		expect(other.summary.notClaimed).toEqual({ in_progress: 3 });
	});
});
