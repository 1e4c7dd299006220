// GenerateFollowUp fed items a person wrote (a Set node, a query, hand-written JSON) rather than a
// claim's rows: Last Messages read as Auto Assign's Analyze reads an item's messages (direction in
// any case, oldest first by sent_at, anything else refused naming the message), a Contact State ID
// in upper case read as the database answers it, and one that is not a UUID refused for its item
// alone. Against the Gemini simulator, and the local stack where stages are recorded.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type GeminiRequestBody, type LoggedRequest, type RunningSimulators } from '../../../simulators';
import type { TestCredentials } from '../../harness';
import { testStack } from '../../helpers/stack';
import { claimedContacts, eventsOf, statesOf } from './support/claimed';
import { geminiCredentials, runGenerate } from './support/workflow';

let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators();
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.gemini.control.reset();
});

const freshKeys = () => [`hand-key-${randomUUID()}`];
const standalone = (options: IDataObject = {}): IDataObject => ({ recordStages: false, options: { retryDelayMs: 10, ...options } });
const recorded = (): IDataObject => ({ options: { retryDelayMs: 10 } });
const generateCalls = async (): Promise<LoggedRequest[]> => (await sims.gemini.control.requests()).filter((request) => request.path.endsWith(':generateContent'));
const promptsSent = async (): Promise<string[]> => (await generateCalls()).map((call) => (call.body as GeminiRequestBody).contents[0].parts[0].text ?? '');

function withSupabase(): TestCredentials {
	return { ...geminiCredentials(sims.gemini.baseUrl, freshKeys()), leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } };
}

const contact = (name: string, messages: unknown[]): IDataObject => ({ sender_name: name, follow_up_number: 1, rule: { instructions: 'Be brief.', language: 'English' }, messages } as IDataObject);

describe('Last Messages', () => {
	it('reads a direction in any case and puts newest-first messages in time order: Max Messages in Prompt keeps the newest', async () => {
		const messages = [
			{ direction: 'INBOUND', text: 'NEWEST: do you ship to Canada?', sent_at: '2026-11-20T12:00:00Z' },
			{ direction: ' Outbound ', text: 'MIDDLE: we ship everywhere.', sent_at: '2026-11-20T11:00:00Z' },
			{ direction: 'Inbound', text: 'OLDEST: hi', sent_at: '2026-11-20T10:00:00Z' },
			// A message without text (an attachment) is read, and not shown.
			{ direction: 'inbound', text: null, sent_at: '2026-11-20T09:00:00Z' },
		];
		const { generated, failed } = await runGenerate([contact('Ann', messages)], standalone({ maxMessages: 2 }), geminiCredentials(sims.gemini.baseUrl, freshKeys()));
		expect(failed).toEqual([]);
		expect(generated).toHaveLength(1);
		const [prompt] = await promptsSent();
		expect(prompt).toContain(
			'The conversation so far, oldest first:\nBusiness (2026-11-20 11:00 UTC): MIDDLE: we ship everywhere.\nContact (2026-11-20 12:00 UTC): NEWEST: do you ship to Canada?\n',
		);
		expect(prompt).not.toContain('OLDEST');
		// The item goes on as it came.
		expect(generated[0].messages).toEqual(messages);
	});

	it('a message in another shape ({role, content}) is refused naming Last Messages[i].direction, never dropped unsaid; with Continue On Fail that item alone', async () => {
		const chat = contact('Bo', [{ role: 'user', content: 'Can I book Tuesday?' }, { role: 'assistant', content: 'Sure, 10am?' }]);
		const good = contact('Cy', [{ direction: 'inbound', text: 'Is Tuesday free?', sent_at: '2026-11-20T10:00:00Z' }]);
		const message = 'Last Messages[0].direction "" is neither inbound nor outbound';

		const stopped = await runGenerate([good, chat], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys()));
		expect(stopped.result.status).toBe('error');
		expect(stopped.result.error?.message).toBe(message);
		expect(stopped.result.error?.description).toContain("a chat's {role, content} is not read");
		expect(await generateCalls()).toEqual([]);

		const continued = await runGenerate([good, chat], standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys()), { continueOnFail: true });
		expect(continued.generated.map((item) => item.sender_name)).toEqual(['Cy']);
		expect(continued.failed).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message }) }]);
		expect(await promptsSent()).toEqual([expect.stringContaining('Contact (2026-11-20 10:00 UTC): Is Tuesday free?')]);
	});

	it('another direction, an entry that is not a message, and a text that is not text are each refused naming the field', async () => {
		const refusals = [
			[[{ direction: 'inbound', text: 'Hi' }, { direction: 'customer', text: 'Hello?' }], 'Last Messages[1].direction "customer" is neither inbound nor outbound'],
			[['Hi there'], 'Last Messages[0] is not a message (got Hi there)'],
			[[{ direction: 'inbound', text: { body: 'Hi' } }], 'Last Messages[0].text is not text (got {"body":"Hi"})'],
			[[{ direction: 'outbound', text: 42 }], 'Last Messages[0].text is not text (got 42)'],
		] as const;
		const contacts = refusals.map(([messages], index) => contact(`Dee${index}`, [...messages]));
		const { generated, failed } = await runGenerate(contacts, standalone(), geminiCredentials(sims.gemini.baseUrl, freshKeys()), { continueOnFail: true });
		expect(generated).toEqual([]);
		expect(failed.map((item) => [(item.error as IDataObject).code, (item.error as IDataObject).message])).toEqual(refusals.map(([, message]) => ['invalid_input', message]));
		expect(await generateCalls()).toEqual([]);
	});
});

describe('Contact State ID', () => {
	it('in upper case (a valid UUID) is the same contact: generated and recorded ready_to_send', async () => {
		const batch = await claimedContacts(2);
		const items = batch.items.map((item) => ({ ...item, state_id: String(item.state_id).toUpperCase() }));
		const { result, generated, failed } = await runGenerate(items, recorded(), withSupabase());
		expect(result.error).toBeUndefined();
		expect(failed).toEqual([]);
		expect(generated.map((item) => item.stage)).toEqual(['ready_to_send', 'ready_to_send']);
		expect(await generateCalls()).toHaveLength(2);
		expect((await statesOf(batch.stateIds)).map((state) => [state.current_stage, state.generated_message])).toEqual(
			generated.map((item) => ['ready_to_send', (item.followUp as IDataObject).message]),
		);
	});

	it('not a UUID: the node stops naming the field before any contact is moved or Gemini asked, the others given back', async () => {
		const batch = await claimedContacts(3);
		const items = batch.items.map((item, index) => (index === 1 ? { ...item, state_id: 'state-42' } : item));
		const { result } = await runGenerate(items, recorded(), withSupabase());
		expect(result.status).toBe('error');
		expect(result.error?.message).toBe('Contact State ID "state-42" is not a UUID');
		expect(result.error?.description).toContain('state_id');
		expect(result.error?.description).not.toContain('back failed');
		expect(await generateCalls()).toEqual([]);
		const good = [batch.stateIds[0], batch.stateIds[2]];
		expect((await statesOf(good)).map((state) => [state.current_stage, state.locked_by])).toEqual([
			['queued', null],
			['queued', null],
		]);
		const given = (await eventsOf(good)).filter((event) => event.to_stage === 'queued' && event.from_stage !== null);
		expect(given.map((event) => [event.from_stage, event.detail?.reason])).toEqual([
			['eligible', 'generation_setup_failed'],
			['eligible', 'generation_setup_failed'],
		]);
	});

	it('not a UUID, with Continue On Fail: that item alone fails naming the field; the others are generated and recorded', async () => {
		const batch = await claimedContacts(3);
		const items = batch.items.map((item, index) => (index === 1 ? { ...item, state_id: 'state-42' } : item));
		const { result, generated, failed } = await runGenerate(items, recorded(), withSupabase(), { continueOnFail: true });
		expect(result.error).toBeUndefined();
		expect(generated.map((item) => [item.state_id, item.stage])).toEqual([
			[batch.stateIds[0], 'ready_to_send'],
			[batch.stateIds[2], 'ready_to_send'],
		]);
		expect(failed).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'Contact State ID "state-42" is not a UUID', field: 'stateId' }) }]);
		expect(await generateCalls()).toHaveLength(2);
		expect((await statesOf(batch.stateIds)).map((state) => state.current_stage)).toEqual(['ready_to_send', 'eligible', 'ready_to_send']);
	});
});
