// Executions as n8n recorded them, read from its SQLite database (read-only; n8n keeps writing in
// WAL mode). Uses the sqlite3 addon and flatted (n8n's execution-data encoding) from the n8n
// installation itself, so the reader always matches the writer.
import { createRequire } from 'node:module';
import path from 'node:path';

export interface ExecutionRecord {
	id: number;
	workflowId: string;
	status: string;
	mode: string;
	finished: boolean;
	startedAt: string | null;
	stoppedAt: string | null;
	lastNodeExecuted?: string;
	/** First output of each executed node: items' `json`, all runs. */
	nodeOutputs: Record<string, Array<Record<string, unknown>>>;
	error?: { message: string; node?: string };
}

interface SqliteDatabase {
	all(sql: string, params: unknown[], callback: (error: Error | null, rows: unknown[]) => void): void;
	close(callback: (error: Error | null) => void): void;
}

interface Sqlite3 {
	OPEN_READONLY: number;
	Database: new (file: string, mode: number, callback: (error: Error | null) => void) => SqliteDatabase;
}

interface Row {
	id: number;
	workflowId: string;
	status: string;
	mode: string;
	finished: number;
	startedAt: string | null;
	stoppedAt: string | null;
	data: string | null;
}

interface TaskData {
	data?: { main?: Array<Array<{ json: Record<string, unknown> }> | null> };
}

interface RunData {
	resultData?: {
		runData?: Record<string, TaskData[]>;
		lastNodeExecuted?: string;
		error?: { message: string; node?: { name: string } };
	};
}

function open(n8nDir: string, file: string): Promise<{ db: SqliteDatabase; parse: (text: string) => unknown }> {
	const requireFromN8n = createRequire(path.join(n8nDir, 'package.json'));
	const sqlite3 = requireFromN8n('sqlite3') as Sqlite3;
	const flatted = requireFromN8n('flatted') as { parse: (text: string) => unknown };
	return new Promise((resolve, reject) => {
		const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) => (error ? reject(error) : resolve({ db, parse: flatted.parse })));
	});
}

function toRecord(row: Row, parse: (text: string) => unknown): ExecutionRecord {
	// A manual execution still running is saved with data that parses to nothing yet.
	const data = (row.data ? (parse(row.data) as RunData | null | undefined) : undefined) ?? {};
	const nodeOutputs: ExecutionRecord['nodeOutputs'] = {};
	for (const [node, tasks] of Object.entries(data.resultData?.runData ?? {})) {
		nodeOutputs[node] = tasks.flatMap((task) => (task.data?.main?.[0] ?? []).map((item) => item.json));
	}
	const error = data.resultData?.error;
	return {
		id: row.id,
		workflowId: row.workflowId,
		status: row.status,
		mode: row.mode,
		finished: row.finished === 1,
		startedAt: row.startedAt,
		stoppedAt: row.stoppedAt,
		lastNodeExecuted: data.resultData?.lastNodeExecuted,
		nodeOutputs,
		error: error ? { message: error.message, node: error.node?.name } : undefined,
	};
}

/** Executions with an id above `afterId`, oldest first, optionally of one workflow. */
export async function readExecutions(n8nDir: string, databaseFile: string, options: { workflowId?: string; afterId?: number } = {}): Promise<ExecutionRecord[]> {
	const { db, parse } = await open(n8nDir, databaseFile);
	try {
		const rows = await new Promise<Row[]>((resolve, reject) =>
			db.all(
				`select e.id, e.workflowId, e.status, e.mode, e.finished, e.startedAt, e.stoppedAt, d.data
				 from execution_entity e left join execution_data d on d.executionId = e.id
				 where e.id > ? and (? is null or e.workflowId = ?)
				 order by e.id`,
				[options.afterId ?? 0, options.workflowId ?? null, options.workflowId ?? null],
				(error, result) => (error ? reject(error) : resolve(result as Row[])),
			),
		);
		return rows.map((row) => toRecord(row, parse));
	} finally {
		await new Promise<void>((resolve) => db.close(() => resolve()));
	}
}
