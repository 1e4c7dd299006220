// `npm run simulators`: the Gemini and Graph simulators on loopback until Ctrl-C.
//   --gemini-port N   (default: any free port)
//   --graph-port N    (default: any free port)
//   --json            print one line {"geminiBaseUrl","graphBaseUrl"} once ready, for scripts
//                     (`npm run -s simulators -- --json`: without -s, npm's own lines come first)
import { parseArgs } from 'node:util';
import { startSimulators } from '../simulators';

function portOption(value: string | undefined, flag: string): number | undefined {
	if (value === undefined) return undefined;
	const port = Number(value);
	if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`${flag} must be a port number (0–65535), got "${value}"`);
	return port;
}

function banner(geminiBaseUrl: string, graphBaseUrl: string): string {
	return [
		'Leadflow service simulators (loopback only; any credentials are accepted unless configured)',
		'',
		`  Gemini API   ${geminiBaseUrl}   POST /v1beta/models/{model}:generateContent  (x-goog-api-key)`,
		`  Graph API    ${graphBaseUrl}   POST /v25.0/{page-id|me}/messages, GET /v25.0/me  (access_token)`,
		`               WhatsApp Cloud API: POST /v25.0/{phone-number-id}/messages, GET /v25.0/{phone-number-id}  (Bearer token)`,
		'',
		'Control routes on both (JSON):',
		'  GET  /__sim/requests            the request log      DELETE /__sim/requests  clear it',
		'  POST /__sim/faults              add a fault rule     GET/DELETE /__sim/faults',
		'  POST /__sim/latency {ms,path?}  add latency          POST /__sim/release     answer held requests',
		'  POST /__sim/config              keys/models (Gemini), pageTokens/appSecret (Graph)',
		'  POST /__sim/window              Graph: {recipient, lastCustomerMessageAt}   GET /__sim/messages',
		'  POST /__sim/whatsapp/config     Graph: {phoneNumbers, templates, notOnWhatsApp}   GET /__sim/whatsapp/messages',
		'  POST /__sim/reset               back to a fresh start',
		'',
		'Ctrl-C to stop.',
	].join('\n');
}

async function main() {
	const { values } = parseArgs({
		options: {
			'gemini-port': { type: 'string' },
			'graph-port': { type: 'string' },
			json: { type: 'boolean', default: false },
		},
	});
	const simulators = await startSimulators({
		geminiPort: portOption(values['gemini-port'], '--gemini-port'),
		graphPort: portOption(values['graph-port'], '--graph-port'),
	});

	let stopping = false;
	const shutdown = () => {
		if (stopping) return;
		stopping = true;
		simulators.stop().then(
			() => process.exit(0),
			(error: unknown) => {
				console.error(error);
				process.exit(1);
			},
		);
	};
	process.on('SIGINT', shutdown);
	process.on('SIGTERM', shutdown);

	const { gemini, graph } = simulators;
	if (values.json) console.log(JSON.stringify({ geminiBaseUrl: gemini.baseUrl, graphBaseUrl: graph.baseUrl }));
	else console.log(banner(gemini.baseUrl, graph.baseUrl));
}

main().catch((error: unknown) => {
	console.error(error instanceof Error ? error.message : error);
	process.exit(1);
});
