// An owner's lead queue for the Queue Ledger tests, built through the database's own API and read
// straight from Postgres; and a small workflow around the node (Manual Trigger → Set → Split Out →
// Queue Ledger) run with n8n's engine in-process.
//
// Time: the node reaches the database as n8n does, at the real clock. Every owner here sends all
// day, every day, in UTC, and its messages are prepared for a day that is already over (queue_prepare
// with p_now two days back, through the test clock header), so they are due whatever the real date
// and hour: no test depends on them.
import { randomUUID } from 'node:crypto';
import type { IDataObject } from 'n8n-workflow';
import type { AddLeadsResult, NewLead, PrepareResult } from '../../../../nodes/shared/contract';
import { runWorkflow, type RunResult, type TestCredentials, type WorkflowJson } from '../../../harness';
import { createTestUser, serviceClient, testStack, withDb } from '../../../helpers/stack';

export const DAY_MS = 86_400_000;

export interface QueueSettings {
	daily_capacity?: number;
	max_attempts?: number;
	retry_backoff_seconds?: number;
	message?: IDataObject;
}

/** A new owner with queue settings: every day, all day, UTC. */
export async function queueOwner(settings: QueueSettings = {}): Promise<string> {
	const owner = await createTestUser('queue');
	await withDb((db) =>
		db.query(
			`insert into public.user_queue_settings (user_id, daily_capacity, send_from, send_until, time_zone, days_of_week, max_attempts, retry_backoff_seconds, message)
			 values ($1, $2, '00:00', '24:00', 'UTC', '{1,2,3,4,5,6,7}', $3, $4, $5)`,
			[owner, settings.daily_capacity ?? 100, settings.max_attempts ?? 3, settings.retry_backoff_seconds ?? 60, JSON.stringify(settings.message ?? { type: 'text', text: 'Hi {{name}}, thanks for your interest!' })],
		),
	);
	return owner;
}

let phoneCounter = Math.floor(Math.random() * 1_000_000);

/** A distinct, valid UK mobile number in E.164. */
export function ukMobile(): string {
	phoneCounter = (phoneCounter + 1) % 1_000_000;
	return `+4478537${String(phoneCounter).padStart(6, '0')}`;
}

export async function addLeads(leads: NewLead[]): Promise<AddLeadsResult[]> {
	const { data, error } = await serviceClient().rpc('queue_add_leads', { p_items: leads });
	if (error) throw new Error(`queue_add_leads: ${error.message}`);
	return data as AddLeadsResult[];
}

/** `count` new leads of the owner, each with a phone. */
export async function leadsOf(owner: string, count: number, name = (index: number) => `Lead ${index}`): Promise<Array<{ leadId: string; phone: string; name: string }>> {
	const leads = Array.from({ length: count }, (_, index) => ({ user_id: owner, name: name(index), phone: ukMobile(), source: 'test' }));
	const rows = await addLeads(leads);
	return rows.map((row) => ({ leadId: row.lead_id, phone: leads[row.item_index].phone, name: leads[row.item_index].name }));
}

/** The owner's queue prepared as of `daysAgo` days back: its tomorrow is then a day that is over (for 2 or more). */
export async function prepareAsOf(owner: string, daysAgo: number): Promise<PrepareResult> {
	const { data, error } = await serviceClient({ now: new Date(Date.now() - daysAgo * DAY_MS) }).rpc('queue_prepare', { p_user_id: owner });
	if (error) throw new Error(`queue_prepare: ${error.message}`);
	return (data as PrepareResult[])[0];
}

/** The owner's queue prepared for a day that is over, so every message is due now. */
export const prepareDue = (owner: string) => prepareAsOf(owner, 2);

export interface QueueRow {
	id: string;
	lead_id: string;
	status: string;
	attempts: number;
	message_id: string | null;
	last_error: IDataObject | null;
	lease_holder: string | null;
	scheduled_for: string;
	day: string;
}

export const messagesOf = (owner: string) =>
	withDb(async (db) => (await db.query<QueueRow>('select id, lead_id, status, attempts, message_id, last_error, lease_holder, scheduled_for, day::text from public.whatsapp_message_queue where user_id = $1 order by id', [owner])).rows);

export const leadStatus = (leadId: string) => withDb(async (db) => (await db.query<{ status: string }>('select status from public.leads where id = $1', [leadId])).rows[0]?.status);

export const ledgerOf = (owner: string) =>
	withDb(async (db) => (await db.query<{ queue: string; item_id: string; from_status: string | null; to_status: string; actor: string; reason: string | null }>('select queue, item_id, from_status, to_status, actor, reason from public.queue_ledger where user_id = $1 order by id', [owner])).rows);

export const supabaseCredentials = (): TestCredentials => ({ leadflowSupabaseApi: { url: testStack().supabaseUrl, serviceRoleKey: testStack().serviceRoleKey } });

export const whatsappCredentials = (baseUrl: string, phoneNumberId = '106540352242922', accessToken = 'EAAG-queue-token'): TestCredentials => ({
	leadflowWhatsAppApi: { phoneNumberId, accessToken, graphApiVersion: 'v25.0', baseUrl },
});

/** continueOnFail: the node's On Error "continue"; retryOnFail: its Retry On Fail, 3 tries 10 ms apart (as workflows/queue-run.json, faster). */
export interface QueueNodeSettings {
	continueOnFail?: boolean;
	retryOnFail?: boolean;
}

export function queueWorkflow(entries: IDataObject[], parameters: IDataObject, settings: QueueNodeSettings = {}): WorkflowJson {
	return {
		name: 'Queue Ledger fixture',
		nodes: [
			{ id: 'q1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			{ id: 'q2', name: 'Entries', type: 'n8n-nodes-base.set', typeVersion: 3.4, position: [200, 0], parameters: { mode: 'raw', jsonOutput: JSON.stringify({ entries }), options: {} } },
			{ id: 'q3', name: 'One Per Entry', type: 'n8n-nodes-base.splitOut', typeVersion: 1, position: [400, 0], parameters: { fieldToSplitOut: 'entries', options: {} } },
			{
				id: 'q4',
				name: 'Queue',
				type: 'n8n-nodes-leadflow.queueLedger',
				typeVersion: 1,
				position: [600, 0],
				parameters,
				credentials: { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } },
				...(settings.continueOnFail && { onError: 'continueRegularOutput' }),
				...(settings.retryOnFail && { retryOnFail: true, maxTries: 3, waitBetweenTries: 10 }),
			},
		],
		connections: {
			Start: { main: [[{ node: 'Entries', type: 'main', index: 0 }]] },
			Entries: { main: [[{ node: 'One Per Entry', type: 'main', index: 0 }]] },
			'One Per Entry': { main: [[{ node: 'Queue', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}

export interface QueueRun {
	result: RunResult;
	/** Every output of the node: [main, Invalid] for Add Leads, [main] otherwise. */
	outputs: IDataObject[][];
}

export async function runQueue(entries: IDataObject[], parameters: IDataObject, credentials: TestCredentials = supabaseCredentials(), settings: QueueNodeSettings = {}): Promise<QueueRun> {
	const result = await runWorkflow(queueWorkflow(entries, parameters, settings), { credentials });
	return { result, outputs: result.nodeBranches.Queue ?? [] };
}

export const uuid = () => randomUUID();

/** Manual Trigger → Claim → Send → Complete, as workflows/queue-run.json chains them, for one owner. */
export function chainWorkflow(owner: string, options: { limit?: number; send?: IDataObject; worker?: string } = {}): WorkflowJson {
	const credentials = { leadflowSupabaseApi: { id: 'supabase', name: 'Supabase' }, leadflowWhatsAppApi: { id: 'whatsapp', name: 'WhatsApp' } };
	const step = (id: string, name: string, x: number, parameters: IDataObject) => ({ id, name, type: 'n8n-nodes-leadflow.queueLedger', typeVersion: 1, position: [x, 0], parameters, credentials });
	return {
		name: 'Queue chain fixture',
		nodes: [
			{ id: 'c1', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
			step('c2', 'Claim', 200, { resource: 'message', operation: 'claim', limit: options.limit ?? 50, ownerUserId: owner, options: options.worker ? { worker: options.worker } : {} }),
			step('c3', 'Send', 400, { resource: 'message', operation: 'send', options: options.send ?? {} }),
			step('c4', 'Complete', 600, { resource: 'message', operation: 'complete' }),
		],
		connections: {
			Start: { main: [[{ node: 'Claim', type: 'main', index: 0 }]] },
			Claim: { main: [[{ node: 'Send', type: 'main', index: 0 }]] },
			Send: { main: [[{ node: 'Complete', type: 'main', index: 0 }]] },
		},
		settings: { executionOrder: 'v1' },
	} as WorkflowJson;
}
