// A tag that a follow-up rule or a pipeline automation names cannot be deleted (migration
// 20261201001670): the owner's app, signed in through the Data API, gets 409 with the rule or
// automation by name and what to do, and the tag stays; a tag nobody uses is deleted, and so is one
// once its rule is gone; deleting the owner deletes everything. Before, the delete went through and
// left the rule naming a tag that no longer exists: an "all tags" rule then matched no one.
import { userClient, withDb } from '../helpers/stack';
import { createPipelineWorld } from './pipelines/fixtures';

const tagExists = (id: string) => withDb(async (db) => (await db.query('select 1 from public.tags where id = $1', [id])).rowCount === 1);

async function world() {
	const pipelines = await createPipelineWorld({ tags: ['AI Lead', 'Hot', 'Do Not Contact', 'Won', 'Unused'] });
	const { tags, userId } = pipelines;
	const rule = await withDb(async (db) => (await db.query<{ id: string }>(
		`insert into public.ai_automation_rules (user_id, name, enabled, include_tag_ids, tag_match, exclude_tag_ids, instructions)
		 values ($1, 'Hot leads', true, $2, 'all', $3, 'Write a short, friendly follow-up.') returning id`,
		[userId, [tags['AI Lead'], tags.Hot], [tags['Do Not Contact']]],
	)).rows[0].id);
	await pipelines.automation({ name: 'Tag the won', trigger_type: 'STAGE_CHANGED', actions: [{ type: 'add_tag', tag_id: tags.Won }] });
	return { ...pipelines, rule, app: userClient(userId) };
}

describe('deleting a tag that a rule or an automation uses', () => {
	it('is refused (409) naming the rule, for an include tag and an exclude tag, and the tag stays', async () => {
		const { app, tags } = await world();
		for (const name of ['Hot', 'Do Not Contact']) {
			const { error, status } = await app.from('tags').delete().eq('id', tags[name]);
			expect(status).toBe(409);
			expect(error?.code).toBe('23503');
			expect(error?.message).toBe(`tag "${name}" is used by the follow-up rule "Hot leads"`);
			expect(error?.hint).toBe('Take the tag out of the rule\'s include and exclude tags (or delete the rule) first, then delete the tag.');
			expect(await tagExists(tags[name])).toBe(true);
		}
	});

	it('is refused naming the pipeline automation whose action adds it', async () => {
		const { app, tags } = await world();
		const { error, status } = await app.from('tags').delete().eq('id', tags.Won);
		expect(status).toBe(409);
		expect(error?.message).toBe('tag "Won" is used by the pipeline automation "Tag the won"');
		expect(error?.hint).toMatch(/^Take the add_tag or remove_tag action naming the tag out of the automation/);
		expect(await tagExists(tags.Won)).toBe(true);
	});

	it('counts the other rules using it', async () => {
		const { app, tags, userId } = await world();
		await withDb((db) => db.query(
			`insert into public.ai_automation_rules (user_id, name, enabled, include_tag_ids, instructions)
			 select $1, 'Warm leads ' || n, false, array[$2::uuid], 'Write a short, friendly follow-up.' from generate_series(1, 2) n`,
			[userId, tags.Hot],
		));
		const { error } = await app.from('tags').delete().eq('id', tags.Hot);
		expect(error?.message).toBe('tag "Hot" is used by the follow-up rule "Hot leads" and 2 other rules');
	});

	it('a tag nobody uses is deleted, and one whose rule was deleted first', async () => {
		const { app, tags, rule } = await world();
		const unused = await app.from('tags').delete().eq('id', tags.Unused);
		expect(unused.error).toBeNull();
		expect(await tagExists(tags.Unused)).toBe(false);

		expect((await app.from('ai_automation_rules').delete().eq('id', rule)).error).toBeNull();
		const hot = await app.from('tags').delete().eq('id', tags.Hot);
		expect(hot.error).toBeNull();
		expect(await tagExists(tags.Hot)).toBe(false);
	});

	it('deleting the owner deletes their tags, rules and automations together', async () => {
		const { userId, tags } = await world();
		await withDb((db) => db.query('delete from auth.users where id = $1', [userId]));
		expect(await tagExists(tags.Hot)).toBe(false);
		expect(await tagExists(tags.Won)).toBe(false);
	});
});
