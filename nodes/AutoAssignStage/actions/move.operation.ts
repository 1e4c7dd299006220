// move: a manual move (from the user's app, or an AI agent using the node as a tool) of contacts to a
// stage given by id or by name, with an optional reason, in one database call (pipeline_move). Every
// item is checked before the call, so bad input writes nothing. A reason that is not text (an object
// or a number from a request's JSON) is refused, never written as "[object Object]"; so is a
// conversation ID that is not text (a list holding one id is not read as that id). Moved By left at
// its default (As Run) records a person in a workflow and the agent when the node is an agent's tool.
// Owner User ID keeps the move to one owner's contacts, checked by the database (another owner's
// contact is "does not exist for owner …", as one of nobody's). The node runs with the service role,
// so as an AI agent's tool it must be given (set by the workflow's builder, or by the model where the
// builder chose $fromAI): before, a tool moved any contact whose UUID the model gave. In a workflow
// empty is any owner's contact (the contact-move webhook's caller holds the console key, which reads
// and moves every owner's contacts on the console's Pipeline tab).
import { NodeApiError, updateDisplayOptions, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import type { ManualMove } from '../../shared/contract';
import { runsAsTool } from '../../shared/outputs';
import { readOwnerId } from '../../shared/owner-id';
import { asNodeError, FieldRefusedError, SettingRefusedError } from '../../shared/per-item';
import { fieldAsKnown, filledByModel, fromAIKey, optionalToolText } from '../../shared/tool-text';
import { requireToolOwner, toolOwnerAdvice, type ToolOwnerField, type ToolOwnerWords } from '../../shared/tool-owner';
import { callRpc } from '../../shared/supabase';
import { notTextProblem, textProblem, UUID } from '../../shared/valid-input';
import { applyStageChanges } from '../helpers/stageChanges';
import { automationsProperties, checkUuid, conversationIdHint, pipelineProperty, readLocator, readPipelineId, type ConversationWords } from '../helpers/common';


const properties: INodeProperties[] = [
	{
		displayName: 'Conversation ID',
		name: 'conversationId',
		type: 'string',
		default: '={{ $json.conversation_id }}',
		required: true,
		description: 'The contact to move (an ID of messenger_conversations)',
	},
	{
		displayName: 'Owner User ID',
		name: 'ownerUserId',
		type: 'string',
		default: '',
		description:
			'Move only a contact of this owner (the Supabase user ID): another owner\'s contact is refused as not found. Empty: any owner\'s contact, in a workflow only; as an AI agent\'s tool it must be given (set it here, or let the model give it with $fromAI).',
	},
	{
		displayName: 'Stage',
		name: 'stage',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required: true,
		description: 'The stage to move the contact to; "By Name or ID" takes a name (any case) or a stage ID',
		modes: [
			{ displayName: 'From List', name: 'list', type: 'list', placeholder: 'Select a stage...', typeOptions: { searchListMethod: 'searchStages', searchable: true } },
			{ displayName: 'By ID', name: 'id', type: 'string', placeholder: 'e.g. 0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f' },
			{ displayName: 'By Name or ID', name: 'name', type: 'string', placeholder: 'e.g. Qualified' },
		],
	},
	pipelineProperty('The pipeline of a stage given by name; empty: the one pipeline the contact is in'),
	pipelineProperty(
		'Take the contact out of this pipeline as it moves to the stage (of another pipeline): its place here is left, its score, status and analysis go with it, and its history here says where it went; auto-assignment leaves it out of this pipeline until a person moves it back. Empty: it stays in every pipeline it is in (a stage of another pipeline adds it there)',
		'fromPipelineId',
		'From Pipeline',
	),
	{ displayName: 'Reason', name: 'reason', type: 'string', default: '', description: 'Why the contact is moved (written to its activity)' },
	{
		displayName: 'Moved By',
		name: 'actor',
		type: 'options',
		// Was 'user'. A workflow saved with Moved By left at the default holds no value, so it now gets
		// 'asRun', which in a workflow records a person as before; an agent's tool records the agent.
		default: 'asRun',
		options: [
			{ name: 'A Person in the App', value: 'user' },
			{ name: 'An AI Agent', value: 'ai' },
			{
				name: 'As Run: A Person, or the AI Agent When a Tool',
				value: 'asRun',
				description: 'A person in a workflow (e.g. the contact-move webhook for the app); the agent when the node is an AI agent\'s tool',
			},
		],
		description: 'Who the contact\'s history says moved it (MANUAL_MOVE: "Moved manually", or "Moved by an AI agent")',
	},
	{
		displayName: 'Mover ID',
		name: 'actorId',
		type: 'string',
		default: '',
		description: 'Who moved it, as the contact\'s history names them: the user\'s ID, or the agent\'s name (one line, at most 200 characters); the contact-move webhook takes it as movedBy',
	},
	...automationsProperties,
];

export const description = updateDisplayOptions({ show: { operation: ['move'] } }, properties);

/** Who moved: as chosen, or, left at As Run, the agent when the node is its tool and a person otherwise. */
function readActor(context: IExecuteFunctions, itemIndex: number): ManualMove['actor'] {
	const chosen = context.getNodeParameter('actor', itemIndex, 'asRun') as unknown;
	if (chosen === 'user' || chosen === 'ai') return chosen;
	if (chosen === 'asRun') return runsAsTool(context) ? 'ai' : 'user';
	// A setting of the node (contact-move fixes it to user), not the request's: its failed item names it.
	throw new SettingRefusedError(
		context.getNode(),
		`Moved By must be user, ai or asRun (got ${JSON.stringify(chosen)})`,
		{ itemIndex, description: 'user: a person moved the contact; ai: an AI agent did; asRun: a person in a workflow, the agent when the node is its tool.' },
		{ displayName: 'Moved By', parameter: 'actor' },
	);
}

/**
 * A value that must be text, where a whole number stands for its digits (a request's JSON may send a
 * name or a user id made of digits as a number): the text, or what is wrong with it naming the field.
 * A number beyond JavaScript's exact integers (2^53 - 1) has lost its last digits before the node
 * reads it, so it is refused saying so and to send it as text; a number with a fraction is no name.
 */
function textOrWholeNumber(raw: unknown, label: string): { text: string; problem?: undefined } | { text?: undefined; problem: string } {
	if (raw === undefined || raw === null) return { text: '' };
	if (typeof raw === 'string') return { text: raw };
	if (Number.isSafeInteger(raw)) return { text: String(raw) };
	if (typeof raw === 'number' && Number.isInteger(raw)) {
		return { problem: `${label} was given as the number ${String(raw)}, too large to be exact (it has lost digits): send it as text` };
	}
	if (typeof raw === 'number') return { problem: `${label} must be text or a whole number (got ${String(raw)})` };
	return { problem: `${label} ${notTextProblem(raw) ?? 'must be text'}` };
}

const MOVER_HINT =
	'Say who moved the contact as one line of text, at most 200 characters: a webhook caller sends {"movedBy": "…"} (your user\'s id, or a name), or leaves it out. A whole number is read as its digits; one beyond 9007199254740991 has lost digits before it is read, so send it as text.';

const WORKFLOW_OWNER_HINT = 'Use the id of the Supabase user whose contacts these are, or leave it empty for any owner\'s contact.';
/** Move's owner field and what its refusal as a tool says (the one wording: nodes/shared/tool-owner.ts). */
const OWNER_FIELD: ToolOwnerField = { parameter: 'ownerUserId', displayName: 'Owner User ID' };
const OWNER_WORDS: ToolOwnerWords = { operation: 'Move', purpose: 'whose contact to move', without: 'moves no contact' };
/** Move's Conversation ID, for its advice as a tool (conversationIdHint). */
const CONVERSATION_WORDS: ConversationWords = { thing: 'contact', purpose: 'to move', without: 'moves no contact' };

/**
 * The owner item i's move is kept to: in a workflow, empty is null (any owner's contact); as a tool,
 * empty or a model's "null" / "undefined" is refused naming the field, and so is a malformed one,
 * each with the advice of whoever fills the field.
 */
function readMoveOwner(context: IExecuteFunctions, itemIndex: number): string | null {
	if (!runsAsTool(context)) return asOwnSetting(context, itemIndex, () => readOwnerId(context, itemIndex, WORKFLOW_OWNER_HINT, true));
	requireToolOwner(context, itemIndex, OWNER_FIELD, OWNER_WORDS);
	return asOwnSetting(context, itemIndex, () => readOwnerId(context, itemIndex, toolOwnerAdvice(context, OWNER_FIELD, OWNER_WORDS), false));
}

/**
 * A refused Owner User ID typed in the node (a fixed value, not an expression) is the node's own
 * setting: no request or model gave it, so it is refused as a setting (the failed item's `setting`),
 * and a webhook answers it as its workflow's fault (contact-move: 500 "fix it in the workflow"), not
 * the caller's 400; so is one typed in Expression mode with no `{{ … }}` (`=<uuid>`: n8n fills nothing
 * into it). One given by an expression with `{{ … }}` may come from the request (an X-Leadflow-Owner header
 * in other workflows): the node cannot tell, so it stays a refused field (`field`: ownerUserId) for
 * the workflow to judge.
 */
function asOwnSetting<T>(context: IExecuteFunctions, itemIndex: number, read: () => T): T {
	let refused: FieldRefusedError;
	try {
		return read();
	} catch (error) {
		const raw = context.getNode().parameters?.ownerUserId;
		// An expression with no {{ … }} (a value typed with the field in Expression mode) reads nothing
		// of the item: it is as typed.
		if (!(error instanceof FieldRefusedError) || (typeof raw === 'string' && raw.startsWith('=') && raw.includes('{{'))) throw asNodeError(context, error, itemIndex);
		refused = error;
	}
	throw new SettingRefusedError(
		context.getNode(),
		refused.message,
		{ itemIndex, description: refused.description ?? undefined },
		{ displayName: 'Owner User ID', parameter: 'ownerUserId' },
	);
}

/** A refusal of a value of the move, naming its parameter (`field`), as checkUuid's refusals do: the contact-move webhook answers that request field. */
function fieldRefused(context: IExecuteFunctions, itemIndex: number, field: string, message: string, description: string): FieldRefusedError {
	return new FieldRefusedError(context.getNode(), message, { itemIndex, description }, field);
}

/** A refusal of Stage (not text, empty, a name that is no one line): it names its field, `stage`, as the stage ID's does. */
function stageRefused(context: IExecuteFunctions, itemIndex: number, message: string, description: string): FieldRefusedError {
	return fieldRefused(context, itemIndex, 'stage', message, description);
}

function readMove(context: IExecuteFunctions, itemIndex: number): ManualMove {
	// Text only: a list holding one id would otherwise pass as that id (String(['…']) is the id).
	const rawConversationId = context.getNodeParameter('conversationId', itemIndex) as unknown;
	const conversationNotText = notTextProblem(rawConversationId);
	if (conversationNotText) {
		throw new FieldRefusedError(
			context.getNode(),
			`Conversation ID ${conversationNotText}`,
			{
				itemIndex,
				description: conversationIdHint(
					context,
					rawConversationId,
					'Send one contact\'s id as text, e.g. {"conversationId": "0b7c6f2e-1d2a-4c3b-9e8f-5a6b7c8d9e0f"} (the id column of messenger_conversations): a list or an object is not read, and one move moves one contact.',
					CONVERSATION_WORDS,
				),
			},
			'conversationId',
		);
	}
	const conversationId = checkUuid(
		context,
		rawConversationId,
		'conversation ID',
		'conversationId',
		itemIndex,
		conversationIdHint(context, rawConversationId, 'Give the contact\'s id (the id column of messenger_conversations): a webhook caller sends it as {"conversationId": "…"}, a workflow maps it, e.g. {{ $json.conversationId }}.', CONVERSATION_WORDS),
	);
	const owner = readMoveOwner(context, itemIndex);
	const stage = context.getNodeParameter('stage', itemIndex, { mode: 'id', value: '' }) as { mode?: string; value?: unknown };
	// Text, or a whole number read as its digits (a request's {"stage": 2026} is the stage named
	// "2026", as before 0f4d6ea). A number with a fraction is neither a stage's id (a UUID) nor a
	// name: 12.5 was looked up as the name "12.5" (404, as if only the name were wrong); one beyond
	// JavaScript's exact integers has lost digits. Both are refused naming Stage, as an object, a list
	// or a boolean is, not as an empty stage.
	const stageText = textOrWholeNumber(stage.value, 'Stage');
	if (stageText.problem) {
		throw stageRefused(
			context,
			itemIndex,
			stageText.problem,
			'Send the stage\'s name or id as text, e.g. {"stage": "Qualified"}: a whole number is read as a name made of its digits ({"stage": 2026} is the stage "2026"), a number with a fraction is neither a name nor an id (a stage\'s id is a UUID), a list or an object is not read, and one move goes to one stage.',
		);
	}
	const value = (stageText.text ?? '').trim();
	if (!value) throw stageRefused(context, itemIndex, 'Stage is empty', 'Give the stage\'s id or its name: a webhook caller sends it as {"stage": "Qualified"}, a workflow picks it from the list or maps it.');
	// "By Name or ID" (what a request names, e.g. the contact-move webhook's `stage`): a UUID is an id.
	const byName = stage.mode === 'name' && !UUID.test(value);
	const stageId = byName ? null : checkUuid(context, value, 'stage ID', 'stage', itemIndex, 'Pick the stage from the list, use the id column of pipeline_stages, or choose "By Name".');
	const nameProblem = byName ? textProblem(value, { kind: 'line', max: 100 }) : undefined;
	if (nameProblem) throw stageRefused(context, itemIndex, `The stage name ${nameProblem}`, 'Give the stage\'s name as the pipeline shows it.');
	const rawReason = context.getNodeParameter('reason', itemIndex, '') as unknown;
	const notText = notTextProblem(rawReason);
	if (notText) throw fieldRefused(context, itemIndex, 'reason', `Reason ${notText}`, 'Send the reason as text, a JSON string, e.g. {"reason": "Booked a demo"}: at most 2,000 characters.');
	// As a tool, a model's "null" or "undefined" is no reason (nodes/shared/tool-text.ts), as for Mover ID below.
	const reason = optionalToolText(context, ((rawReason as string | null | undefined) ?? '').trim());
	const reasonProblem = reason ? textProblem(reason, { kind: 'multiline', max: 2000 }) : undefined;
	if (reasonProblem) throw fieldRefused(context, itemIndex, 'reason', `Reason ${reasonProblem}`, 'Write the reason as plain text of at most 2,000 characters.');
	// Who moved (the history's actor_id; the contact-move webhook's movedBy): text, or a whole number
	// (a numeric user id, read as its digits; one beyond the exact integers has lost digits and is
	// refused saying so, not as "must be text"); one line of at most 200 characters, as the history
	// keeps it, checked here so the refusal names Mover ID rather than the database's p_items[0].actor_id.
	const actorText = textOrWholeNumber(context.getNodeParameter('actorId', itemIndex, '') as unknown, 'Mover ID');
	if (actorText.problem) throw fieldRefused(context, itemIndex, 'actorId', actorText.problem, MOVER_HINT);
	const actorId = optionalToolText(context, (actorText.text ?? '').trim());
	const actorProblem = actorId ? textProblem(actorId, { kind: 'line', max: 200 }) : undefined;
	if (actorProblem) throw fieldRefused(context, itemIndex, 'actorId', `Mover ID ${actorProblem}`, MOVER_HINT);
	return {
		conversation_id: conversationId,
		stage_id: stageId,
		stage_name: byName ? value : null,
		pipeline_id: readPipelineId(context, itemIndex, 'leave it empty for the one pipeline the contact is in'),
		from_pipeline_id: checkUuid(
			context,
			readLocator(context, 'fromPipelineId', itemIndex),
			'From Pipeline ID',
			'fromPipelineId',
			itemIndex,
			'Pick the pipeline to take the contact out of from the list, use the id column of pipelines (a webhook caller sends {"fromPipelineId": "…"}), or leave it empty to keep the contact in its pipelines.',
			true,
		),
		reason: reason || null,
		actor: readActor(context, itemIndex),
		actor_id: actorId || null,
		// Only when given: a move without it is any owner's, as before.
		...(owner && { owner_user_id: owner }),
	};
}

/**
 * pipeline_move's refusal of a From Pipeline that is the pipeline of the stage asked for (22023 with
 * the DETAIL {"field": "from_pipeline_id", "reason": "stage_in_pipeline_left", "item_index": n}):
 * the item's index and the pipeline (the item's from_pipeline_id), or null for any other error.
 */
function leavingOwnPipeline(error: NodeApiError, moves: ManualMove[]): { itemIndex: number; pipelineId: string } | null {
	const { code, details } = (error.errorResponse ?? {}) as { code?: unknown; details?: unknown };
	if (code !== '22023' || typeof details !== 'string' || !details.startsWith('{')) return null;
	let mark: { field?: unknown; reason?: unknown; item_index?: unknown } | null;
	try {
		mark = JSON.parse(details) as typeof mark;
	} catch {
		return null;
	}
	if (mark?.field !== 'from_pipeline_id' || mark.reason !== 'stage_in_pipeline_left' || !Number.isSafeInteger(mark.item_index)) return null;
	const itemIndex = mark.item_index as number;
	const pipelineId = moves[itemIndex]?.from_pipeline_id;
	return pipelineId ? { itemIndex, pipelineId } : null;
}

/**
 * pipeline_move's refusal of a stage by name with no pipeline to look it in
 * (`p_items[0].pipeline_id: required with stage_name, the contact is in 0 pipelines`) in the node's
 * words: Pipeline, and the stage's ID. Its position is kept, so the batch names the input item, and
 * its code (22023: invalid_input, a 400 on the contact-move webhook).
 */
function inMoveFieldWords(context: IExecuteFunctions, error: unknown, moves: ManualMove[]): unknown {
	if (!(error instanceof NodeApiError)) return error;
	const raw = (error.errorResponse as { message?: unknown } | undefined)?.message;
	// A From Pipeline that is the stage's own pipeline (22023: invalid_input, a 400 on the webhook;
	// migration …2340), known by the DETAIL's mark, never by the message's words. A stage by name
	// without Pipeline is looked up in the contact's one pipeline: the one it would leave.
	const leaving = leavingOwnPipeline(error, moves);
	if (leaving) {
		return new NodeApiError(context.getNode(), error.errorResponse ?? {}, {
			message: `p_items[${leaving.itemIndex}]: the stage is in From Pipeline ${leaving.pipelineId}, the pipeline it would leave`,
			description:
				'Give pipelineId (the pipeline whose stage to move the contact to; the node\'s Pipeline) or a stage of another pipeline, or leave fromPipelineId (From Pipeline) empty to move the contact within this pipeline.',
		});
	}
	// A From Pipeline the contact is not in (P0002: not_found, a 404 on the contact-move webhook).
	const notIn = typeof raw === 'string' ? /^(p_items\[\d+\])\.from_pipeline_id: the contact is not in pipeline (\S+)$/.exec(raw) : null;
	if (notIn) {
		return new NodeApiError(context.getNode(), error.errorResponse ?? {}, {
			message: `${notIn[1]}: the contact is not in From Pipeline ${notIn[2]}`,
			description: 'Choose a pipeline the contact is in to take it out of (a webhook caller sends {"fromPipelineId": "…"}), or leave From Pipeline empty.',
		});
	}
	// A contact not of the given owner (P0002, migration …2640; the same words for nobody's): as a tool,
	// the advice for whoever can act, by the names they know (the database's hint names Move's
	// fields as the editor shows them: the model knows them by their $fromAI keys, and an owner set
	// in the tool's settings is not the model's to check).
	if (runsAsTool(context) && typeof raw === 'string' && /^p_items\[\d+\]\.conversation_id: conversation \S+ does not exist for owner \S+$/.test(raw)) {
		const contact = fieldAsKnown(context, 'conversationId', 'Conversation ID (conversationId)');
		const ownerKey = fromAIKey(context, 'ownerUserId') ?? 'Owner User ID (ownerUserId)';
		const modelOwner = filledByModel(context, 'ownerUserId');
		// The contact too is advice for whoever fills it: at its {{ $json.conversation_id }} default or
		// set in the tool's settings, the model cannot give another one (review RM5 2).
		const description = filledByModel(context, 'conversationId')
			? modelOwner
				? `Give the id of one of this owner's contacts as ${contact}; if that contact is the one you mean, check the owner you gave as ${ownerKey}.`
				: `This tool moves only the contacts of the owner set in its settings: give the id of one of them as ${contact}. Another owner's contact cannot be moved with this tool.`
			: modelOwner
				? `The contact is set in this tool's settings (Conversation ID), not given by you: check the owner you gave as ${ownerKey}; if it is right, this contact cannot be moved with this tool.`
				: "The contact (Conversation ID) and its owner (Owner User ID) are both set in this tool's settings, and the contact is not that owner's: this tool cannot move it. Set Conversation ID or Owner User ID in the tool's settings so they agree, or let the model give the contact with $fromAI.";
		return new NodeApiError(context.getNode(), error.errorResponse ?? {}, { message: error.message, description });
	}
	const refused = typeof raw === 'string' ? /^(p_items\[\d+\])\.pipeline_id: required with stage_name, the contact is in (\d+) pipelines$/.exec(raw) : null;
	if (!refused) return error;
	const [, position, count] = refused;
	const none = count === '0';
	return new NodeApiError(context.getNode(), error.errorResponse ?? {}, {
		message: `${position}: Pipeline is empty and the contact is in ${none ? 'no pipeline' : `${count} pipelines`}`,
		description: none
			? 'Choose a Pipeline to look the stage name up in (the contact is placed in it; a webhook caller sends {"pipelineId": "…"}), or give the stage\'s ID.'
			: 'Choose which of its pipelines the stage name is in (a webhook caller sends {"pipelineId": "…"}), or give the stage\'s ID.',
	});
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await applyStageChanges(
		this,
		(itemIndex) => readMove(this, itemIndex),
		async (moves) => {
			try {
				// Each row says who moved, as the history names them (actor, actor_id: null when not given),
				// so a caller (the contact-move webhook's answer) can say it back.
				const rows = await callRpc(this, 'pipeline_move', { p_items: moves });
				return rows.map((row) => ({ ...row, actor: moves[row.item_index].actor, actor_id: moves[row.item_index].actor_id ?? null }));
			} catch (error) {
				throw inMoveFieldWords(this, error, moves);
			}
		},
	);
}
