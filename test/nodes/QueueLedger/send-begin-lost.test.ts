// Migration 20261201002810 (task MF1, review RF1 of 20261201002770): queue_begin_send saved by the
// database, its answer lost on the way back (a reset connection, a gateway's 502). Before, Send
// reported the group `released not_checked` without taking back the marks the lost call had set,
// Complete's releases were refused (already_sending), and the messages ended dead `uncertain` at
// their lease's end though nothing had been sent (their leads left `queued`, their backlog items dead).
// Now Send repeats the call with its own key (the repeat answers send again for what that key began)
// and, if it still fails, takes back that call's marks by the key before it reports.
// Through n8n's engine against the local stack (behind a proxy that loses answers) and the Graph
// simulator's WhatsApp Cloud API.
import http from 'node:http';
import type { IDataObject } from 'n8n-workflow';
import { startSimulators, type RunningSimulators } from '../../../simulators';
import { runWorkflow } from '../../harness';
import { testStack, withDb } from '../../helpers/stack';
import { chainWorkflow, leadStatus, leadsOf, messagesOf, prepareDue, queueOwner, supabaseCredentials, whatsappCredentials } from './support/queue';

const PHONE_NUMBER_ID = '106540352242922';
const TOKEN = 'EAAG-queue-token';
let sims: RunningSimulators;
let proxy: http.Server;
let proxyUrl = '';
/** How many of the next queue_begin_send answers the proxy loses after the database answered, and how. */
let lose = { count: 0, as: 'reset' as 'reset' | 'gateway' };
let beginCalls = 0;

beforeAll(async () => {
	sims = await startSimulators();
	const upstream = new URL(testStack().supabaseUrl);
	proxy = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
				const body: Buffer[] = [];
				answer.on('data', (chunk: Buffer) => body.push(chunk));
				answer.on('end', () => {
					if (req.url?.includes('/rpc/queue_begin_send')) {
						beginCalls++;
						if (lose.count > 0) {
							lose.count--;
							// The database did it (committed); its answer never reaches n8n.
							if (lose.as === 'reset') req.socket.destroy();
							else {
								res.writeHead(502, { 'content-type': 'text/html' });
								res.end('<html><body>502 Bad Gateway</body></html>');
							}
							return;
						}
					}
					res.writeHead(answer.statusCode ?? 500, answer.headers);
					res.end(Buffer.concat(body));
				});
			});
			up.end(Buffer.concat(chunks));
		});
	});
	await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
	proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
});

afterAll(async () => {
	await sims.stop();
	await new Promise((resolve) => proxy.close(resolve));
});

beforeEach(async () => {
	lose = { count: 0, as: 'reset' };
	beginCalls = 0;
	await sims.graph.control.reset();
	await sims.graph.control.configureWhatsApp({ phoneNumbers: { [PHONE_NUMBER_ID]: TOKEN } });
});

const throughProxy = () => ({ leadflowSupabaseApi: { url: proxyUrl, serviceRoleKey: testStack().serviceRoleKey }, ...whatsappCredentials(sims.graph.baseUrl, PHONE_NUMBER_ID, TOKEN) });
const outcomes = (run: Awaited<ReturnType<typeof runWorkflow>>, node: string) => (run.nodeOutputs[node] ?? []) as IDataObject[];

test("the first answer lost (a reset connection): the call repeated with its key answers send, each message goes out once and is recorded sent", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	lose = { count: 1, as: 'reset' };
	const run = await runWorkflow(chainWorkflow(owner), { credentials: throughProxy() });
	expect(run.error).toBeUndefined();
	expect(beginCalls).toBe(2);
	// Before: released not_checked (the repeat, without a key, was never made), nothing sent.
	expect(outcomes(run, 'Send').map((one) => one.outcome)).toEqual(['sent', 'sent', 'sent']);
	const sent = await sims.graph.control.whatsappMessages();
	expect(sent.map((message) => message.to).sort()).toEqual(leads.map((lead) => lead.phone).sort());
	expect(outcomes(run, 'Complete').map((one) => [one.accepted, one.status])).toEqual(Array(3).fill([true, 'sent']));
}, 120_000);

test("every answer lost (a gateway's 502, repeats too): the messages are given back, nothing sent, and the next run sends them", async () => {
	const owner = await queueOwner({ message: { type: 'text', text: 'Hi {{name}}' } });
	const leads = await leadsOf(owner, 3);
	await prepareDue(owner);
	lose = { count: 100, as: 'gateway' };
	const run = await runWorkflow(chainWorkflow(owner), { credentials: throughProxy() });
	expect(run.error).toBeUndefined();
	// The call and its repeats, all saved by the database, none answered.
	expect(beginCalls).toBeGreaterThan(1);
	expect(outcomes(run, 'Send').map((one) => [one.outcome, (one.error as IDataObject)?.code])).toEqual(Array(3).fill(['released', 'not_checked']));
	// Before: refused already_sending, the messages left claimed and begun.
	expect(outcomes(run, 'Complete').map((one) => [one.accepted, one.status, one.reason])).toEqual(Array(3).fill([true, 'queued', null]));
	expect(await sims.graph.control.whatsappMessages()).toEqual([]);
	for (const message of await messagesOf(owner)) expect(message).toMatchObject({ status: 'queued', attempts: 0, lease_holder: null });
	const marks = await withDb(async (db) => (await db.query('select send_started_at, begin_key from public.whatsapp_message_queue where user_id = $1', [owner])).rows);
	expect(marks).toEqual(Array(3).fill({ send_started_at: null, begin_key: null }));
	// Before: a later claim (after the lease) ended them dead uncertain. Now the next run sends them.
	const next = await runWorkflow(chainWorkflow(owner), { credentials: { ...supabaseCredentials(), ...whatsappCredentials(sims.graph.baseUrl, PHONE_NUMBER_ID, TOKEN) } });
	expect(next.error).toBeUndefined();
	expect(outcomes(next, 'Complete').map((one) => [one.accepted, one.status])).toEqual(Array(3).fill([true, 'sent']));
	expect(await sims.graph.control.whatsappMessages()).toHaveLength(3);
	for (const lead of leads) expect(await leadStatus(lead.leadId)).toBe('contacted');
}, 180_000);
