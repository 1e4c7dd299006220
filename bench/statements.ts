// Helper of the benchmarks (not one itself): the statements a database function runs inside one
// call, each with its time, as Postgres's auto_explain logs them. A plain EXPLAIN of the call
// shows only the call; auto_explain with log_nested_statements logs every statement of a PL/pgSQL
// function (and of the triggers it fires, with `triggers`), at NOTICE level to this client.
import type { Client } from 'pg';
import { median } from './common';

export interface LoggedStatement {
	/** Its time, as auto_explain measured it. */
	ms: number;
	/** The first line of its text. */
	text: string;
	/** The whole log entry: the text and the plan (with its actual times when `analyze`). */
	entry: string;
}

export interface ExplainOptions {
	/** Statements faster than this are not logged. */
	minMs: number;
	/** Each plan node timed too (slower: the times are then inflated). */
	analyze?: boolean;
	/** With `analyze`: the buffers each node read. */
	buffers?: boolean;
	/** With `analyze`: the time spent in each trigger. */
	triggers?: boolean;
}

/**
 * Runs `call` on `db` with auto_explain logging every statement inside it, and returns them in the
 * order they finished. The settings are `set` on the connection and the logging reset after
 * (inside a transaction the caller rolls back, they go with it).
 */
export async function explainStatements(db: Client, call: () => Promise<unknown>, options: ExplainOptions): Promise<LoggedStatement[]> {
	const logged: LoggedStatement[] = [];
	const onNotice = (notice: { message?: string }) => {
		const entry = notice.message ?? '';
		const match = /^duration: ([0-9.]+) ms\s+plan:\s+Query Text: ([^\n]*)/.exec(entry);
		if (match) logged.push({ ms: Number(match[1]), text: match[2].trim(), entry });
	};
	const on = (flag: boolean | undefined) => (flag ? 'on' : 'off');
	await db.query(`load 'auto_explain'`);
	await db.query(`set auto_explain.log_min_duration = ${options.minMs}; set auto_explain.log_analyze = ${on(options.analyze)};
	  set auto_explain.log_buffers = ${on(options.buffers)}; set auto_explain.log_triggers = ${on(options.triggers)};
	  set auto_explain.log_nested_statements = on; set auto_explain.log_level = notice; set client_min_messages = notice`);
	db.on('notice', onNotice);
	try {
		await call();
		// Still listening: inside a transaction the call's own entry comes when its portal closes, as
		// the next statement starts. Not after a failure: nothing more runs until the caller rolls back.
		await db.query('reset client_min_messages; reset auto_explain.log_min_duration');
	} finally {
		db.off('notice', onNotice);
	}
	return logged;
}

/** A statement's time and the start of its text, on one line. */
export function statementLine(statement: StatementTime, width = 110): string {
	return `${statement.ms.toFixed(3).padStart(9)} ms  ${statement.text.slice(0, width)}`;
}

/** One line per statement, each followed by its log entry (its plan) when it took over `plansOverMs`. */
export function statementLines(statements: LoggedStatement[], plansOverMs = Infinity): string[] {
	return statements.flatMap((statement) => [statementLine(statement), ...(statement.ms > plansOverMs ? [statement.entry] : [])]);
}

/** A statement's text and a time of it (a median, in statementMedians). */
export type StatementTime = Pick<LoggedStatement, 'ms' | 'text'>;

/**
 * Each statement inside `call` with its median time over `runs` calls (`after`, when given, runs
 * between them, not logged), matched from call to call by its position and text, in the order
 * they ran.
 */
export async function statementMedians(
	db: Client,
	runs: number,
	call: (run: number) => Promise<unknown>,
	options: ExplainOptions,
	after?: (run: number) => Promise<unknown>,
): Promise<StatementTime[]> {
	const times = new Map<string, { text: string; ms: number[] }>();
	for (let run = 0; run < runs; run++) {
		const statements = await explainStatements(db, () => call(run), options);
		await after?.(run);
		statements.forEach((statement, i) => {
			const key = `${i} ${statement.text}`;
			const seen = times.get(key) ?? { text: statement.text, ms: [] };
			seen.ms.push(statement.ms);
			times.set(key, seen);
		});
	}
	return [...times.values()].map((seen) => ({ ms: median(seen.ms), text: seen.text }));
}
