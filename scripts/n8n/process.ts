// Child processes run with the project's Node 24 first on PATH (n8n 2.x needs Node 24, and npm's
// own scripts must build native addons for it), with their output kept for error messages.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The environment for npm and n8n's children: this Node first on PATH, no prompts. */
export function node24Env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
	return {
		...process.env,
		PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
		npm_config_yes: 'true',
		npm_config_update_notifier: 'false',
		npm_config_fund: 'false',
		npm_config_audit: 'false',
		...extra,
	};
}

export function assertNode24() {
	const major = Number(process.versions.node.split('.')[0]);
	if (major < 24) {
		throw new Error(
			`n8n 2.x needs Node 24, this is Node ${process.versions.node}. Run through npm (\`npm run test:e2e\`) or put ` +
				'the project\'s Node first on PATH: PATH=$PWD/node_modules/.bin:$PATH.',
		);
	}
}

const running = new Set<ChildProcess>();

/**
 * Ends the commands `run` is still waiting for (npm installing n8n, n8n's CLI importing), e.g. when
 * `npm run editor` is stopped during its set-up; their `run` then rejects.
 */
export function stopRunningCommands(signal: NodeJS.Signals = 'SIGTERM'): void {
	for (const child of running) child.kill(signal);
}

export function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; log?: (line: string) => void }) {
	return new Promise<void>((resolve, reject) => {
		const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
		running.add(child);
		let tail = '';
		const collect = (chunk: Buffer) => {
			const text = chunk.toString('utf8');
			tail = (tail + text).slice(-4000);
			options.log?.(text.trimEnd());
		};
		child.stdout.on('data', collect);
		child.stderr.on('data', collect);
		child.once('error', (error) => {
			running.delete(child);
			reject(error);
		});
		child.once('exit', (code, signal) => {
			running.delete(child);
			if (code === 0) resolve();
			else reject(new Error(`\`${command} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`}) in ${options.cwd}:\n${tail}`));
		});
	});
}

