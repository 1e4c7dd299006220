// The environment n8n runs with in the end-to-end tests and `npm run editor`: a clean one (no N8N_*
// or DB_* settings leak in from the developer's shell or from the in-process harness), loopback
// only, no telemetry, this Node first on PATH, and ports of its own so that parallel runs and a
// developer's n8n do not collide. NODE_ENV=production as in n8n's official image: without it n8n
// counts as in development and puts stack traces in its own error answers (a body it cannot parse).
import path from 'node:path';

export interface N8nPorts {
	http: number;
	taskBroker: number;
}

const KEPT = ['HOME', 'TMPDIR', 'LANG', 'TZ'];

export function n8nEnvironment(userFolder: string, ports: N8nPorts, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {};
	for (const name of KEPT) if (process.env[name] !== undefined) env[name] = process.env[name];
	return {
		...env,
		PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
		NODE_ENV: 'production',
		N8N_USER_FOLDER: userFolder,
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: '127.0.0.1',
		N8N_PROTOCOL: 'http',
		N8N_PORT: String(ports.http),
		WEBHOOK_URL: `http://127.0.0.1:${ports.http}/`,
		N8N_RUNNERS_MODE: 'internal',
		N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
		N8N_RUNNERS_BROKER_PORT: String(ports.taskBroker),
		DB_TYPE: 'sqlite',
		EXECUTIONS_DATA_SAVE_ON_SUCCESS: 'all',
		EXECUTIONS_DATA_SAVE_ON_ERROR: 'all',
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
		N8N_SECURE_COOKIE: 'false',
		N8N_LOG_LEVEL: 'info',
		...extra,
	};
}
