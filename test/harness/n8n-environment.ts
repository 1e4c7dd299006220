// n8n-core keeps instance settings (an encryption key) in `$N8N_USER_FOLDER/.n8n/config` and
// creates that file the first time a node runs. Without this, a test run would write into the
// developer's own ~/.n8n. A fixed key keeps parallel test processes from disagreeing about it.
// n8n's logger would also print every node failure with its stack; a run's result carries the
// error already, so it stays quiet unless N8N_LOG_LEVEL asks otherwise.
import { tmpdir } from 'node:os';
import path from 'node:path';

const HARNESS_USER_FOLDER = path.join(tmpdir(), 'leadflow-harness-n8n');
const HARNESS_ENCRYPTION_KEY = 'leadflow-in-process-harness-only';

export function keepN8nOutOfUserHome() {
	process.env.N8N_LOG_LEVEL ??= 'silent';
	if (process.env.N8N_USER_FOLDER) return;
	process.env.N8N_USER_FOLDER = HARNESS_USER_FOLDER;
	process.env.N8N_ENCRYPTION_KEY ??= HARNESS_ENCRYPTION_KEY;
}
