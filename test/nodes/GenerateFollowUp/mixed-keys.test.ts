// A credential with one key Google refuses (invalid) and one it throttles (429): every item fails
// `quota` (a key comes back within minutes), but the message says how many keys were refused and how
// many rest, and the advice tells the owner to fix or remove the refused key (review RMD1 F1: before,
// "Every Gemini key of the credential (2) is throttled (429)" and "Nothing to fix for this item").
// Both places the keys' rests are kept: the database (Record Stages on: limit_take_gemini_keys'
// refused_keys) and the process (Record Stages off: KeyRing).
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import type { TestCredentials } from '../../harness';
import { testStack } from '../../helpers/stack';
import { claimedContacts, statesOf } from './support/claimed';
import { runGenerate } from './support/workflow';

const MODEL = 'gemini-3-flash';
let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

/** A fresh invalid key and a fresh valid one that Google throttles for 45 s (rests outlive a run: fresh keys each test). */
async function mixedKeys(): Promise<{ bad: string; good: string }> {
	const bad = `bad-key-${randomUUID()}`;
	const good = `good-key-${randomUUID()}`;
	await sims.gemini.control.reset();
	await sims.gemini.control.configure({ apiKeys: [good] });
	await sims.gemini.control.addFault({ match: { key: good }, effect: { kind: 'http', status: 429, retryDelaySeconds: 45 } });
	return { bad, good };
}

// Google's words when this item's call met the refusal, else the kinds of refusal (another call met it).
const message = /^1 of the credential's 2 Gemini keys was refused by Google(: .+| as invalid, expired, suspended or without access); the other 1 rests for its quota \(429\); a key is tried again in about 4[0-5] s\.$/;
const advice = /^Fix or remove the refused API keys of the Leadflow Gemini API credential \(one per line\).*this item is tried again once a key is back/;

function expectTold(error: IDataObject, keys: { bad: string; good: string }) {
	// The refused count is a field too, not only inside the message.
	expect(error).toMatchObject({ code: 'quota', status: 429, refusedKeys: 1 });
	expect(String(error.message)).toMatch(message);
	expect(String(error.description)).toMatch(advice);
	expect(String(error.description)).not.toMatch(/Nothing to fix/);
	expect(Number(error.retryAfterSeconds)).toBeGreaterThanOrEqual(40);
	expect(Number(error.retryAfterSeconds)).toBeLessThanOrEqual(45);
	// Neither key's text in what leaves the node.
	expect(JSON.stringify(error)).not.toContain(keys.bad);
	expect(JSON.stringify(error)).not.toContain(keys.good);
}

it('shared rests (Record Stages on): the item and the recorded error name the refused key and what to do', async () => {
	const keys = await mixedKeys();
	const credentials: TestCredentials = {
		leadflowGeminiApi: { apiKeys: `${keys.bad}\n${keys.good}`, baseUrl: sims.gemini.baseUrl, model: MODEL },
		leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey },
	};
	const batch = await claimedContacts(2);
	const { failed } = await runGenerate(batch.items, { options: { retryDelayMs: 10, maxQuotaWaitMs: 1_000 } }, credentials);

	expect(failed).toHaveLength(2);
	for (const item of failed) expectTold(item.error as IDataObject, keys);
	for (const state of await statesOf(batch.stateIds)) {
		expect(state).toMatchObject({ current_stage: 'failed', error_code: 'quota' });
		expect(state.error_message).toMatch(/^1 of the credential's 2 Gemini keys was refused by Google/);
		expect(state.error_message).toMatch(/Fix or remove the refused API keys/);
	}
});

it('rests in the process (Record Stages off): the same message and advice', async () => {
	const keys = await mixedKeys();
	const contact = {
		sender_name: 'Ana',
		follow_up_number: 1,
		messages: [{ direction: 'inbound', text: 'How much is it?', sent_at: '2026-11-20T10:00:00Z' }],
		rule: { instructions: 'Be brief.', model: null, language: 'English' },
	};
	const credentials: TestCredentials = { leadflowGeminiApi: { apiKeys: `${keys.bad}\n${keys.good}`, baseUrl: sims.gemini.baseUrl, model: MODEL } };
	const { failed } = await runGenerate([contact, { ...contact, sender_name: 'Ben' }], { recordStages: false, options: { retryDelayMs: 10, maxQuotaWaitMs: 1_000, concurrency: 1 } }, credentials);

	expect(failed).toHaveLength(2);
	for (const item of failed) expectTold(item.error as IDataObject, keys);
});
