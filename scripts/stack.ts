// `npm run stack [-- --fresh] [-- --json] [-- --port N]`: the local Supabase-compatible stack.
// With --json, run it as `npm run -s stack -- --json`: stdout is then the one JSON line (without -s,
// npm prints its own `> n8n-nodes-leadflow@… stack` lines there first).
// Keeps its database in `.stack/` (ignored by git) between runs; runs until Ctrl-C / SIGTERM and
// then stops every process it started.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startStack } from '../stack';
import { changedMigrationsWarning } from '../stack/migrations';
import { isPortTaken } from '../stack/ports';

async function main() {
	const { values } = parseArgs({
		options: {
			fresh: { type: 'boolean', default: false },
			json: { type: 'boolean', default: false },
			port: { type: 'string' },
			'db-port': { type: 'string' },
			'data-dir': { type: 'string' },
		},
	});
	// The Supabase CLI's ports, so that URLs saved in n8n credentials stay valid between runs.
	const port = portOption('--port', values.port, 54321);
	const dbPort = portOption('--db-port', values['db-port'], 54322);
	const log = values.json ? undefined : (line: string) => console.error(line);
	const stack = await startStack({
		dataDir: values['data-dir'] ?? path.resolve(__dirname, '..', '.stack'),
		fresh: values.fresh,
		port,
		dbPort,
		log: (line) => (line.startsWith('applied ') ? log?.(`  ${line}`) : undefined),
	});
	// On stderr, so that --json still prints exactly one line on stdout.
	const warning = changedMigrationsWarning(stack.migrations.changed, 'stack');
	if (warning) console.error(`${warning}\n`);
	const info = {
		supabaseUrl: stack.supabaseUrl,
		anonKey: stack.anonKey,
		serviceRoleKey: stack.serviceRoleKey,
		jwtSecret: stack.jwtSecret,
		dbUrl: stack.dbUrl,
		dataDir: stack.dataDir,
		...(stack.dataDirNote ? { dataDirNote: stack.dataDirNote } : {}),
	};
	if (values.json) {
		process.stdout.write(JSON.stringify(info) + '\n');
	} else {
		for (const note of [stack.dataDirNote, stack.binariesNote]) if (note) console.log(note);
		console.log(`
Local Supabase-compatible stack is running (data in ${stack.dataDir}).
  Project URL       ${info.supabaseUrl}          (Data API: ${info.supabaseUrl}/rest/v1)
  anon key          ${info.anonKey}
  service_role key  ${info.serviceRoleKey}
  JWT secret        ${info.jwtSecret}
  Postgres          ${info.dbUrl}
Migrations: ${stack.migrations.applied.length} applied now, ${stack.migrations.alreadyApplied.length} already applied${stack.migrations.changed.length ? `, ${stack.migrations.changed.length} of them changed since (see the warning above)` : ''}.
In n8n, create a "Leadflow Supabase API" credential with the project URL and the service_role key.
Press Ctrl-C to stop.`);
	}

	let stopping = false;
	const shutdown = async () => {
		if (stopping) return;
		stopping = true;
		await stack.stop();
		process.exit(0);
	};
	process.on('SIGINT', shutdown);
	process.on('SIGTERM', shutdown);
}

function portOption(flag: string, value: string | undefined, fallback: number): number {
	const port = value === undefined ? fallback : Number(value);
	if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`${flag} must be a TCP port number, got "${value}".`);
	return port;
}

main().catch((error) => {
	const message = error instanceof Error ? error.message : String(error);
	console.error(`stack: ${message}`);
	if (isPortTaken(error)) {
		console.error('A port is taken (another `npm run stack` still running?): stop it, or choose others with --port and --db-port.');
	}
	process.exit(1);
});
