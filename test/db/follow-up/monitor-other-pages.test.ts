// automation_monitor_page for a rule of one Facebook Page: beside its stats (still automation_snapshot's,
// which count only the rule's Page), taggedOnOtherPages counts the owner's conversations on their
// other Pages that carry the rule's tags as it asks (any / all) when none on its Page does, so the
// console can say where the tagged contacts wait (review R7, s10). Null for a rule of every Page, and
// for a rule whose Page has contacts carrying them (not counted then: no cost on those polls).
import { serviceClient, uniquePageId } from '../../helpers/stack';
import { createWorld, NOW } from './fixtures';

const db = serviceClient({ now: NOW });

async function monitor(ruleId: string): Promise<{ stats: Record<string, unknown>; taggedOnOtherPages: number | null; contacts: { total: number } }> {
	const { data, error } = await db.rpc('automation_monitor_page', { p_rule_id: ruleId, p_now: NOW.toISOString() });
	if (error) throw new Error(error.message);
	return data as { stats: Record<string, unknown>; taggedOnOtherPages: number | null; contacts: { total: number } };
}

test('a rule of the owner\'s other Page: none tagged there, the tagged contacts on the owner\'s other Pages counted as the rule matches tags', async () => {
	const world = await createWorld();
	const otherPage = uniquePageId();
	const thirdPage = uniquePageId();
	// On the world's Page: 5 with the rule's tag, 2 with both tags, 3 with another tag only.
	await world.contacts(5, { tags: ['AI Lead'] });
	await world.contacts(2, { tags: ['AI Lead', 'Hot'] });
	await world.contacts(3, { tags: ['Do Not Contact'] });
	// On a third Page of the owner: 1 with the rule's tag.
	await world.contacts(1, { tags: ['AI Lead'], pageId: thirdPage });
	// Another owner's contacts with a tag of the same name are not this owner's.
	const stranger = await createWorld();
	await stranger.contacts(4, { tags: ['AI Lead'] });

	const any = await world.rule({ name: 'Other Page, any', pageId: otherPage, include: ['AI Lead', 'Hot'], tagMatch: 'any' });
	const onlyAll = await world.rule({ name: 'Other Page, all', pageId: otherPage, include: ['AI Lead', 'Hot'], tagMatch: 'all' });
	const everyPage = await world.rule({ name: 'Every Page', pageId: null, include: ['AI Lead'] });

	const anyAnswer = await monitor(any);
	expect(anyAnswer.stats.total_with_tags).toBe(0);
	expect(anyAnswer.contacts.total).toBe(0);
	expect(anyAnswer.taggedOnOtherPages).toBe(8);
	expect((await monitor(onlyAll)).taggedOnOtherPages).toBe(2);
	// A rule of every Page counts them all in its own totals: nothing elsewhere to count.
	const every = await monitor(everyPage);
	expect(every.stats.total_with_tags).toBe(8);
	expect(every.taggedOnOtherPages).toBeNull();

	// Once contacts on the rule's own Page carry the tags, the list shows them: nothing else is counted.
	await world.contacts(2, { tags: ['Hot'], pageId: otherPage });
	const after = await monitor(any);
	expect(after.stats.total_with_tags).toBe(2);
	expect(after.taggedOnOtherPages).toBeNull();
});
