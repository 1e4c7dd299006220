// automation_mark_generating, GenerateFollowUp's eligible → generating for a batch: the contacts its
// holder has eligible are moved (generating); of those it does not move, one whose follow-up is
// already generated (ready_to_send, waiting for its send) says so, whoever holds it, and every other
// (another execution's, one generating, one failed, one that does not exist) is lease_lost. Nothing
// it does not move is changed.
import { serviceClient, withDb } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';
import { claim, rpc } from './stage-helpers';

const service = serviceClient({ now: NOW });

const markGenerating = (executionId: string, stateIds: string[]) =>
	rpc<Array<{ state_id: string; outcome: string }>>(service, 'automation_mark_generating', { p_execution_id: executionId, p_state_ids: stateIds, p_now: NOW.toISOString() });

const recordGenerated = (executionId: string, items: object[]) => rpc(service, 'automation_record_generation', { p_execution_id: executionId, p_items: items, p_now: NOW.toISOString() });

const stagesOf = (stateIds: string[]) =>
	withDb(async (db) => {
		const { rows } = await db.query<{ id: string; current_stage: string; locked_by: string | null; updated_at: string }>(
			'select id, current_stage, locked_by, updated_at::text from public.ai_automation_contact_states where id = any ($1::uuid[])',
			[stateIds],
		);
		return new Map(rows.map((row) => [row.id, row]));
	});

it('answers ready_to_send for a contact already generated (its own or another holder\'s), lease_lost for every other it does not move, generating for those it moves', async () => {
	const world = await createWorld();
	const ruleId = await world.rule();
	await world.contacts(5);
	const [ready, generating, failed, eligible] = (await claim(service, ruleId, 'exec-mine', 4)).map((contact) => contact.state_id);
	const [theirsReady] = (await claim(service, ruleId, 'exec-theirs', 1)).map((contact) => contact.state_id);
	await markGenerating('exec-mine', [ready, generating, failed]);
	await markGenerating('exec-theirs', [theirsReady]);
	await recordGenerated('exec-mine', [
		{ state_id: ready, message: 'Hi again', generation_ms: 900, model: 'gemini-test' },
		{ state_id: failed, error_code: 'blocked', error_message: 'blocked' },
	]);
	await recordGenerated('exec-theirs', [{ state_id: theirsReady, message: 'Hello', generation_ms: 800, model: 'gemini-test' }]);
	const unknown = '00000000-0000-4000-8000-000000000000';
	const untouched = [ready, generating, failed, theirsReady];
	const before = await stagesOf(untouched);

	const answered = await markGenerating('exec-mine', [ready, generating, failed, theirsReady, unknown, eligible, ready]);
	expect(Object.fromEntries(answered.map((row) => [row.state_id, row.outcome]))).toEqual({
		[ready]: 'ready_to_send',
		[theirsReady]: 'ready_to_send',
		[generating]: 'lease_lost',
		[failed]: 'lease_lost',
		[unknown]: 'lease_lost',
		[eligible]: 'generating',
	});
	expect(answered).toHaveLength(6);
	expect(await stagesOf(untouched)).toEqual(before);
	expect((await stagesOf([eligible])).get(eligible)).toMatchObject({ current_stage: 'generating', locked_by: 'exec-mine' });
});
