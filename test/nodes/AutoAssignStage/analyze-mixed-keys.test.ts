// Analyze with a credential whose keys are partly refused (an invalid key) and partly resting (429):
// the contact gets the fallback score, and its item says how many keys were refused and what to do,
// with Generate Follow-Up's advice (nodes/shared/gemini/setup.ts geminiAdvice) in Analyze's words:
// fix or remove the refused key; the conversation stays due. Before, the item had the fallback and
// the message only ("scored by the fallback with no advice"). A quota failure with no refused key
// carries the count too (0) and the quota's own advice. The advice says what becomes of the
// conversation for the source Analyze read it from (review RM1 F3: it said "Due for Analysis analyses
// it again" also From the Input, the default and an AI agent's tool's only source, where it is due
// only when its Page has auto-assignment on and pipeline_due_for_analysis lists it: review RMM1 F1,
// analyze-input-fallback-due.test.ts), and the item carries the time until a key is back
// (fallback_retry_after_seconds; before, only inside fallback_message).
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { createPipelineWorld, minutesAfter } from '../../db/pipelines/fixtures';
import { withDb } from '../../helpers/stack';
import { geminiCredentials, runStage } from './support/workflow';

let sims: RunningSimulators;
beforeAll(async () => {
	sims = await startSimulators();
});
afterAll(async () => {
	await sims.stop();
});

const conversation = (): IDataObject => ({
	conversation_id: randomUUID(),
	sender_name: 'Maria',
	messages: [{ direction: 'inbound', text: 'Hi, how much is the premium plan?', sent_at: '2026-11-20T10:00:00Z' }],
});
const analyze = { operation: 'analyze', options: { retryDelayMs: 10, maxQuotaWaitMs: 1_000, concurrency: 1 } };

it('one key refused, the other resting for its quota: the fallback item counts the refused key and tells to fix or remove it', async () => {
	const bad = `bad-key-${randomUUID()}`;
	const good = `good-key-${randomUUID()}`;
	await sims.gemini.control.reset();
	await sims.gemini.control.configure({ apiKeys: [good] });
	await sims.gemini.control.addFault({ match: { key: good }, effect: { kind: 'http', status: 429, retryDelaySeconds: 45 } });

	const { result, contacts } = await runStage([conversation(), conversation()], analyze, geminiCredentials(sims.gemini.baseUrl, [bad, good]));

	expect(result.error).toBeUndefined();
	expect(contacts).toHaveLength(2);
	for (const contact of contacts) {
		expect(contact).toMatchObject({ fallback: true, fallback_reason: 'quota', fallback_refused_keys: 1 });
		expect(String(contact.fallback_message)).toMatch(/^1 of the credential's 2 Gemini keys was refused by Google/);
		expect(String(contact.fallback_description)).toMatch(/^Fix or remove the refused API keys of the Leadflow Gemini API credential \(one per line\)/);
		expect(String(contact.fallback_description)).toMatch(
			/The other keys rest for their quota: this conversation got the fallback score\. It stays due, and Due for Analysis \(the auto-assign workflow\) analyses it again in a later run once a key is back \(fallback_retry_after_seconds\), if its Page has auto-assignment on and it is one of: not in the pipeline yet \(and never moved out of it\), still where the fallback score placed it \(no one moved it since\), or on an UPDATE_EXISTING Page with customer messages since its previous analysis\. Otherwise, for the model's analysis, run it again then\.$/,
		);
		// Not the Due for Analysis source's words, which say it stays due whatever its Page.
		expect(String(contact.fallback_description)).not.toContain('this conversation got the fallback score, and Due for Analysis');
		expect(contact.fallback_retry_after_seconds).toEqual(expect.any(Number));
		expect(contact.fallback_retry_after_seconds).toBeGreaterThanOrEqual(1);
		expect(contact.fallback_retry_after_seconds).toBeLessThanOrEqual(45);
		expect(JSON.stringify(contact)).not.toContain(bad);
		expect(JSON.stringify(contact)).not.toContain(good);
	}
});

it('every key resting for its quota, none refused: the count is 0 and the advice is the quota\'s', async () => {
	const keys = [`key-a-${randomUUID()}`, `key-b-${randomUUID()}`];
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'http', status: 429, retryDelaySeconds: 45 } });

	const { result, contacts } = await runStage([conversation()], analyze, geminiCredentials(sims.gemini.baseUrl, keys));

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([expect.objectContaining({ fallback: true, fallback_reason: 'quota', fallback_refused_keys: 0 })]);
	expect(String(contacts[0].fallback_description)).toMatch(
		/^Nothing to fix for this conversation: it got the fallback score\. It stays due, and Due for Analysis \(the auto-assign workflow\) analyses it again in a later run once a key is back \(fallback_retry_after_seconds\), if its Page has auto-assignment on and it is one of: not in the pipeline yet \(and never moved out of it\), still where the fallback score placed it \(no one moved it since\), or on an UPDATE_EXISTING Page with customer messages since its previous analysis\. Otherwise, for the model's analysis, run it again then\. If it happens often, add API keys of other Google Cloud projects/,
	);
	expect(contacts[0].fallback_retry_after_seconds).toBeGreaterThanOrEqual(1);
	expect(contacts[0].fallback_retry_after_seconds).toBeLessThanOrEqual(45);
});

it('Due for Analysis, every key resting for its quota: the advice says a later Due for Analysis run analyses it again, with the time until a key is back', async () => {
	const world = await createPipelineWorld();
	const id = await world.contact();
	await withDb((db) =>
		db.query(`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at) values ($1, $2, 'inbound', 'How much is the premium plan?', $3::timestamptz)`, [
			world.userId,
			id,
			minutesAfter(-30),
		]),
	);
	await sims.gemini.control.reset();
	await sims.gemini.control.addFault({ effect: { kind: 'http', status: 429, retryDelaySeconds: 45 } });

	const { result, contacts } = await runStage([{}], { ...analyze, source: 'due', ownerUserId: world.userId }, geminiCredentials(sims.gemini.baseUrl, [`key-${randomUUID()}`]));

	expect(result.error).toBeUndefined();
	expect(contacts).toEqual([expect.objectContaining({ conversation_id: id, fallback: true, fallback_reason: 'quota', fallback_refused_keys: 0 })]);
	expect(String(contacts[0].fallback_description)).toMatch(
		/^Nothing to fix for this conversation: it got the fallback score, and Due for Analysis analyses it again in a later run once a key is back \(fallback_retry_after_seconds; a conversation placed by the fallback score stays due\)\. If it happens often/,
	);
	expect(contacts[0].fallback_retry_after_seconds).toBeGreaterThanOrEqual(1);
	expect(contacts[0].fallback_retry_after_seconds).toBeLessThanOrEqual(45);
});
