// A contact of another Page than the credential's fails page_mismatch before any Graph call, for
// good (not retried), and its words say what to do: the project's one-Page-per-workflow advice
// (docs/follow-up.md, One Page per workflow): the Claim's Page ID set to the credential's Page, one
// copy of the workflow per Page credential, then Requeue. Against the local stack and the Graph
// simulator.
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { testStack } from '../../helpers/stack';
import { PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend } from './support/workflow';

const OTHER_PAGE = '104857600000078';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN, [OTHER_PAGE]: PAGE_TOKEN } } });
});

afterAll(async () => {
	await sims.stop();
});

test("a contact of another Page fails page_mismatch, unsent, with the advice: set the Claim's Page ID to the credential's Page, one workflow copy per Page", async () => {
	const batch = await readyContacts({ count: 1 });

	const run = await runSend(batch.items, FAST, {
		leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl, { pageId: OTHER_PAGE }),
		leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
	});

	expect(await sims.graph.control.messages()).toEqual([]);
	expect(run.failed).toHaveLength(1);
	const send = run.failed[0].send as IDataObject;
	expect(send).toMatchObject({ outcome: 'failed', reason: 'page_mismatch' });
	const words = JSON.stringify(send);
	expect(words).toContain(`the contact belongs to Page ${PAGE_ID}, the credential sends as Page ${OTHER_PAGE}`);
	// The claim node by its operation (a workflow of one's own names it as it likes), and the shipped name.
	expect(words).toContain(`set the Page ID of the workflow's Claim (Tag Eligibility → Claim; Claim Due Contacts in the shipped workflow) to ${OTHER_PAGE}`);
	expect(words).toContain('one copy of the workflow per Page credential, each with its own Page ID');
	expect(words).toContain('Requeue the failed contacts');
	const [state] = await statesOf(batch.stateIds);
	expect(state).toMatchObject({ current_stage: 'failed', error_code: 'page_mismatch' });
});
