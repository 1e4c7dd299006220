// Messenger Sync as an AI agent's tool acts within one owner (docs/nodes.md, "One owner per tool").
// Before 6 December 2026 a tool with an empty Owner ID synced the credential's Page for whichever
// owner it is connected to. Now, as a tool, Owner ID must be given: left empty (or a model's "null")
// it is refused naming the field, with the advice for whoever fills it, before anything is read or
// begun; an owner the Page is not connected to is refused by the database (messenger_sync_begin), with
// advice a tool can follow (not "leave Owner ID empty"). In a workflow an empty Owner ID is the
// Page's connected owner, as before (test/nodes/MessengerSync/sync.test.ts).
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow } from '../../harness/agent';
import { createWorld } from '../../db/follow-up/fixtures';
import { connectPage } from '../../db/messenger/fixtures';
import { createTestUser, testStack, withDb } from '../../helpers/stack';

const node = { leadflowFacebookPageApi: { id: 'fb', name: 'Facebook Page' }, leadflowSupabaseApi: { id: 'sb', name: 'Supabase' } };
const ai = (key: string) => `={{ $fromAI('${key}', '', 'string') }}`;

async function asTool(pageId: string, parameters: IDataObject, args: IDataObject = {}): Promise<IDataObject> {
	const stack = testStack();
	const run = await runWorkflow(agentWorkflow('messengerSync', { mode: 'incremental', ...parameters }, node, args) as unknown as WorkflowJson, {
		credentials: {
			// No Graph API here: nothing in these calls may reach it (a port nothing listens on).
			leadflowFacebookPageApi: { pageId, accessToken: 'tool-owner-token', graphApiVersion: 'v25.0', baseUrl: 'http://127.0.0.1:9' },
			leadflowSupabaseApi: { url: stack.supabaseUrl, serviceRoleKey: stack.serviceRoleKey },
		},
	});
	expect(run.error).toBeUndefined();
	return run.nodeOutputs.Agent[0];
}

const jobs = async (pageId: string) => (await withDb((db) => db.query<{ n: number }>('select count(*)::int as n from public.messenger_sync_jobs where page_id = $1', [pageId]))).rows[0].n;

const REFUSED = (field: string) => `Messenger Sync as an AI agent's tool needs the user ID of the owner whose Page to sync (${field}), and none was given`;
const BUILDER_ADVICE =
	"Owner ID (owner) is set in this tool's settings, not given by the model: set it there to the user ID of the owner whose Page to sync (a UUID, the id of the Supabase Auth user; a project with one owner sets it once), or let the model give it with {{ $fromAI('owner', 'the user ID of the owner whose Page to sync') }}. This tool syncs nothing without it.";
const AGENT_ADVICE = (key: string) =>
	`Give the user ID of the owner whose Page to sync as ${key}: a UUID, the id of the Supabase Auth user, as you were told it. If you were not told it, ask for it: this tool syncs nothing without it.`;

test('Messenger Sync as a tool with no owner is refused naming the field, for whoever fills it; no job begun', async () => {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	for (const parameters of [{}, { owner: '' }, { owner: '  ' }]) {
		expect({ parameters, out: await asTool(world.pageId, parameters) }).toEqual({ parameters, out: { thrown: `${REFUSED('Owner ID, owner')}\n\nDetails: ${BUILDER_ADVICE}` } });
	}
	for (const given of ['', 'null', ' Undefined ']) {
		expect({ given, out: await asTool(world.pageId, { owner: ai('ownerId') }, { ownerId: given }) }).toEqual({ given, out: { thrown: `${REFUSED('ownerId')}\n\nDetails: ${AGENT_ADVICE('ownerId')}` } });
	}
	expect(await jobs(world.pageId)).toBe(0);
});

test("Messenger Sync as a tool with another owner than the Page's is refused by the database, with advice a tool can follow; no job begun", async () => {
	const world = await createWorld();
	await connectPage(world.pageId, world.userId);
	const other = await createTestUser('sync-other');
	const set = await asTool(world.pageId, { owner: other });
	expect(set.thrown).toMatch(/cannot be synced: it is connected to another owner/);
	expect(set.thrown).toContain("Details: Owner ID (owner) is set in this tool's settings to an owner the Page is not connected to");
	const byModel = await asTool(world.pageId, { owner: ai('ownerId') }, { ownerId: other });
	expect(byModel.thrown).toContain('Details: The Page is connected to another owner than the one you gave as ownerId: check it.');
	expect(String(byModel.thrown)).not.toContain(world.userId);
	expect(await jobs(world.pageId)).toBe(0);
});
