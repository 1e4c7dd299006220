// automation_claim_explained's count of the open-window contacts it passed over for an excluded tag
// (migration …2620 made it probe each open-window link instead of reading every link of the excluded
// tags): each such contact is excluded_tag, or in_progress when another execution holds it; an
// excluded contact whose window is closed is outside_window, not counted twice.
import type { ClaimExplained } from '../../../nodes/shared/contract';
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW, tagContacts } from './fixtures';
import { rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const claimExplained = (ruleId: string, executionId: string, limit = 100) =>
	rpc<ClaimExplained>(service, 'automation_claim_explained', {
		p_rule_id: ruleId,
		p_limit: limit,
		p_execution_id: executionId,
		p_now: NOW.toISOString(),
	});

describe('automation_claim_explained: the contacts passed over for an excluded tag', () => {
	it('counts each open-window one once: excluded_tag, or in_progress when another execution holds it', async () => {
		const world = await createWorld();
		const ruleId = await world.rule({ exclude: ['Do Not Contact'] });
		// Held: claimed by another execution (its lease runs), then given the excluded tag.
		const held = await world.contact();
		const first = await claimExplained(ruleId, 'exec-holder', 1);
		expect(first.contacts.map((contact) => contact.conversation_id)).toEqual([held]);
		await withDb((db) => tagContacts(db, world.userId, world.tags['Do Not Contact'], [held]));

		const due = await world.contacts(2);
		await world.contacts(3, { tags: ['AI Lead', 'Do Not Contact'] });
		await world.contact({ tags: ['AI Lead', 'Do Not Contact'], lastMessageHoursAgo: 30 });

		const result = await claimExplained(ruleId, 'exec-counted');
		expect(result.contacts.map((contact) => contact.conversation_id).sort()).toEqual([...due].sort());
		expect(result.summary).toMatchObject({
			claimed: 2,
			reason: 'no_more_due',
			notClaimed: { excluded_tag: 3, in_progress: 1, outside_window: 1 },
		});
		// Today's limit used: the same contacts counted the same way, the due ones as daily_limit_reached.
		await withDb((db) => db.query('update public.ai_automation_rules set daily_limit = 3 where id = $1', [ruleId]));
		const none = await claimExplained(ruleId, 'exec-limited');
		expect(none.summary).toMatchObject({
			claimed: 0,
			reason: 'daily_limit_reached',
			notClaimed: { excluded_tag: 3, in_progress: 3, outside_window: 1 },
		});
	});
});
