// The one way our nodes reach Supabase: supabase-js with the service role key from the
// `leadflowSupabaseApi` credential, loaded on first use (n8n requires every node file at start-up,
// so nothing heavy is required at module load), and PostgREST errors turned into NodeApiErrors that
// say what to do.
import { createHash } from 'node:crypto';
import type { SupabaseClient } from '@supabase/supabase-js';
import { NodeApiError, type FunctionsBase, type JsonObject } from 'n8n-workflow';
import type { RpcArgs, RpcName, RpcResult } from './contract';

interface SupabaseCredentials {
	url: string;
	serviceRoleKey: string;
}

const clients = new Map<string, SupabaseClient>();

/** What reaching Supabase needs of a context: a node run's, or the editor's list and options methods'. */
export type SupabaseContext = Pick<FunctionsBase, 'getCredentials' | 'getNode'>;

export async function getSupabaseClient(context: SupabaseContext): Promise<SupabaseClient> {
	const credentials = await context.getCredentials<SupabaseCredentials>('leadflowSupabaseApi');
	const url = String(credentials.url ?? '').replace(/\/+$/, '');
	const key = String(credentials.serviceRoleKey ?? '');
	const cacheKey = `${url}\n${key}`;
	const cached = clients.get(cacheKey);
	if (cached) return cached;
	const { createClient } = await import('@supabase/supabase-js');
	const client = createClient(url, key, {
		auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
		db: { schema: 'public' },
	});
	clients.set(cacheKey, client);
	return client;
}

/**
 * The project URL and an identity of the credential (the URL and a hash of its key, never the key):
 * what a process may share between executions that reach Supabase the same way, so that one
 * credential's refused key never fails another's work.
 */
export async function supabaseIdentityOf(context: SupabaseContext): Promise<{ url: string; identity: string }> {
	const credentials = await context.getCredentials<SupabaseCredentials>('leadflowSupabaseApi');
	const url = String(credentials.url ?? '').replace(/\/+$/, '');
	const keyHash = createHash('sha256').update(String(credentials.serviceRoleKey ?? '')).digest('hex').slice(0, 16);
	return { url, identity: `${url}|${keyHash}` };
}

interface PostgrestErrorLike {
	message: string;
	code?: string;
	details?: string | null;
	hint?: string | null;
}

/** What to do when this Supabase project's Leadflow tables or functions are missing or older than the package. */
export const APPLY_MIGRATIONS =
	'apply the migrations (`npm run migrate -- --db-url <connection string>`, or paste the supabase/migrations/*.sql files this database does not have yet into the SQL editor, in file order)';

/** What a user should do about a PostgREST / Postgres error, in one sentence. */
export function adviceFor(error: PostgrestErrorLike): string {
	switch (error.code) {
		case 'PGRST202':
		case 'PGRST205':
		case '42883':
		case '42P01':
			return `The Leadflow tables or functions are missing from this Supabase project: ${APPLY_MIGRATIONS}.`;
		case 'PGRST301':
		case 'PGRST302':
		case '42501':
			return 'Supabase refused the key: use the service_role key in the Leadflow Supabase credential.';
		case '23505':
			return 'A row with the same unique key already exists.';
		case '23503':
			return 'A referenced row does not exist (or belongs to another owner).';
		case '23514':
		case '22P02':
		case '22023':
			return 'A value was rejected by the database: check the fields named in the message.';
		case 'P0002':
			// What our functions raise for an unknown id or name (a 404 in a webhook): the database
			// answered, so the project URL is not the problem.
			return error.hint || 'Use an id or name that exists: the one the message names is not in the database (mistyped, deleted meanwhile, or another owner\'s).';
		default:
			if (error.hint) return error.hint;
			// Any other data exception (class 22: a date out of range, a number too large…) or
			// integrity violation (class 23): the database read the request and refused a value.
			if (/^2[23][0-9A-Z]{3}$/.test(error.code ?? '')) return 'A value was rejected by the database: check the fields named in the message.';
			// Another code: the database or PostgREST answered, so the address is right.
			if (error.code) return 'Supabase answered with an error: the message says what went wrong; if it names no field of yours, see the project\'s logs.';
			// postgrest-js gives no code when the request never reached the database.
			return 'Check the Supabase project URL and that the project is running.';
	}
}

/**
 * The most rows the Data API answers one request with (PostgREST's max-rows: 1,000 on Supabase and
 * the local stack). A function that answers one row per item must be called with at most this many
 * items: it would apply them all, but the rows past it would be cut from the answer.
 */
export const DATA_API_MAX_ROWS = 1000;

/** `items` in pieces of at most `size` (DATA_API_MAX_ROWS), in order. */
export function piecesOf<T>(items: readonly T[], size = DATA_API_MAX_ROWS): T[][] {
	const pieces: T[][] = [];
	for (let start = 0; start < items.length; start += size) pieces.push(items.slice(start, start + size));
	return pieces;
}

/**
 * Runs `call` on each piece with at most `atOnce` calls in flight, and answers each piece's outcome
 * in the pieces' order (whatever order they ended in). After a call fails, with `stopOnFailure`, no
 * further piece is started (the calls already in flight finish: their outcomes are there); the pieces
 * never started are `undefined`. For calls that are each their own transaction on rows no other
 * piece touches (the database works on two at once on two cores, where one call at a time leaves a
 * core idle while the other waits for the network).
 */
export async function eachPieceAtOnce<Piece, Result>(
	pieces: readonly Piece[],
	atOnce: number,
	call: (piece: Piece, index: number) => Promise<Result>,
	stopOnFailure: boolean,
): Promise<Array<PromiseSettledResult<Result> | undefined>> {
	const outcomes: Array<PromiseSettledResult<Result> | undefined> = new Array(pieces.length).fill(undefined);
	let next = 0;
	let failed = false;
	const lane = async () => {
		while (next < pieces.length && !(stopOnFailure && failed)) {
			const index = next++;
			try {
				outcomes[index] = { status: 'fulfilled', value: await call(pieces[index], index) };
			} catch (reason) {
				outcomes[index] = { status: 'rejected', reason };
				failed = true;
			}
		}
	};
	await Promise.all(Array.from({ length: Math.min(Math.max(1, atOnce), pieces.length) }, lane));
	return outcomes;
}

/**
 * How long one call may wait for its answer, and what else ends the wait. A call that reaches either
 * is aborted and fails as a call whose answer was lost (no SQLSTATE: isTransient), which it may be:
 * the database may have done what it asked.
 */
export interface RpcCallLimit {
	/** The most milliseconds the call may take; not given: no limit. */
	timeLimitMs?: number;
	/** Aborts the call when it aborts (the execution's cancel signal: Stop, the workflow's timeout). */
	signal?: AbortSignal;
}

/**
 * Calls one of the contract's SQL functions (nodes/shared/contract) through PostgREST in one round
 * trip: only its name, only its arguments, and its result type. Without `limit` the call waits for
 * its answer however long it takes, as every caller but Queue Ledger Send's queue_begin_send does.
 */
export async function callRpc<Name extends RpcName>(
	context: SupabaseContext,
	functionName: Name,
	args: RpcArgs<Name>,
	itemIndex?: number,
	limit?: RpcCallLimit,
): Promise<RpcResult<Name>> {
	const client = await getSupabaseClient(context);
	// With the count, PostgREST says how many rows the function answered in all (the same single
	// execution; about 0.1 ms) and answers 206 when it sent fewer, so an answer cut by the project's
	// Max Rows is an error, not rows missing from the node's output without a word. (A function that
	// answers one value counts 1 whatever the value, an empty JSON array included: only 206 says cut.)
	const call = client.rpc(functionName, args as Record<string, unknown>, { count: 'exact' });
	let aborted: 'time' | 'cancel' | undefined;
	const controller = new AbortController();
	const abort = (why: 'time' | 'cancel') => {
		aborted ??= why;
		controller.abort();
	};
	const onCancel = () => abort('cancel');
	let timer: NodeJS.Timeout | undefined;
	if (limit?.signal?.aborted) onCancel();
	else limit?.signal?.addEventListener('abort', onCancel, { once: true });
	if (limit?.timeLimitMs !== undefined) timer = setTimeout(() => abort('time'), Math.max(0, limit.timeLimitMs));
	let answer: Awaited<typeof call>;
	try {
		answer = await (limit ? call.abortSignal(controller.signal) : call);
	} finally {
		clearTimeout(timer);
		limit?.signal?.removeEventListener('abort', onCancel);
	}
	const { data, count, status } = answer;
	// An answer that came in full before the abort stands; one the abort cut says why, not the fetch's words.
	const error = answer.error && !answer.error.code && aborted ? abortedCall(aborted, limit?.timeLimitMs ?? 0) : answer.error;
	if (error) throw toNodeApiError(context, error, `${functionName} failed`, itemIndex);
	if (status === 206 && Array.isArray(data) && typeof count === 'number' && count > data.length) {
		throw cutAnswerError(context, functionName, data.length, count, itemIndex);
	}
	return data as RpcResult<Name>;
}

/**
 * Whether a call failed because its time limit ran out (callRpc's `limit`): the client gave up, the
 * statement may still be running in the database.
 */
export function abortedByTimeLimit(error: unknown): boolean {
	return (error as { errorResponse?: { aborted?: unknown } }).errorResponse?.aborted === 'time_limit';
}

/** A call aborted by its time limit or by the run's cancel signal: no SQLSTATE, as for an answer lost on the way. */
function abortedCall(why: 'time' | 'cancel', timeLimitMs: number): PostgrestErrorLike & { aborted: 'time_limit' | 'stopped' } {
	const unknown = 'whether the database did what it asked is not known.';
	return why === 'time'
		? {
				aborted: 'time_limit',
				message: `no answer within ${(timeLimitMs / 1000).toFixed(1)} s, the time limit of this call`,
				code: '',
				hint: `Supabase did not answer in time (overloaded, or a gateway on the way holding the request): ${unknown}`,
			}
		: { aborted: 'stopped', message: 'the run was stopped while it waited for the answer', code: '', hint: `The execution was cancelled (Stop, or the workflow's timeout): ${unknown}` };
}

/** What Supabase's setting is called, and what the node needs of it. */
export const MAX_ROWS_ADVICE =
	`Raise the Data API's Max Rows to ${DATA_API_MAX_ROWS.toLocaleString('en-US')} or more (Supabase: Project Settings → Data API → Max Rows; PostgREST: db-max-rows).`;

/**
 * A function's answer cut short by the Data API (its Max Rows below the rows answered): what the
 * call did is committed, but some of its rows never reached the node.
 */
function cutAnswerError(context: SupabaseContext, functionName: string, answered: number, total: number, itemIndex?: number): NodeApiError {
	return new NodeApiError(context.getNode(), { code: 'max_rows', answered, total } as JsonObject, {
		message: `${functionName} answered ${answered} of its ${total} rows: the Data API's Max Rows cut the answer`,
		description:
			`The Data API answers at most ${answered.toLocaleString('en-US')} rows a call here. Leadflow's calls need up to ${DATA_API_MAX_ROWS.toLocaleString('en-US')} (one row per item of a batch): ` +
			`${answered < DATA_API_MAX_ROWS ? MAX_ROWS_ADVICE : 'ask this operation for fewer rows.'} What the call did is saved in the database; the rows past the cut are not on the node's output.`,
		itemIndex,
	});
}

export function toNodeApiError(
	context: SupabaseContext,
	error: PostgrestErrorLike,
	what: string,
	itemIndex?: number,
): NodeApiError {
	// The database's and PostgREST's details say which row or value; when the request failed on the
	// way (postgrest-js fills details with the fetch error's stack then: lines of code and the
	// address it could not reach), they are no answer for a caller and are left out.
	const fromServer = /^([0-9A-Z]{5}|PGRST\d+)$/.test(error.code ?? '');
	const details = [fromServer ? error.details : undefined, adviceFor(error)].filter(Boolean).join(' ');
	return new NodeApiError(context.getNode(), { ...error } as unknown as JsonObject, {
		message: `${what}: ${error.message}`,
		description: details,
		itemIndex,
	});
}

/**
 * The waits before each repeat of a database call that failed for a moment (ms; Facebook Send's
 * automation_begin_send and automation_record_send, Queue Ledger Send's queue_begin_send): a pooler or
 * PostgREST blip of a few seconds must not lose what the Graph calls did (the contacts would stay in
 * sending until the reaper turns them into send_uncertain, never resent, even those never called),
 * nor stop a batch whose begin the database committed.
 */
export const RETRY_WAITS_MS = [250, 500, 1000, 2000];

/**
 * Whether a failed database call may succeed when repeated: no SQLSTATE (the request did not reach
 * Postgres: refused, reset, a gateway's 5xx), PostgREST's connection errors (PGRST0xx), and
 * Postgres's connection (08), transaction rollback (40: serialization, deadlock), resources (53),
 * operator intervention (57: shutdown, statement timeout) and lock-not-available (55P03). Not a bad
 * argument (22), a constraint (23), a missing function or refused key (42, PGRST2xx, PGRST3xx).
 */
export function isTransient(error: unknown): boolean {
	const code = (error as { errorResponse?: { code?: unknown } }).errorResponse?.code;
	if (typeof code !== 'string' || code === '') return true;
	return /^(PGRST0|08|40|53|57)/.test(code) || code === '55P03';
}
