// The CRM pipeline part of the demo's data: the demo owner's second Page ("course enquiries") with
// 40 Messenger conversations of six kinds, a five-stage pipeline with auto-assignment on for that
// Page, and two automations. What the model answers for each kind of conversation is scripted in
// the Gemini simulator (a fault rule matched on the prompt), so where each contact lands is known.
import type { Client } from 'pg';
import type { FaultRule, RunningSimulators } from '../../simulators';
import { addContacts, createTags, type Owner } from './seed';

/** The Page the pipeline's conversations come in on (the follow-up data set uses the owner's first). */
export const PIPELINE_PAGE_ID = '104857600067890';
export const PIPELINE_NAME = 'Course sales';

export const STAGES = [
	{ name: 'New Lead', min: 0, max: 30, statuses: [] as string[], isDefault: true },
	{ name: 'Qualified', min: 31, max: 69, statuses: [] },
	{ name: 'Hot', min: 70, max: 100, statuses: [] },
	{ name: 'Won', min: null, max: null, statuses: ['WON'] },
	{ name: 'Lost', min: null, max: null, statuses: ['LOST'] },
];

interface ScriptedAnalysis {
	lead_status: string;
	lead_score: number;
	confidence: number;
	recommended_stage: string | null;
	summary: string;
	reasoning: string;
}

interface ConversationKind {
	label: string;
	count: number;
	/** The conversation, oldest first: [direction, text]; the last customer message is `minutesAgo` old. */
	messages: Array<['inbound' | 'outbound', string]>;
	minutesAgo: number;
	/** What the model answers; 'blocked' when it refuses the conversation (the node falls back). */
	model: ScriptedAnalysis | 'blocked';
}

/** Each kind's last customer message is what its scripted answer is matched on. */
export const KINDS: ConversationKind[] = [
	{
		label: 'Browser',
		count: 12,
		messages: [['inbound', 'Hi, just looking around your page']],
		minutesAgo: 300,
		model: { lead_status: 'NEW', lead_score: 12, confidence: 70, recommended_stage: 'New Lead', summary: 'Said hello, nothing more.', reasoning: 'Only greeted the page; no question about the course yet.' },
	},
	{
		label: 'Price asker',
		count: 10,
		messages: [['inbound', 'How much is the course?'], ['outbound', 'It is 290 EUR for eight weeks, starting on the 1st.'], ['inbound', 'Thanks, I will think about it']],
		minutesAgo: 120,
		model: { lead_status: 'CONTACTED', lead_score: 48, confidence: 80, recommended_stage: 'Qualified', summary: 'Knows the price, undecided.', reasoning: 'Asked the price and got it; thinking it over, no objection raised.' },
	},
	{
		label: 'Ready buyer',
		count: 8,
		messages: [['inbound', 'Is there still a place in the March group?'], ['outbound', 'Yes, three places left.'], ['inbound', 'Great, can I pay by card today?']],
		minutesAgo: 30,
		model: { lead_status: 'NEGOTIATING', lead_score: 86, confidence: 90, recommended_stage: 'Hot', summary: 'Wants to pay today.', reasoning: 'Asked for a place and how to pay today: ready to buy.' },
	},
	{
		label: 'Student',
		count: 5,
		messages: [['inbound', 'Done, I paid the invoice. See you on Monday!']],
		minutesAgo: 60,
		model: { lead_status: 'WON', lead_score: 97, confidence: 95, recommended_stage: 'Won', summary: 'Paid, starts Monday.', reasoning: 'Confirmed the payment and the start date.' },
	},
	{
		label: 'Declined',
		count: 3,
		messages: [['inbound', 'How much is it?'], ['outbound', 'It is 290 EUR.'], ['inbound', 'Too expensive for me, no thanks']],
		minutesAgo: 200,
		model: { lead_status: 'LOST', lead_score: 5, confidence: 85, recommended_stage: 'Lost', summary: 'Declined on price.', reasoning: 'Said the course is too expensive and declined.' },
	},
	{
		label: 'Unreadable',
		count: 2,
		messages: [['inbound', '???? !!!! ####']],
		minutesAgo: 2 * 24 * 60,
		model: 'blocked',
	},
];

export const CONTACTS = KINDS.reduce((sum, kind) => sum + kind.count, 0);

export interface PipelineDataSet {
	pipelineId: string;
	/** Stage ids by name. */
	stages: Record<string, string>;
	automations: Array<{ id: string; name: string }>;
	/** The tag the Hot automation adds. */
	hotTag: string;
	conversationIds: string[];
}

/** The pipeline, its stages, the Page's auto-assignment, two automations and the 40 conversations. */
export async function seedPipelineDemo(db: Client, owner: Owner): Promise<PipelineDataSet> {
	const page: Owner = { userId: owner.userId, pageId: PIPELINE_PAGE_ID };
	const pipeline = await db.query<{ id: string }>(`insert into public.pipelines (user_id, name, description) values ($1, $2, 'Enquiries about the course, from first message to paid') returning id`, [owner.userId, PIPELINE_NAME]);
	const pipelineId = pipeline.rows[0].id;
	const stageRows = await db.query<{ id: string; name: string }>(
		`insert into public.pipeline_stages (user_id, pipeline_id, name, stage_order, lead_score_min, lead_score_max, lead_statuses, is_default)
		 select $1, $2, s.name, s.ord, s.min, s.max, s.statuses, coalesce(s.is_default, false)
		   from jsonb_to_recordset($3::jsonb) as s (name text, ord integer, min integer, max integer, statuses text[], is_default boolean)
		 returning id, name`,
		[owner.userId, pipelineId, JSON.stringify(STAGES.map((stage, index) => ({ ...stage, ord: index + 1, is_default: stage.isDefault ?? false })))],
	);
	const stages = Object.fromEntries(stageRows.rows.map((row) => [row.name, row.id]));
	await db.query(`insert into public.pipeline_page_settings (user_id, page_id, pipeline_id, update_mode) values ($1, $2, $3, 'UPDATE_EXISTING')`, [owner.userId, PIPELINE_PAGE_ID, pipelineId]);

	const tags = await createTags(db, owner, ['Ready to buy']);
	const specs = [
		{
			name: 'Hot: tag and alert sales',
			conditions: { to_stage_id: stages.Hot },
			actions: [{ type: 'add_tag', tag_id: tags['Ready to buy'] }, { type: 'notify', message: 'A lead is ready to buy: call them today', channel: 'sales' }],
		},
		{
			name: 'Won: stop follow-ups, tell billing',
			conditions: { to_stage_id: stages.Won },
			actions: [{ type: 'stop_follow_up' }, { type: 'webhook', url: 'https://billing.example.test/new-student' }],
		},
	];
	const automations: PipelineDataSet['automations'] = [];
	for (const spec of specs) {
		const { rows } = await db.query<{ id: string }>(
			`insert into public.pipeline_automations (user_id, pipeline_id, name, trigger_type, trigger_conditions, actions) values ($1, $2, $3, 'STAGE_CHANGED', $4, $5) returning id`,
			[owner.userId, pipelineId, spec.name, JSON.stringify(spec.conditions), JSON.stringify(spec.actions)],
		);
		automations.push({ id: rows[0].id, name: spec.name });
	}

	const conversationIds: string[] = [];
	for (const kind of KINDS) {
		const { conversationIds: ids } = await addContacts(db, page, { label: kind.label, count: kind.count, tagIds: [], lastMessageMinutesAgo: null });
		// The conversation's messages a minute apart, the last customer message `minutesAgo` old (the
		// messages trigger keeps last_customer_message_at, as a real inbound webhook would).
		await db.query(
			`insert into public.messenger_messages (user_id, conversation_id, direction, text, sent_at)
			 select $1, c, m.direction, m.text, now() - make_interval(mins => $4::int + $5::int - m.n)
			   from unnest($2::uuid[]) c
			  cross join jsonb_to_recordset($3::jsonb) as m (n integer, direction text, text text)`,
			[owner.userId, ids, JSON.stringify(kind.messages.map(([direction, text], index) => ({ n: index + 1, direction, text }))), kind.minutesAgo, kind.messages.length],
		);
		conversationIds.push(...ids);
	}
	return { pipelineId, stages, automations, hotTag: tags['Ready to buy'], conversationIds };
}

/** The model's scripted answers (matched on each kind's last customer message); returns what removes them. */
export async function scriptAnalyses(simulators: RunningSimulators): Promise<() => Promise<void>> {
	const added: FaultRule[] = [];
	for (const kind of KINDS) {
		const [, lastCustomerText] = [...kind.messages].reverse().find(([direction]) => direction === 'inbound')!;
		const effect = kind.model === 'blocked' ? { kind: 'blocked' as const } : { kind: 'text' as const, text: JSON.stringify(kind.model) };
		added.push(await simulators.gemini.control.addFault({ match: { prompt: lastCustomerText }, effect }));
	}
	return async () => {
		await Promise.all(added.map((fault) => simulators.gemini.control.removeFault(fault.id)));
	};
}
