// The editor's lists behind the nodes' resource locators ("From List") and the tag options, called
// through n8n's engine as the editor's requests call them (test/harness/node-methods.ts), against
// the local stack. Two owners' rows are seeded; every name carries this run's token so that rows of
// other test files on the same stack never match a filter.
import { randomInt, randomUUID } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INodeListSearchItems, INodeListSearchResult, INodeParameters } from 'n8n-workflow';
import { LIST_PAGE_SIZE } from '../../../nodes/shared/methods/listSearch';
import { createWorld, type World } from '../../db/follow-up/fixtures';
import { listSearch, loadOptions, type TestCredentials } from '../../harness';
import { createTestUser, testStack, withDb } from '../../helpers/stack';

const TAG_ELIGIBILITY = 'n8n-nodes-leadflow.tagEligibility';
const CAMPAIGNS = 'n8n-nodes-leadflow.campaignSessionCreate';
const run = randomUUID().slice(0, 8);

const credentials = (): TestCredentials => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

const search = (nodeType: string, method: string, parameters: INodeParameters, filter?: string, token?: string) =>
	listSearch({ nodeType, parameters, credentials: credentials() }, method, filter, token);

/** Every page of a list, following the pagination tokens; the pages' sizes on the side. */
async function allPages(page: (token?: string) => Promise<INodeListSearchResult>) {
	const sizes: number[] = [];
	const results: INodeListSearchItems[] = [];
	let token: string | undefined;
	do {
		const next = await page(token);
		sizes.push(next.results.length);
		results.push(...next.results);
		token = next.paginationToken;
	} while (token !== undefined && sizes.length < 10);
	return { sizes, results };
}

const byValue = (items: INodeListSearchItems[]) => [...items].sort((x, y) => String(x.value).localeCompare(String(y.value)));

let a: World;
let b: World;
const rules: Record<string, string> = {};

beforeAll(async () => {
	[a, b] = await Promise.all([createWorld(['AI Lead', 'Hot']), createWorld(['AI Lead', 'VIP'])]);
	const named: Array<[World, string, boolean]> = [
		[a, `Zeta ${run} welcome`, true],
		[b, `ZETA ${run} Reminder`, false],
		[a, `Other ${run}`, true],
		[a, `Promo ${run} 100% off`, false],
		[a, `Promo ${run} 1000 off`, false],
		[a, `Promo ${run} a_b`, false],
		[a, `Promo ${run} axb`, false],
	];
	for (const [world, name, enabled] of named) rules[name] = await world.rule({ name, enabled });
	// More than a page of rules under one name, split between the owners (disabled: they stay out of
	// every "all enabled rules" run of other test files).
	for (let n = 1; n <= LIST_PAGE_SIZE + 5; n++) {
		const name = `Bulk ${run} ${String(n).padStart(2, '0')}`;
		rules[name] = await (n % 2 ? a : b).rule({ name, enabled: false });
	}
});

describe('searchRules (the Rule of Tag Eligibility)', () => {
	test('the filter narrows by name in any case; results carry the name (and a disabled rule says so) and the rule ID', async () => {
		const page = await search(TAG_ELIGIBILITY, 'searchRules', { operation: 'snapshot' }, `zEtA ${run.toUpperCase()}`);
		expect(page.paginationToken).toBeUndefined();
		expect(byValue(page.results)).toEqual(
			byValue([
				{ name: `Zeta ${run} welcome`, value: rules[`Zeta ${run} welcome`] },
				{ name: `ZETA ${run} Reminder (disabled)`, value: rules[`ZETA ${run} Reminder`] },
			]),
		);
	});

	test('the filter is matched literally: % and _ are not wildcards', async () => {
		const percent = await search(TAG_ELIGIBILITY, 'searchRules', {}, `${run} 100%`);
		expect(percent.results.map((item) => item.value)).toEqual([rules[`Promo ${run} 100% off`]]);
		const underscore = await search(TAG_ELIGIBILITY, 'searchRules', {}, `${run} A_B`);
		expect(underscore.results.map((item) => item.value)).toEqual([rules[`Promo ${run} a_b`]]);
	});

	test('pages of LIST_PAGE_SIZE: the token brings the rest, every owner\'s rules, none twice', async () => {
		const { sizes, results } = await allPages((token) => search(TAG_ELIGIBILITY, 'searchRules', { operation: 'claim' }, `bulk ${run}`, token));
		expect(sizes).toEqual([LIST_PAGE_SIZE, 5]);
		const bulk = Object.entries(rules).filter(([name]) => name.startsWith('Bulk'));
		expect(byValue(results)).toEqual(byValue(bulk.map(([name, id]) => ({ name: `${name} (disabled)`, value: id }))));
		expect(new Set(results.map((item) => item.value)).size).toBe(LIST_PAGE_SIZE + 5);
	});

	test('a refused key fails with a message saying what was being listed', async () => {
		const refused = listSearch(
			{ nodeType: TAG_ELIGIBILITY, credentials: { leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: 'not-the-key' } } },
			'searchRules',
		);
		await expect(refused).rejects.toThrow(/Listing the follow-up rules failed/);
	});
});

describe('searchCampaigns (the Campaign of Campaign Sessions\' stats)', () => {
	const campaigns: Record<string, string[]> = {};

	beforeAll(async () => {
		const add = (owner: string, prefix: string, count: number) =>
			withDb(async (db) => {
				const { rows } = await db.query<{ name_uid: string }>(
					`insert into public.campaign_info (user_id, name_uid, name)
					 select $1, $2 || '_' || lpad(n::text, 6, '0'), $3 || ' ' || n from generate_series(1, $4) n
					 returning name_uid`,
					[owner, `recruit-${run}-${prefix}`, `${prefix === 'a' ? 'Recruit' : 'RECRUIT'} ${run}`, count],
				);
				return rows.map((row) => row.name_uid);
			});
		[campaigns.a, campaigns.b] = await Promise.all([add(a.userId, 'a', LIST_PAGE_SIZE + 2), add(b.userId, 'b', 3)]);
	});

	test('with a fixed owner, only that owner\'s campaigns, by name in any case, over two pages; the value is the campaign ID', async () => {
		const parameters = { operation: 'stats', ownerUserId: a.userId };
		const { sizes, results } = await allPages((token) => search(CAMPAIGNS, 'searchCampaigns', parameters, `rEcRuIt ${run}`, token));
		expect(sizes).toEqual([LIST_PAGE_SIZE, 2]);
		expect(results.map((item) => item.value).sort()).toEqual([...campaigns.a].sort());
		expect(results).toContainEqual({ name: `Recruit ${run} 7`, value: `recruit-${run}-a_000007`, description: `recruit-${run}-a_000007` });
	});

	test('with the owner taken from the request (an expression), every owner\'s campaigns', async () => {
		const parameters = { operation: 'stats', ownerUserId: '={{ $json.headers["x-leadflow-owner"] ?? "" }}' };
		const { sizes, results } = await allPages((token) => search(CAMPAIGNS, 'searchCampaigns', parameters, `recruit ${run}`, token));
		expect(sizes).toEqual([LIST_PAGE_SIZE, 5]);
		expect(results.map((item) => item.value).sort()).toEqual([...campaigns.a, ...campaigns.b].sort());
		expect(results).toContainEqual({ name: `RECRUIT ${run} 2`, value: `recruit-${run}-b_000002`, description: `recruit-${run}-b_000002` });
	});

	test('a filter that matches nothing: an empty page, no token', async () => {
		expect(await search(CAMPAIGNS, 'searchCampaigns', { operation: 'stats', ownerUserId: a.userId }, `no such campaign ${run}`)).toEqual({ results: [] });
	});
});

describe('searchConversations (the Contact of Tag Eligibility\'s timeline)', () => {
	const contacts: Record<string, { id: string; psid: string }> = {};
	const OTHER_PAGE = '42';

	beforeAll(async () => {
		const add = async (world: World, name: string) => {
			const id = await world.contact({ name });
			const psid = await withDb(async (db) => (await db.query<{ sender_id: string }>('select sender_id from public.messenger_conversations where id = $1', [id])).rows[0].sender_id);
			contacts[name] = { id, psid };
		};
		await add(a, `Alice ${run}`);
		await add(a, `Bob ${run}`);
		// The fixtures number their PSIDs from the clock, ten digits, so another file running at the same time can
		// hold Bob's PSID on another page. A real-length (17-digit) random PSID is contained in no other test's.
		const bob = contacts[`Bob ${run}`];
		bob.psid = `7${String(randomInt(1e8)).padStart(8, '0')}${String(randomInt(1e8)).padStart(8, '0')}`;
		await withDb((db) => db.query('update public.messenger_conversations set sender_id = $2 where id = $1', [bob.id, bob.psid]));
		await add(b, `ALICE ${run} Senior`);
		// Owner a's contact on another of a's pages, which a's rules (set to a.pageId) do not follow up.
		const elsewhere = await withDb(async (db) => {
			const { rows } = await db.query<{ id: string; sender_id: string }>(
				`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name) values ($1, $2, $3, $4) returning id, sender_id`,
				[a.userId, OTHER_PAGE, String(Date.now()).slice(-12), `alice ${run} elsewhere`],
			);
			return rows[0];
		});
		contacts[`alice ${run} elsewhere`] = { id: elsewhere.id, psid: elsewhere.sender_id };
	});

	const item = (name: string, pageId: string) => ({ name, value: contacts[name].id, description: `PSID ${contacts[name].psid} on page ${pageId}` });

	test('with no rule chosen, every owner\'s contacts whose name contains the filter, in any case', async () => {
		const page = await search(TAG_ELIGIBILITY, 'searchConversations', { operation: 'timeline' }, `alice ${run}`);
		expect(byValue(page.results)).toEqual(
			byValue([item(`Alice ${run}`, a.pageId), item(`ALICE ${run} Senior`, b.pageId), item(`alice ${run} elsewhere`, OTHER_PAGE)]),
		);
	});

	test('with a rule chosen, only the contacts it can follow up: its owner\'s, on its page', async () => {
		const ruleId = { __rl: true, mode: 'list', value: rules[`Zeta ${run} welcome`], cachedResultName: `Zeta ${run} welcome` };
		const page = await search(TAG_ELIGIBILITY, 'searchConversations', { operation: 'timeline', ruleId }, `ALICE ${run}`);
		expect(page.results).toEqual([item(`Alice ${run}`, a.pageId)]);
		const byId = { __rl: true, mode: 'id', value: rules[`ZETA ${run} Reminder`] };
		expect((await search(TAG_ELIGIBILITY, 'searchConversations', { operation: 'timeline', ruleId: byId }, `alice ${run}`)).results).toEqual([
			item(`ALICE ${run} Senior`, b.pageId),
		]);
	});

	test('a filter of digits also finds a contact by its PSID', async () => {
		const page = await search(TAG_ELIGIBILITY, 'searchConversations', { operation: 'timeline' }, contacts[`Bob ${run}`].psid);
		expect(page.results).toEqual([item(`Bob ${run}`, a.pageId)]);
	});
});

/**
 * A pass-through to the stack's Supabase URL that runs `meanwhile` when the second request of `path`
 * arrives (or each request numbered in `at`), before passing it on: what another user's write
 * between two requests of one list does. `requests()`: how many requests of `path` came.
 */
async function writeBetweenRequests(path: string, meanwhile: (request: number) => Promise<void>, at: number[] = [2]) {
	const upstream = new URL(testStack().supabaseUrl);
	let seen = 0;
	const server = createServer((incoming, outgoing) => {
		const number = (incoming.url ?? '').startsWith(path) ? ++seen : 0;
		void (at.includes(number) ? meanwhile(number) : Promise.resolve()).then(() => {
			const forwarded = request(
				{ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host } },
				(answer) => {
					outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
					answer.pipe(outgoing);
				},
			);
			forwarded.on('error', (error) => outgoing.writeHead(502).end(String(error)));
			incoming.pipe(forwarded);
		}, (error: unknown) => outgoing.writeHead(500).end(String(error)));
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		requests: () => seen,
		stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
	};
}

describe('getTags (loadOptions, for tag parameters)', () => {
	test('with a fixed owner: exactly that owner\'s tags, names as labels and IDs as values, by name', async () => {
		const options = await loadOptions({ nodeType: CAMPAIGNS, parameters: { operation: 'stats', ownerUserId: b.userId }, credentials: credentials() }, 'getTags');
		expect(options).toEqual([
			{ name: 'AI Lead', value: b.tags['AI Lead'] },
			{ name: 'VIP', value: b.tags.VIP },
		]);
	});

	test('without an owner: every owner\'s tags, each saying whose it is', async () => {
		const options = await loadOptions({ nodeType: TAG_ELIGIBILITY, parameters: { operation: 'claim' }, credentials: credentials() }, 'getTags');
		const ours = options.filter((option) => [...Object.values(a.tags), ...Object.values(b.tags)].includes(String(option.value)));
		expect(byValue(ours)).toEqual(
			byValue([
				{ name: 'AI Lead', value: a.tags['AI Lead'], description: `Owner ${a.userId}` },
				{ name: 'Hot', value: a.tags.Hot, description: `Owner ${a.userId}` },
				{ name: 'AI Lead', value: b.tags['AI Lead'], description: `Owner ${b.userId}` },
				{ name: 'VIP', value: b.tags.VIP, description: `Owner ${b.userId}` },
			]),
		);
	});

	// Read 1,000 at a time: by offset, a tag added before the second batch's start between the two
	// requests moved the first batch's last tag into the second, listed twice (and a tag deleted
	// there hid the second batch's first).
	test('without an owner, more than a batch of tags: one added meanwhile before the next batch repeats none and hides none', async () => {
		const owner = await createTestUser('tag-batches');
		// 1,001 tags that come first in the list (the stack's collation is C: "!" before digits and
		// letters), so a batch ends on one of them; names with the characters PostgREST reads in a filter.
		const names = Array.from({ length: 1001 }, (_, n) => `!${run} "tag", (a).\\ ${String(n).padStart(4, '0')}`);
		const ours = await withDb(async (db) => {
			const { rows } = await db.query<{ id: string; name: string }>(
				'insert into public.tags (user_id, name) select $1, unnest($2::text[]) returning id, name',
				[owner, names],
			);
			return rows.sort((x, y) => names.indexOf(x.name) - names.indexOf(y.name));
		});
		// Added between the first and the second request, before every tag above (a space is before "!").
		const proxy = await writeBetweenRequests('/rest/v1/tags', () =>
			withDb(async (db) => {
				await db.query('insert into public.tags (user_id, name) values ($1, $2)', [owner, ` ${run} added meanwhile`]);
			}),
		);
		try {
			const options = await loadOptions(
				{ nodeType: TAG_ELIGIBILITY, parameters: { operation: 'claim' }, credentials: { leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } } },
				'getTags',
			);
			expect(proxy.requests()).toBeGreaterThanOrEqual(2);
			const values = options.map((option) => String(option.value));
			expect(values.length - new Set(values).size).toBe(0);
			const mine = new Set(ours.map((tag) => tag.id));
			expect(options.filter((option) => mine.has(String(option.value)))).toEqual(ours.map((tag) => ({ name: tag.name, value: tag.id, description: `Owner ${owner}` })));
		} finally {
			await proxy.stop();
			await withDb((db) => db.query('delete from public.tags where user_id = $1', [owner]));
		}
	});
});

// The "From List" lists page by key: the token carries the last row's name and id, the next page is
// the rows after it. By offset, a row added before the next page's start between two requests
// brought the last row of the page before back (listed twice), and rows deleted there hid the next
// page's first rows.
describe('paging by key: rows added or deleted between two pages repeat none and hide none', () => {
	// Names with the characters PostgREST reads in a filter; four rows to a name (pipelines: one), so a
	// page ends inside a run of equal names, where the id decides.
	const awkward = (n: number) => `"keyed ${run}", (a).\\ ${String(n).padStart(3, '0')}`;
	const COUNT = 2 * LIST_PAGE_SIZE + 10;

	const lists = [
		{
			what: 'searchRules',
			nodeType: TAG_ELIGIBILITY,
			parameters: { operation: 'claim' } as INodeParameters,
			table: 'ai_automation_rules',
			names: Array.from({ length: COUNT }, (_, n) => awkward(Math.floor(n / 4))),
			insert: async (world: World, names: string[]) =>
				withDb(async (db) => {
					await db.query(
						`insert into public.ai_automation_rules (user_id, name, enabled, include_tag_ids, instructions)
						 select $1, unnest($2::text[]), false, array[$3::uuid], 'Write a short, friendly follow-up.'`,
						[world.userId, names, world.tags['AI Lead']],
					);
				}),
			item: (row: { id: string; name: string }) => ({ name: `${row.name} (disabled)`, value: row.id }),
		},
		{
			what: 'searchCampaigns',
			nodeType: CAMPAIGNS,
			parameters: { operation: 'stats' } as INodeParameters,
			table: 'campaign_info',
			names: Array.from({ length: COUNT }, (_, n) => awkward(Math.floor(n / 4))),
			insert: async (world: World, names: string[]) =>
				withDb(async (db) => {
					await db.query(
						`insert into public.campaign_info (user_id, name_uid, name)
						 select $1, 'keyed-' || $3 || '_' || lpad(n::text, 6, '0') || substr(md5(random()::text), 1, 6), name
						   from unnest($2::text[]) with ordinality as named(name, n)`,
						[world.userId, names, run],
					);
				}),
			item: (row: { id: string; name: string; name_uid: string }) => ({ name: row.name, value: row.name_uid, description: row.name_uid }),
		},
		{
			what: 'searchPipelines',
			nodeType: 'n8n-nodes-leadflow.autoAssignStage',
			parameters: { operation: 'move' } as INodeParameters,
			table: 'pipelines',
			names: Array.from({ length: COUNT }, (_, n) => awkward(n)),
			insert: async (world: World, names: string[]) =>
				withDb(async (db) => {
					await db.query('insert into public.pipelines (user_id, name) select $1, unnest($2::text[])', [world.userId, names]);
				}),
			item: (row: { id: string; name: string }) => ({ name: row.name, value: row.id }),
		},
	];

	test.each(lists)('$what: a row added before the second page, two deleted before the third', async (list) => {
		const world = await createWorld(['AI Lead']);
		await list.insert(world, list.names);
		const columns = list.table === 'campaign_info' ? 'id, name, name_uid' : 'id, name';
		const ours = await withDb(async (db) => (await db.query<{ id: string; name: string; name_uid: string }>(`select ${columns} from public.${list.table} where user_id = $1 order by name, id`, [world.userId])).rows);
		// Before the second request: a row before every one above (the stack's collation is C: "!" is
		// before the quote). Before the third: the first two rows, listed on the first page, deleted.
		const proxy = await writeBetweenRequests(
			`/rest/v1/${list.table}`,
			async (request) => {
				if (request === 2) await list.insert(world, [`!keyed ${run} added meanwhile`]);
				else await withDb((db) => db.query(`delete from public.${list.table} where id = any($1::uuid[])`, [[ours[0].id, ours[1].id]]));
			},
			[2, 3],
		);
		try {
			const { sizes, results } = await allPages((token) =>
				listSearch(
					{ nodeType: list.nodeType, parameters: list.parameters, credentials: { leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } } },
					list.what,
					`keyed ${run}`,
					token,
				),
			);
			expect(proxy.requests()).toBe(3);
			const values = results.map((item) => String(item.value));
			expect(values.filter((value, n) => values.indexOf(value) !== n)).toEqual([]);
			expect(results).toEqual(ours.map(list.item));
			expect(sizes).toEqual([LIST_PAGE_SIZE, LIST_PAGE_SIZE, 10]);
		} finally {
			await proxy.stop();
			await withDb((db) => db.query(`delete from public.${list.table} where user_id = $1`, [world.userId]));
		}
	});

	test('searchConversations, by name with the nameless last (a filter of digits finds them by PSID): a contact added before the second page, two deleted before the third', async () => {
		const world = await createWorld(['AI Lead']);
		// One PSID prefix of 12 random digits for this test's contacts: the filter finds them by it.
		const prefix = `8${String(randomInt(1e11)).padStart(11, '0')}`;
		const named = LIST_PAGE_SIZE + 10;
		const insert = (names: Array<string | null>, from: number) =>
			withDb((db) =>
				db.query(
					`insert into public.messenger_conversations (user_id, page_id, sender_id, sender_name)
					 select $1, $2, $3 || lpad((n - 1 + $5)::text, 4, '0'), name from unnest($4::text[]) with ordinality as named(name, n)`,
					[world.userId, world.pageId, prefix, names, from],
				),
			);
		// Sixty named (four to a name), then fifty without a name: the second page ends among the nameless.
		await insert([...Array.from({ length: named }, (_, n) => awkward(Math.floor(n / 4))), ...Array.from({ length: 50 }, () => null)], 0);
		const ours = await withDb(async (db) => (await db.query<{ id: string; sender_name: string | null; sender_id: string }>(
			'select id, sender_name, sender_id from public.messenger_conversations where user_id = $1 order by sender_name nulls last, id',
			[world.userId],
		)).rows);
		const proxy = await writeBetweenRequests(
			'/rest/v1/messenger_conversations',
			async (request) => {
				if (request === 2) await insert([`!keyed ${run} added meanwhile`], 9000);
				else await withDb((db) => db.query('delete from public.messenger_conversations where id = any($1::uuid[])', [[ours[0].id, ours[named].id]]));
			},
			[2, 3],
		);
		try {
			const { sizes, results } = await allPages((token) =>
				listSearch(
					{ nodeType: TAG_ELIGIBILITY, parameters: { operation: 'timeline' }, credentials: { leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } } },
					'searchConversations',
					prefix,
					token,
				),
			);
			expect(proxy.requests()).toBe(3);
			const values = results.map((item) => String(item.value));
			expect(values.filter((value, n) => values.indexOf(value) !== n)).toEqual([]);
			expect(results).toEqual(
				ours.map((row) => ({ name: row.sender_name ?? `PSID ${row.sender_id}`, value: row.id, description: `PSID ${row.sender_id} on page ${world.pageId}` })),
			);
			expect(sizes).toEqual([LIST_PAGE_SIZE, LIST_PAGE_SIZE, 10]);
		} finally {
			await proxy.stop();
			await withDb((db) => db.query('delete from public.messenger_conversations where user_id = $1', [world.userId]));
		}
	});

	test('searchStages, by pipeline then place in it: a stage added before the second page, two deleted before the third', async () => {
		const userId = await createTestUser('stage-lists');
		// Two pipelines of sixty stages: the second page ends in the second pipeline (by id).
		const pipelines = await withDb(async (db) => {
			const { rows } = await db.query<{ id: string; name: string }>(
				`insert into public.pipelines (user_id, name) select $1, 'Stages ' || $2 || ' ' || n from generate_series(1, 2) n returning id, name`,
				[userId, run],
			);
			await db.query(
				`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order)
				 select $1, p.id, $3 || ' ' || p.name || ' ' || lpad(n::text, 3, '0'), n from unnest($2::uuid[]) as p(id), generate_series(1, 60) n`,
				[userId, rows.map((row) => row.id), awkward(0)],
			);
			return new Map(rows.map((row) => [row.id, row.name]));
		});
		const ours = await withDb(async (db) => (await db.query<{ id: string; name: string; pipeline_id: string }>(
			'select id, name, pipeline_id from public.pipeline_stages where user_id = $1 order by pipeline_id, stage_order',
			[userId],
		)).rows);
		const first = ours[0].pipeline_id;
		const proxy = await writeBetweenRequests(
			'/rest/v1/pipeline_stages',
			async (request) => {
				// Before the second: a stage at place 0 of the first pipeline, before every one listed.
				if (request === 2) await withDb((db) => db.query(`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order) values ($1, $2, $3, 0)`, [userId, first, `${awkward(0)} added meanwhile`]));
				else await withDb((db) => db.query('delete from public.pipeline_stages where id = any($1::uuid[])', [[ours[0].id, ours[1].id]]));
			},
			[2, 3],
		);
		try {
			const { sizes, results } = await allPages((token) =>
				listSearch(
					{ nodeType: 'n8n-nodes-leadflow.autoAssignStage', parameters: { operation: 'move' }, credentials: { leadflowSupabaseApi: { url: proxy.url, serviceRoleKey: testStack().serviceRoleKey } } },
					'searchStages',
					awkward(0),
					token,
				),
			);
			expect(proxy.requests()).toBe(3);
			const values = results.map((item) => String(item.value));
			expect(values.filter((value, n) => values.indexOf(value) !== n)).toEqual([]);
			expect(results).toEqual(ours.map((row) => ({ name: row.name, value: row.id, description: `In ${pipelines.get(row.pipeline_id)}` })));
			expect(sizes).toEqual([LIST_PAGE_SIZE, LIST_PAGE_SIZE, 20]);
		} finally {
			await proxy.stop();
			await withDb((db) => db.query('delete from public.pipelines where user_id = $1', [userId]));
		}
	});

	test('a token of before (an offset) reads as the first page', async () => {
		const first = await search(TAG_ELIGIBILITY, 'searchRules', { operation: 'claim' }, `bulk ${run}`);
		expect(await search(TAG_ELIGIBILITY, 'searchRules', { operation: 'claim' }, `bulk ${run}`, String(LIST_PAGE_SIZE))).toEqual(first);
	});
});
