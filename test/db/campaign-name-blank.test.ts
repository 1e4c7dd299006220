// A campaign's name that shows nothing (only white space and format characters such as U+200B zero
// width space: leadflow_private.is_blank, the nodes' isBlank) is refused by the database as by
// Campaign Session Create: create_campaign_sessions names p_campaign.name (22023) and writes
// nothing, and campaign_info's check refuses it from any writer, the owner's app included (migration
// 20261201002500_campaign_name_blank_refused.sql). Before, the name counted white space only (btrim),
// and a campaign named "\u200B" was stored. Real Postgres through PostgREST, a fixed instant (p_now).
import { randomUUID } from 'node:crypto';
import { serviceClient, withDb } from '../helpers/stack';
import { createOwner } from './queue/fixtures';

const service = serviceClient();
const T0 = '2026-11-25T09:00:00.000Z';
const newCampaignId = () => `plumber-london_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
const phone = (offset: number) => `+447853${String(offset).padStart(6, '0')}`;

const launch = (owner: string, campaign: Record<string, unknown>, phoneNumber: string) =>
	service.rpc('create_campaign_sessions', {
		p_owner: owner,
		p_campaign: { job_description: 'Plumber', objectives: {}, ...campaign },
		p_tasks: [{ phone: phoneNumber, name: 'Nia' }],
		p_now: T0,
	});

const campaignsOf = (owner: string) =>
	withDb(async (db) => (await db.query<{ name_uid: string; name: string }>('select name_uid, name from public.campaign_info where user_id = $1 order by name_uid', [owner])).rows);

describe('a blank campaign name', () => {
	it.each([['\u200b'], [' \u2060\u200b '], ['\u00ad']])('create_campaign_sessions refuses %j naming p_campaign.name, and writes nothing', async (name) => {
		const owner = await createOwner({});
		const { data, error } = await launch(owner, { name_uid: newCampaignId(), name }, phone(600_100));
		expect(data).toBeNull();
		expect(error).toMatchObject({ code: '22023', message: expect.stringMatching(/^p_campaign\.name: is blank .*U\+200B/), hint: expect.stringContaining('Give the campaign a name') });
		expect(await campaignsOf(owner)).toEqual([]);
	});

	it('a relaunch with a blank name is refused too and keeps the stored name; a name with something visible is taken', async () => {
		const owner = await createOwner({});
		const campaign = newCampaignId();
		expect((await launch(owner, { name_uid: campaign, name: 'Plumbers' }, phone(600_200))).error).toBeNull();
		expect((await launch(owner, { name_uid: campaign, name: '\u200b' }, phone(600_201))).error).toMatchObject({ code: '22023' });
		expect(await campaignsOf(owner)).toEqual([{ name_uid: campaign, name: 'Plumbers' }]);
		// No name at all still names a new campaign by its id.
		const unnamed = newCampaignId();
		expect((await launch(owner, { name_uid: unnamed }, phone(600_202))).error).toBeNull();
		expect((await launch(owner, { name_uid: campaign, name: '\u200bPlumbers' }, phone(600_203))).error).toBeNull();
		expect(await campaignsOf(owner)).toEqual(
			[
				{ name_uid: campaign, name: '\u200bPlumbers' },
				{ name_uid: unnamed, name: unnamed },
			].sort((a, b) => a.name_uid.localeCompare(b.name_uid)),
		);
	});

	it("campaign_info's check refuses it from any writer (an insert or an update by the app), as it refuses spaces", async () => {
		const owner = await createOwner({});
		const nameUid = newCampaignId();
		for (const name of ['\u200b', '  ']) {
			const { error } = await service.from('campaign_info').insert({ user_id: owner, name_uid: nameUid, name });
			expect(error).toMatchObject({ code: '23514', message: expect.stringContaining('campaign_info_name_check') });
		}
		expect((await service.from('campaign_info').insert({ user_id: owner, name_uid: nameUid, name: 'Plumbers' })).error).toBeNull();
		const { error } = await service.from('campaign_info').update({ name: '\u2060' }).eq('user_id', owner).eq('name_uid', nameUid);
		expect(error).toMatchObject({ code: '23514', message: expect.stringContaining('campaign_info_name_check') });
		expect(await campaignsOf(owner)).toEqual([{ name_uid: nameUid, name: 'Plumbers' }]);
	});

	// The format characters that draw a glyph (Unicode's Prepended_Concatenation_Mark: U+06DD end of
	// ayah, U+0600 Arabic number sign) are not blank (migration
	// 20261201002590_names_blank_rule_visible_marks.sql). Before, "۝" was refused by the launch
	// (22023 p_campaign.name: is blank) and by campaign_info's check (23514).
	it('a name of a format character that draws a glyph ("\u06dd", "\u0600") is a name: launched, and written by the app', async () => {
		const owner = await createOwner({});
		const launched = newCampaignId();
		const { data, error } = await launch(owner, { name_uid: launched, name: '\u06dd' }, phone(600_300));
		expect(error).toBeNull();
		expect(data).toMatchObject({ outcome: 'ok', campaign: { name: '\u06dd' } });
		const written = newCampaignId();
		expect((await service.from('campaign_info').insert({ user_id: owner, name_uid: written, name: '\u0600' })).error).toBeNull();
		expect((await service.from('campaign_info').update({ name: '\u06dd' }).eq('user_id', owner).eq('name_uid', written)).error).toBeNull();
		expect(await campaignsOf(owner)).toEqual(
			[
				{ name_uid: launched, name: '\u06dd' },
				{ name_uid: written, name: '\u06dd' },
			].sort((a, b) => a.name_uid.localeCompare(b.name_uid)),
		);
	});
});
