// Runs one FacebookSend workflow in its own process, so a test can kill it mid-send (SIGKILL: no
// finally blocks, no clean-up) the way a crashed or redeployed n8n worker dies, or run several at
// once the way several workers do.
//   tsx test/nodes/FacebookSend/support/child-send.ts <job.json>   job: {items, parameters, credentials, waitForGo?}
// With `waitForGo`, the process first warms up as a running worker is: n8n's engine and the nodes
// loaded, and one standalone send to WARM_UP_PSID made (the first request of a process takes a few
// hundred ms more on its way out, modules and connections being set up); then it prints `ready` and
// waits for a line on stdin before it sends, so that several processes start sending at once.
// Its result says when each of its Send API calls left it (`starts`, epoch ms): the moment its
// request was handed whole to the socket, read from Node's `http.client.request.start` channel, so
// a test can judge the spacing the workers kept apart from the way to the simulator; and when the
// pacer let each call start (`releases`, epoch ms, from its `slotStarts` channel), the moment the
// node decided, before the process's own way to the socket.
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { runSend, WARM_UP_PSID } from './workflow';
import { slotStarts } from '../../../../nodes/FacebookSend/helpers/pacer';

async function main(): Promise<void> {
	const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
	if (job.waitForGo) {
		await runSend([{ recipient_id: WARM_UP_PSID, followUp: { message: 'warm-up' } }], { recordStages: false }, job.credentials);
		process.stdout.write('ready\n');
		const lines = createInterface({ input: process.stdin });
		await new Promise<void>((resolve) => lines.once('line', () => resolve()));
		lines.close();
	}
	const starts: number[] = [];
	const releases: number[] = [];
	subscribe(slotStarts.name, (message) => releases.push((message as { at: number }).at));
	subscribe('http.client.request.start', (message) => {
		const { request } = message as { request: ClientRequest };
		if (request.method === 'POST' && request.path.split('?')[0].endsWith('/messages')) starts.push(Date.now());
	});
	const run = await runSend(job.items, job.parameters, job.credentials);
	process.stdout.write(`${JSON.stringify({ status: run.result.status, sent: run.sent.length, failed: run.failed.map((item) => item.send), starts, releases })}\n`);
}

main().catch((error: unknown) => {
	process.stderr.write(`${String(error)}\n`);
	process.exit(1);
});
