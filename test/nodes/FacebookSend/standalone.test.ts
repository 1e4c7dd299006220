// FacebookSend without Supabase (Record in Supabase off): a plain message for an AI agent or any
// workflow, and what an agent reads of the tool. Also what holds in both modes: appsecret_proof when the credential has an app secret,
// a too-long message refused before Facebook is called, and no token or proof in any output or error.
import { NodeHelpers, Workflow, type IDataObject, type INode, type INodeParameters } from 'n8n-workflow';
import { appSecretProof, startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow, type WorkflowJson } from '../../harness';
import { agentWorkflow, engineAgentWorkflow } from '../../harness/agent';
import { loaders } from '../../harness/loaders';
import { HarnessNodeTypes } from '../../harness/node-types';
import { testStack, withDb } from '../../helpers/stack';
import { PAGE_ID, readyContacts, statesOf } from './support/contacts';
import { facebookCredential, FAST, PAGE_TOKEN, runSend } from './support/workflow';

const APP_SECRET = 'app-secret-send-tests';
const PSID = '24000000000000001';
let sims: RunningSimulators;

beforeAll(async () => {
	sims = await startSimulators({ graph: { pageTokens: { [PAGE_ID]: PAGE_TOKEN } } });
});

afterAll(async () => {
	await sims.stop();
});

beforeEach(async () => {
	await sims.graph.control.reset();
});

const plain = { ...FAST, recordStages: false };
const items = [{ recipient_id: PSID, followUp: { message: 'Hi, is tomorrow at 10 still good?' } }];
const facebookOnly = (overrides: Record<string, string> = {}) => ({ leadflowFacebookPageApi: facebookCredential(sims.graph.baseUrl, overrides) });

test('sends a plain message with no Supabase credential, as RESPONSE when asked', async () => {
	const run = await runSend(items, { ...plain, messagingType: 'RESPONSE' }, facebookOnly());

	expect(run.result.status).toBe('success');
	const [delivered] = await sims.graph.control.messages();
	expect(delivered).toMatchObject({ recipientId: PSID, messagingType: 'RESPONSE', text: items[0].followUp.message, pageId: PAGE_ID });
	expect(delivered.tag).toBeUndefined();
	expect(run.sent).toEqual([{ ...items[0], send: { outcome: 'sent', messageId: delivered.messageId, attempts: 1 } }]);
});

test('with an app secret every call carries appsecret_proof, and Graph configured with the secret accepts it', async () => {
	await sims.graph.control.configure({ appSecret: APP_SECRET });

	const run = await runSend(items, plain, facebookOnly({ appSecret: APP_SECRET }));

	expect(run.sent).toHaveLength(1);
	const [request] = await sims.graph.control.requests();
	expect(request.query).toEqual({ access_token: PAGE_TOKEN, appsecret_proof: appSecretProof(PAGE_TOKEN, APP_SECRET) });
});

test('a wrong app secret: Graph refuses the proof, the item fails with Graph\'s reason', async () => {
	await sims.graph.control.configure({ appSecret: APP_SECRET });

	const run = await runSend(items, plain, facebookOnly({ appSecret: 'not-the-secret' }));

	expect(run.failed[0].send).toMatchObject({ outcome: 'failed', reason: 'graph_error', code: 100, message: 'Invalid appsecret_proof provided in the API argument' });
	expect(await sims.graph.control.messages()).toEqual([]);
});

test('without an app secret no proof is sent', async () => {
	await runSend(items, plain, facebookOnly());
	const [request] = await sims.graph.control.requests();
	expect(request.query).toEqual({ access_token: PAGE_TOKEN });
});

test('a message over 2,000 characters is refused before Facebook is called', async () => {
	const long = [{ recipient_id: PSID, followUp: { message: 'é'.repeat(2001) } }];

	const stopped = await runSend(long, plain, facebookOnly());
	expect(stopped.result.status).toBe('error');
	expect(stopped.result.error?.message).toBe('The message has 2001 characters');

	const continued = await runSend(long, plain, facebookOnly(), { continueOnFail: true });
	// The package's one continue-on-fail item, on Failed.
	expect(continued.failed).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: 'The message has 2001 characters' }) }]);
	expect(await sims.graph.control.requests()).toEqual([]);
});

// A PSID has up to 32 digits; a JavaScript number holds integers exactly only up to 2^53 - 1. One an
// expression gives as a Number (a spreadsheet's numeric column, JSON without quotes) has lost its last
// digits before the node reads it: 1234567890123456789 arrives as 1234567890123456800, a PSID of
// another person or of nobody. Before, the node sent to it.
test('a Recipient PSID given as a Number beyond the exact integers is refused naming the field and saying to pass it as text; nothing is sent', async () => {
	const refusal = 'Recipient PSID was given as the number 1234567890123456800, too large to be exact: pass it as text';
	const asNumber = { ...plain, recipientId: '={{ 1234567890123456789 }}' };

	const stopped = await runSend(items, asNumber, facebookOnly());
	expect(stopped.result.status).toBe('error');
	expect([stopped.result.error?.message, stopped.result.error?.description]).toEqual([refusal, expect.stringMatching(/^A PSID has up to 32 digits; .*Keep it text where it comes from/)]);
	// Read from the item's field too (its default, {{ $json.recipient_id }}), with Continue On Fail: that item alone.
	const fromItems = [{ recipient_id: PSID, followUp: items[0].followUp }, { recipient_id: '__NUMBER__', followUp: items[0].followUp }];
	const continued = await runSend(fromItems, { ...plain, recipientId: "={{ $json.recipient_id === '__NUMBER__' ? 1234567890123456789 : $json.recipient_id }}" }, facebookOnly(), { continueOnFail: true });
	expect(continued.failed).toEqual([{ error: expect.objectContaining({ code: 'invalid_input', message: refusal }) }]);
	expect((await sims.graph.control.messages()).map((message) => message.recipientId)).toEqual([PSID]);

	// A number within the exact integers (a 15-digit PSID) is its digits, as before; text of any length is read as written.
	await sims.graph.control.reset();
	await runSend(items, { ...plain, recipientId: '={{ 240000000000001 }}' }, facebookOnly());
	await runSend(items, { ...plain, recipientId: '1234567890123456789' }, facebookOnly());
	expect((await sims.graph.control.messages()).map((message) => message.recipientId)).toEqual(['240000000000001', '1234567890123456789']);
});

test('neither the token nor the proof appears in outputs or errors, even when the token is refused', async () => {
	await sims.graph.control.configure({ appSecret: APP_SECRET });
	await sims.graph.control.addFault({ effect: { kind: 'graphError', code: 190 } });
	const proof = appSecretProof(PAGE_TOKEN, APP_SECRET);

	const refused = await runSend(items, plain, facebookOnly({ appSecret: APP_SECRET }));
	const refusedAgain = await runSend(items, plain, facebookOnly({ appSecret: APP_SECRET }), { continueOnFail: true });
	await sims.graph.control.clearFaults();
	await sims.graph.control.addFault({ effect: { kind: 'timeout', holdMs: 3000 } });
	const unanswered = await runSend(items, { ...plain, options: { ...plain.options, timeoutSeconds: 1 } }, facebookOnly({ appSecret: APP_SECRET }));

	expect(refused.result.error?.message).toBe('The Page token is invalid or expired: reconnect the credential');
	expect(refusedAgain.failed[0].send).toMatchObject({ reason: 'invalid_token' });
	expect(unanswered.failed[0].send).toMatchObject({ reason: 'send_uncertain' });
	for (const run of [refused, refusedAgain, unanswered]) {
		const everything = JSON.stringify({ data: run.result.run?.data, error: run.result.error });
		expect(everything).not.toContain(PAGE_TOKEN);
		expect(everything).not.toContain(proof);
		expect(everything).not.toContain('access_token');
	}
});

describe('as an AI agent\'s tool (Record in Supabase off: a tool\'s call holds no claim)', () => {
	const TOOL = 'n8n-nodes-leadflow.facebookSendTool';

	/** The tool's description as n8n builds it for an agent (Tool Description: Set Automatically). */
	async function toolDescription(parameters: INodeParameters): Promise<string> {
		const nodeTypes = new HarnessNodeTypes(await loaders());
		const node: INode = { id: 't', name: 'Tool', type: TOOL, typeVersion: 1, position: [0, 0], parameters };
		const filled = new Workflow({ nodes: [node], connections: {}, active: false, nodeTypes }).getNode('Tool') as INode;
		return NodeHelpers.getToolDescriptionForNode({ ...filled, parameters: { ...filled.parameters, descriptionType: 'auto' } }, nodeTypes.getByNameAndVersion(TOOL, 1));
	}

	test('what the agent reads is what a plain send does: no stop checked, no duplicate guard; two identical calls to a contact a person took over deliver two messages', async () => {
		// Before, the agent read "Send Messenger follow-ups once each: duplicate guard, stop and window
		// checks…", which only Record in Supabase on does, and a tool runs with it off.
		for (const parameters of [{}, { recordStages: false }]) {
			const description = await toolDescription(parameters);
			expect({ parameters, description }).toEqual({ parameters, description: expect.stringMatching(/Off \(e\.g\. as an AI agent's tool\): .*no stop checked and no duplicate guard, so each call sends again/) });
			expect({ parameters, description }).toEqual({ parameters, description: expect.not.stringMatching(/^Send Messenger follow-ups once each/) });
		}

		// A person took the conversation over: the follow-up pipeline would skip it (stopped).
		const batch = await readyContacts({ count: 1 });
		await withDb((db) => db.query("insert into public.ai_automation_stops (user_id, conversation_id, rule_id, reason) values ($1, $2, null, 'human_takeover')", [batch.owner, batch.conversationIds[0]]));
		const toolParameters = { recordStages: false, recipientId: "={{ $fromAI('psid', 'the PSID', 'string') }}", message: "={{ $fromAI('text', 'the text', 'string') }}" };
		const answers: unknown[] = [];
		for (let call = 0; call < 2; call++) {
			const run = await runWorkflow(
				agentWorkflow('facebookSend', toolParameters, { leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook' } }, { psid: batch.psids[0], text: 'A quick question from the agent' }) as unknown as WorkflowJson,
				{ credentials: facebookOnly() },
			);
			answers.push(run.nodeOutputs.Agent?.[0]);
		}
		expect(answers).toEqual([{ answer: expect.stringContaining('"outcome":"sent"') }, { answer: expect.stringContaining('"outcome":"sent"') }]);
		expect((await sims.graph.control.messages()).filter((message) => message.recipientId === batch.psids[0]).map((message) => message.text)).toEqual([
			'A quick question from the agent',
			'A quick question from the agent',
		]);
	});

	// A model writes "null" or "undefined" for a value it does not know (nodes/shared/tool-text.ts).
	// The Message is required: before, the tool sent the person the text "null".
	test('as a tool, a message given as "null", "undefined" or nothing is refused naming the message field; nothing is sent. In a workflow the text "null" is sent as written', async () => {
		const toolParameters = { recordStages: false, recipientId: "={{ $fromAI('psid', 'the PSID', 'string') }}", message: "={{ $fromAI('text', 'the text', 'string') }}" };
		// Named as the model knows the field: its $fromAI key, `text` (before 6 December 2026, "message").
		const advice = 'Give the text to send to the person as text: the words of the Messenger message itself, at most 2,000 characters. Nothing was sent.';
		const answers: unknown[] = [];
		for (const text of ['null', ' Undefined ', 'NULL', '']) {
			const run = await runWorkflow(agentWorkflow('facebookSend', toolParameters, { leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook' } }, { psid: PSID, text }) as unknown as WorkflowJson, {
				credentials: facebookOnly(),
			});
			answers.push(run.nodeOutputs.Agent?.[0]);
		}
		expect(answers).toEqual([
			{ thrown: `The Message (text) is "null", a word for no value, not a text to send\n\nDetails: ${advice}` },
			{ thrown: `The Message (text) is "Undefined", a word for no value, not a text to send\n\nDetails: ${advice}` },
			{ thrown: `The Message (text) is "NULL", a word for no value, not a text to send\n\nDetails: ${advice}` },
			{ thrown: `The Message (text) is empty: no text to send was given\n\nDetails: ${advice}` },
		]);
		expect(await sims.graph.control.requests()).toEqual([]);

		// In a workflow the text is the message as written: a person may have written "null".
		const inWorkflow = await runSend([{ recipient_id: PSID, followUp: { message: 'null' } }], plain, facebookOnly());
		expect(inWorkflow.sent).toEqual([expect.objectContaining({ send: expect.objectContaining({ outcome: 'sent' }) })]);
		expect((await sims.graph.control.messages()).map((message) => message.text)).toEqual(['null']);
	});

	// The Message not the model's (no $fromAI): at its default it reads the agent's input item, which
	// has no followUp, or it is a text fixed in the tool's settings. Nothing the model gives changes it,
	// so the advice is the workflow builder's. Before, the model was told to "give the text as message".
	test('as a tool with the Message not filled by the model (its default, or "null" set in the tool\'s settings), the refusal names the message field and advises the builder, on both agent paths; nothing is sent', async () => {
		const builderAdvice =
			"Map the text to send in this tool's settings: the Message is not given by the model, so let the model give it with {{ $fromAI('message', 'the text to send to the person') }}, or set the text there. Nothing was sent.";
		const facebook = { leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook' } };
		const atDefault = { recordStages: false, recipientId: "={{ $fromAI('psid', 'the PSID', 'string') }}" };
		const fixed = { ...atDefault, message: 'null' };
		const legacy: unknown[] = [];
		const engine: unknown[] = [];
		for (const parameters of [atDefault, fixed]) {
			const run = await runWorkflow(agentWorkflow('facebookSend', parameters, facebook, { psid: PSID }) as unknown as WorkflowJson, { credentials: facebookOnly() });
			legacy.push(run.nodeOutputs.Agent?.[0]);
			const viaEngine = await runWorkflow(engineAgentWorkflow('facebookSend', parameters, facebook, { psid: PSID }) as unknown as WorkflowJson, { credentials: facebookOnly() });
			engine.push(JSON.parse(String(viaEngine.nodeOutputs.Agent?.[0]?.observation)));
		}
		const empty = `The Message (message) is empty: no text to send was given\n\nDetails: ${builderAdvice}`;
		const nullWord = `The Message (message) is "null", a word for no value, not a text to send\n\nDetails: ${builderAdvice}`;
		expect(legacy).toEqual([{ thrown: empty }, { thrown: nullWord }]);
		expect(engine).toEqual([[{ error: empty }], [{ error: nullWord }]]);
		// The Message the model's ($fromAI) on the engine path: the model's advice, as on the older path above.
		const byModel = await runWorkflow(engineAgentWorkflow('facebookSend', { ...atDefault, message: "={{ $fromAI('text', 'the text', 'string') }}" }, facebook, { psid: PSID, text: 'null' }) as unknown as WorkflowJson, {
			credentials: facebookOnly(),
		});
		expect(JSON.parse(String(byModel.nodeOutputs.Agent?.[0]?.observation))).toEqual([
			{
				error:
					'The Message (text) is "null", a word for no value, not a text to send\n\nDetails: Give the text to send to the person as text: the words of the Messenger message itself, at most 2,000 characters. Nothing was sent.',
			},
		]);
		expect(await sims.graph.control.requests()).toEqual([]);
	});

	// A Recipient PSID that is no PSID, as a tool: before 6 December 2026 one advice whoever filled the
	// field ("A PSID is the numeric sender ID of a Messenger conversation."), the field named as the
	// builder sees it. Now the model is told by its $fromAI key, the builder (a field the model cannot
	// change) to map it in the tool's settings. In a workflow as before.
	test('as a tool, a Recipient PSID that is no PSID is refused with the advice of whoever fills it: the model by its $fromAI key, else the builder; nothing is sent', async () => {
		const facebook = { leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook' } };
		const byModel = { recordStages: false, recipientId: "={{ $fromAI('psid', 'the PSID', 'string') }}", message: 'Hello' };
		const modelRun = await runWorkflow(agentWorkflow('facebookSend', byModel, facebook, { psid: 'Maria Santos' }) as unknown as WorkflowJson, { credentials: facebookOnly() });
		expect(modelRun.nodeOutputs.Agent?.[0]).toEqual({
			thrown:
				'Recipient PSID (psid) "Maria Santos" is not a page-scoped ID\n\nDetails: Give the PSID of the person to send to as psid: the numeric sender ID of their Messenger conversation (a contact\'s sender_id), as you were told it, not a name. If you were not told it, ask for it. Nothing was sent.',
		});
		const fixed = { recordStages: false, recipientId: 'Maria Santos', message: 'Hello' };
		const builderRun = await runWorkflow(engineAgentWorkflow('facebookSend', fixed, facebook, {}) as unknown as WorkflowJson, { credentials: facebookOnly() });
		expect(JSON.parse(String(builderRun.nodeOutputs.Agent?.[0]?.observation))).toEqual([
			{
				error:
					'Recipient PSID (recipientId) "Maria Santos" is not a page-scoped ID\n\nDetails: Recipient PSID is set in this tool\'s settings, not given by the model: map it there to the person\'s PSID (the numeric sender ID of their Messenger conversation, a contact\'s sender_id), or let the model give it with {{ $fromAI(\'recipientId\', \'the PSID of the person to send to\') }}. Nothing was sent.',
			},
		]);
		expect(await sims.graph.control.requests()).toEqual([]);
	});

	// Record in Supabase left on (its default) in the tool's node: the recorded mode sends a claimed
	// contact, and a tool's call holds none. Before, the agent was told 'Contact State ID "" is not a
	// UUID', which neither it nor the person reading its answer could act on.
	test('with Record in Supabase left on, the tool refuses naming the setting and saying to turn it off; nothing is sent', async () => {
		const refusal =
			'Facebook Send cannot run as an AI agent\'s tool with Record in Supabase on\n\nDetails: Record in Supabase sends a contact a follow-up workflow claimed, named by its Contact State ID and Claim Holder, and this call gave no Contact State ID. ' +
			'Map both from the claimed contact (e.g. with $fromAI), or turn off Record in Supabase in this tool\'s settings: it then sends the message to the Recipient PSID it is given (no stop checked, no duplicate guard, so each call sends again). ' +
			'A follow-up that must honour the stops and the duplicate guard is sent by the follow-up workflow, not by an agent.';
		const asTool = async (toolParameters: IDataObject, credentials: IDataObject, args: IDataObject) => {
			const run = await runWorkflow(agentWorkflow('facebookSend', toolParameters, credentials, args) as unknown as WorkflowJson, {
				credentials: { ...facebookOnly(), leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } },
			});
			expect(run.error).toBeUndefined();
			return run.nodeOutputs.Agent?.[0];
		};
		const facebook = { leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook' } };
		const withSupabase = { ...facebook, leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
		// The plain send's fields filled for the agent, the switch forgotten (they are kept, hidden, while it is on).
		const plainFields = { recipientId: "={{ $fromAI('psid', 'the PSID', 'string') }}", message: "={{ $fromAI('text', 'the text', 'string') }}" };
		const psidAndText = { psid: PSID, text: 'A quick question from the agent' };

		// The node as added (every parameter its default), with only the Facebook credential or a Supabase one too.
		expect(await asTool({}, facebook, {})).toEqual({ thrown: refusal });
		expect(await asTool({}, withSupabase, {})).toEqual({ thrown: refusal });
		expect(await asTool(plainFields, withSupabase, psidAndText)).toEqual({ thrown: refusal });
		// A Contact State ID the model is asked for and leaves empty: refused the same.
		const stateFromAI = { stateId: "={{ $fromAI('state_id', 'the contact', 'string') }}" };
		expect(await asTool(stateFromAI, withSupabase, { state_id: '' })).toEqual({ thrown: refusal });
		expect(await sims.graph.control.requests()).toEqual([]);
	});

	// An agent fed the contact a Claim (and Generate Follow-Up) gave its workflow, the tool's Contact
	// State ID and Claim Holder asked of the model ($fromAI), Record in Supabase on: this sent before
	// 08e4904, which refused every tool call with the switch on, and the refusal, a node failure, gave
	// the workflow's claim back (send_setup_failed), dropping its generated message: the next run
	// claimed and generated the contact again, to be refused again, for ever.
	const claimedFromAI = { ...FAST, stateId: "={{ $fromAI('state_id', 'the contact state id', 'string') }}", leaseHolder: "={{ $fromAI('holder', 'the claim holder', 'string') }}" };
	const withSupabaseCredential = { leadflowFacebookPageApi: { id: 'facebook', name: 'Facebook' }, leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' } };
	const runTool = async (parameters: IDataObject, args: IDataObject) => {
		const run = await runWorkflow(agentWorkflow('facebookSend', parameters, withSupabaseCredential, args) as unknown as WorkflowJson, {
			credentials: { ...facebookOnly(), leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } },
		});
		expect(run.error).toBeUndefined();
		return run.nodeOutputs.Agent?.[0];
	};
	const claimOf = async (stateId: string) =>
		(await withDb((db) => db.query('select current_stage, locked_by, generated_message from public.ai_automation_contact_states where id = $1', [stateId]))).rows[0];

	test('given a claimed contact\'s Contact State ID and Claim Holder ($fromAI) with Record in Supabase on, the tool sends it its generated message, recorded', async () => {
		const batch = await readyContacts({ count: 1 });
		const answer = await runTool(claimedFromAI, { state_id: batch.stateIds[0], holder: batch.executionId });

		expect(answer).not.toHaveProperty('thrown');
		const messages = await sims.graph.control.messages();
		expect(messages.map((message) => [message.recipientId, message.text])).toEqual([[batch.psids[0], (batch.items[0].followUp as IDataObject).message]]);
		expect(await statesOf(batch.stateIds)).toEqual([expect.objectContaining({ current_stage: 'sent', facebook_message_id: messages[0].messageId, follow_up_count: 1 })]);
	});

	test('a tool\'s refused call never gives the workflow\'s claim back: the contact stays claimed with its generated message', async () => {
		const batch = await readyContacts({ count: 1 });
		const answer = await runTool({ ...claimedFromAI, messagesPerSecond: 0 }, { state_id: batch.stateIds[0], holder: batch.executionId });

		expect(answer).toEqual({ thrown: expect.stringMatching(/^Messages per Second must be above 0/) });
		expect(await sims.graph.control.requests()).toEqual([]);
		expect(await claimOf(batch.stateIds[0])).toEqual({
			current_stage: 'ready_to_send',
			locked_by: batch.executionId,
			generated_message: (batch.items[0].followUp as IDataObject).message,
		});
	});
});
