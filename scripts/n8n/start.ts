// Real n8n with this package installed the way users install community nodes: `npm pack` of the
// built package installed into the user folder's `.n8n/nodes`, credentials and workflows imported
// with n8n's CLI, the workflows with a webhook published, then `n8n start` on 127.0.0.1, ready once
// every published webhook is registered. Used by the end-to-end tests (test/e2e/support) and by
// `npm run editor` (scripts/editor.ts).
import { freePort } from '../../stack/ports';
import type { N8nInstallation } from './install';
import { n8nEnvironment } from './n8n-environment';
import { importIntoN8n, installCommunityPackage, type ImportedCredential, type N8nWorkflow } from './n8n-import';
import { spawnN8n, type N8nProcess } from './n8n-process';
import { startOnFreePorts } from './n8n-ports';
import { packTarball } from './package-tarball';
import { node24Env } from './process';
import { untilRegistered, webhookEndpoints } from './webhooks';

export interface StartWithPackageOptions {
	installation: N8nInstallation;
	/** n8n's user folder (N8N_USER_FOLDER); the caller creates it and removes it after stop(). */
	userFolder: string;
	/** Each with its `id`. */
	workflows: N8nWorkflow[];
	credentials: ImportedCredential[];
	/** Workflow ids to publish (activate); default: every workflow with an enabled Webhook node. */
	publish?: string[];
	/** n8n's HTTP port; default: any free port. */
	port?: number;
	/** Extra environment for n8n. */
	env?: Record<string, string>;
	/** How long to wait for the webhooks to be registered; default 90 s. */
	startTimeoutMs?: number;
	/** Told each step as it starts, in words. */
	onStep?: (step: string) => void;
}

export interface N8nWithPackage {
	/** `http://127.0.0.1:<port>`: the editor, `/rest`, `/webhook`. */
	baseUrl: string;
	userFolder: string;
	process: N8nProcess;
	/** Seconds spent in each step before `n8n start`. */
	setupSeconds: { pack: number; packageInstall: number; imports: number };
	/** Seconds from `n8n start` to every published webhook answering. */
	startSeconds: number;
	/** Ends n8n and every process it started. */
	stop(): Promise<void>;
}

const since = (started: number) => (performance.now() - started) / 1000;

/** The workflows n8n can activate for their webhooks. */
export function workflowsWithWebhook(workflows: N8nWorkflow[]): string[] {
	return workflows.filter((workflow) => webhookEndpoints(workflow).length > 0).map((workflow) => workflow.id);
}

export async function startN8nWithPackage(options: StartWithPackageOptions): Promise<N8nWithPackage> {
	const { installation, userFolder, workflows, credentials } = options;
	const onStep = options.onStep ?? (() => undefined);
	const publish = options.publish ?? workflowsWithWebhook(workflows);
	// The CLI imports bind no port; `n8n start` gets its own, chosen when it starts.
	const env = n8nEnvironment(userFolder, { http: options.port ?? (await freePort()), taskBroker: await freePort() }, options.env);
	const setupSeconds = { pack: 0, packageInstall: 0, imports: 0 };

	let step = performance.now();
	onStep('packing the package (npm pack)');
	const tarball = await packTarball(userFolder);
	setupSeconds.pack = since(step);

	step = performance.now();
	onStep('installing it as a community package into .n8n/nodes (npm install)');
	await installCommunityPackage(userFolder, tarball, node24Env());
	setupSeconds.packageInstall = since(step);

	step = performance.now();
	onStep(`importing ${credentials.length} credentials and ${workflows.length} workflows, publishing ${publish.length} (n8n's CLI)`);
	await importIntoN8n({ n8nBin: installation.bin, workDir: userFolder, env, workflows, credentials, publish });
	setupSeconds.imports = since(step);

	const started = performance.now();
	onStep('starting n8n (n8n start) and waiting for its webhooks');
	const endpoints = workflows.filter((workflow) => publish.includes(workflow.id)).flatMap(webhookEndpoints);
	const { n8n, baseUrl } = await startOnFreePorts({
		count: 1,
		askedHttpPort: options.port,
		spawn: ([ports]) => [spawnN8n(installation.bin, ['start'], n8nEnvironment(userFolder, ports, options.env), userFolder)],
		ready: async ([n8n], [ports]) => {
			const baseUrl = `http://127.0.0.1:${ports.http}`;
			const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
			await untilRegistered(baseUrl, endpoints, (endpoint) => {
				if (n8n.exited()) throw new Error(`n8n exited during start-up:\n${n8n.output().slice(-4000)}`);
				if (Date.now() > deadline) throw new Error(`Webhook ${endpoint.path} was not registered in time:\n${n8n.output().slice(-4000)}`);
			});
			return { n8n, baseUrl };
		},
	});
	return { baseUrl, userFolder, process: n8n, setupSeconds, startSeconds: since(started), stop: () => n8n.stop() };
}
