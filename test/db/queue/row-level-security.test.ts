// Row level security on every queue table and the metrics view, through supabase-js as each caller
// sees it: the owner (their JWT) reads their rows and writes only their leads and settings; a
// stranger's JWT sees none of them; anonymous callers reach nothing; the service role (n8n) reads
// everyone's; only the queue functions (and the triggers) write the queues and the ledger.
import { anonClient, serviceClient, userClient } from '../../helpers/stack';
import { claim, complete, NOW, preparedOwner, sent, TOMORROW } from './fixtures';

const TABLES = ['leads', 'user_queue_settings', 'lead_processing_queue', 'whatsapp_message_queue', 'queue_ledger', 'queue_performance_metrics'] as const;

let owner: string;
let stranger: string;

beforeAll(async () => {
	owner = (await preparedOwner(2)).userId;
	stranger = (await preparedOwner(2)).userId;
	for (const userId of [owner, stranger]) {
		const [item] = await claim('w-rls', userId, `${TOMORROW}T09:00:00.000Z`);
		await complete('w-rls', [sent(item)], `${TOMORROW}T09:00:00.000Z`);
	}
});

describe('row level security on the queue', () => {
	it.each(TABLES)('%s: the owner reads their rows, a stranger none of them, the service role both', async (table) => {
		const own = await userClient(owner).from(table).select('user_id');
		expect(own.error).toBeNull();
		expect(own.data!.length).toBeGreaterThan(0);
		expect(new Set(own.data!.map((row) => row.user_id))).toEqual(new Set([owner]));
		const theirs = await userClient(stranger).from(table).select('user_id').eq('user_id', owner);
		expect(theirs).toMatchObject({ error: null, data: [] });
		const both = await serviceClient().from(table).select('user_id').in('user_id', [owner, stranger]);
		expect(new Set(both.data!.map((row) => row.user_id))).toEqual(new Set([owner, stranger]));
	});

	it.each(TABLES)('%s: anonymous callers reach nothing', async (table) => {
		const { data, error } = await anonClient().from(table).select('*');
		expect(data ?? []).toEqual([]);
		expect(error?.code).toBe('42501');
	});

	it('the owner manages their leads and settings, never another owner\'s', async () => {
		const app = userClient(owner, { now: new Date(NOW) });
		const created = await app.from('leads').insert({ name: 'Walk-in', phone: '+4915112345678' }).select('user_id, status').single();
		expect(created).toMatchObject({ error: null, data: { user_id: owner, status: 'new' } });
		const forged = await app.from('leads').insert({ user_id: stranger, name: 'Forged', phone: '+4915112345679' });
		expect(forged.error?.code).toBe('42501');
		const settings = await app.from('user_queue_settings').update({ daily_capacity: 50 }).eq('user_id', owner).select('daily_capacity');
		expect(settings).toMatchObject({ error: null, data: [{ daily_capacity: 50 }] });
		const theirs = await app.from('user_queue_settings').update({ daily_capacity: 1 }).eq('user_id', stranger).select('user_id');
		expect(theirs).toMatchObject({ error: null, data: [] });
		const theirLeads = await app.from('leads').delete().eq('user_id', stranger).select('id');
		expect(theirLeads).toMatchObject({ error: null, data: [] });
	});

	it('the owner reads, never writes, the queues and the ledger; the queue functions are n8n\'s only', async () => {
		const app = userClient(owner);
		const [message] = (await app.from('whatsapp_message_queue').select('id, lead_id').eq('status', 'queued')).data!;
		expect((await app.from('whatsapp_message_queue').update({ status: 'cancelled' }).eq('id', message.id)).error?.code).toBe('42501');
		expect((await app.from('whatsapp_message_queue').delete().eq('id', message.id)).error?.code).toBe('42501');
		expect((await app.from('lead_processing_queue').update({ status: 'cancelled' }).eq('lead_id', message.lead_id)).error?.code).toBe('42501');
		for (const [fn, args] of [
			['queue_claim', { p_worker: 'me' }],
			['queue_take_lead', { p_lead_id: message.lead_id }],
			['queue_export', { p_user_id: owner, p_from: TOMORROW, p_to: TOMORROW }],
		] as const) {
			expect((await app.rpc(fn, args)).error?.code).toBe('42501');
			expect((await anonClient().rpc(fn, args)).error?.code).toBe('42501');
		}
		// The service role neither deletes queue items nor the ledger: only the functions change them.
		expect((await serviceClient().from('whatsapp_message_queue').delete().eq('id', message.id)).error?.code).toBe('42501');
	});
});
