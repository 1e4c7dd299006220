// One definition of valid text (nodes/shared/valid-input.ts), held by the nodes and the database
// alike: leadflow_private.is_valid_text refuses exactly the code points the nodes refuse, for every
// code point and every kind of text, and each check constraint on a text column accepts exactly
// the values the node's rule for that column accepts (characters, and lengths counted the same way).
import type { Client } from 'pg';
import { TEXT, textProblem, type TextKind, type TextRule } from '../../nodes/shared/valid-input';
import { createTestUser, withDb } from '../helpers/stack';

const KINDS: TextKind[] = ['line', 'multiline', 'token'];
const MAX_CODE_POINT = 0x10ffff;
const isSurrogate = (code: number) => code >= 0xd800 && code <= 0xdfff;

/** The code points the node refuses in text of `kind` (NUL and surrogates aside: Postgres text holds neither). */
function refusedByNode(kind: TextKind): number[] {
	const refused: number[] = [];
	for (let code = 1; code <= MAX_CODE_POINT; code++) {
		if (isSurrogate(code)) continue;
		if (textProblem(`a${String.fromCodePoint(code)}b`, { kind, max: 10 })) refused.push(code);
	}
	return refused;
}

describe('leadflow_private.is_valid_text', () => {
	it.each(KINDS)('refuses exactly the code points the nodes refuse in %s text', async (kind) => {
		const { rows } = await withDb((db) =>
			db.query<{ refused: number[] }>(
				`select coalesce(array_agg(cp order by cp), '{}') as refused
				   from generate_series(1, $2::int) cp
				  where cp not between 55296 and 57343 and not leadflow_private.is_valid_text(chr(cp), $1)`,
				[kind, MAX_CODE_POINT],
			),
		);
		expect(rows[0].refused).toEqual(refusedByNode(kind));
	});

	it('means by "line", "multiline" and "token" what valid-input.ts says', () => {
		const hex = (codes: number[]) => codes.map((code) => code.toString(16));
		const controls = [...Array.from({ length: 31 }, (_, index) => index + 1), 0x7f, ...Array.from({ length: 32 }, (_, index) => 0x80 + index)];
		expect(hex(refusedByNode('line'))).toEqual(hex([...controls, 0x2028, 0x2029]));
		expect(hex(refusedByNode('multiline'))).toEqual(hex(controls.filter((code) => ![0x09, 0x0a, 0x0d].includes(code))));
		// A token refuses what a line refuses and whatever JavaScript's \s matches.
		const whitespace: number[] = [];
		for (let code = 1; code <= MAX_CODE_POINT; code++) if (!isSurrogate(code) && /\s/.test(String.fromCodePoint(code))) whitespace.push(code);
		expect(hex(refusedByNode('token'))).toEqual(hex([...new Set([...refusedByNode('line'), ...whitespace])].sort((a, b) => a - b)));
	});

	it('is called by every check with one of the three kinds (another kind would be null, which a check lets pass)', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ constraint: string; kind: string }>(`
				select con.conname as constraint, m[1] as kind
				  from pg_constraint con, regexp_matches(pg_get_constraintdef(con.oid), 'is_valid_text\\([a-z_]+, ''([^'']*)''', 'g') m
				 where con.contype = 'c' order by 1`),
		);
		expect(rows.map((row) => row.constraint)).toEqual(expect.arrayContaining(COLUMNS.map((column) => `${column.column.replace('.', '_')}_check`)));
		expect(rows.filter((row) => !KINDS.includes(row.kind as TextKind))).toEqual([]);
	});
});

/** A checked text column: how to write a value into it (inside a savepoint), and the node's rule for it. */
interface CheckedColumn {
	column: string;
	rule: TextRule;
	write(db: Client, owner: string, value: string, n: number): Promise<unknown>;
}

const COLUMNS: CheckedColumn[] = [
	{
		column: 'campaign_info.name',
		rule: TEXT.campaignName,
		write: (db, owner, value, n) => db.query(`insert into public.campaign_info (user_id, name_uid, name) values ($1, $2, $3)`, [owner, `probe_${n}abcdef`, value]),
	},
	{
		column: 'numbers.contact_name',
		rule: TEXT.personName,
		write: (db, owner, value, n) => db.query(`insert into public.numbers (user_id, phone_e164, contact_name) values ($1, $2, $3)`, [owner, `+4478530${String(n).padStart(5, '0')}`, value]),
	},
	{
		column: 'session_info.session_id',
		rule: TEXT.sessionId,
		write: (db, owner, value) =>
			db.query(
				`insert into public.session_info (user_id, session_id, campaign_id, phone_e164)
				 select $1, $2, c.id, '+447853000000' from public.campaign_info c where c.user_id = $1 and c.name_uid = 'base_abcdef'`,
				[owner, value],
			),
	},
	{
		column: 'session_info.display_name',
		rule: TEXT.personName,
		write: (db, owner, value, n) =>
			db.query(
				`insert into public.session_info (user_id, session_id, campaign_id, phone_e164, display_name)
				 select $1, $2, c.id, '+447853000000', $3 from public.campaign_info c where c.user_id = $1 and c.name_uid = 'base_abcdef'`,
				[owner, `probe-${n}`, value],
			),
	},
	{
		column: 'campaign_session_requests.idempotency_key',
		rule: TEXT.idempotencyKey,
		write: (db, owner, value) =>
			db.query(
				`insert into public.campaign_session_requests (user_id, idempotency_key, campaign_id, fingerprint)
				 select $1, $2, c.id, 'f' from public.campaign_info c where c.user_id = $1 and c.name_uid = 'base_abcdef'`,
				[owner, value],
			),
	},
];

/** Values at a column's limits, and one with each character text may or may not hold. */
function probes(rule: TextRule): string[] {
	const characters = [
		...Array.from({ length: 31 }, (_, index) => index + 1),
		0x20,
		0x7f,
		...Array.from({ length: 33 }, (_, index) => 0x80 + index),
		0x1680,
		...Array.from({ length: 11 }, (_, index) => 0x2000 + index),
		0x200b,
		0x200d,
		0x2028,
		0x2029,
		0x202e,
		0x202f,
		0x205f,
		0x3000,
		0xfeff,
		0xfffd,
		0x1f527,
	];
	return [
		'x'.repeat(rule.max),
		'x'.repeat(rule.max + 1),
		'🔧'.repeat(rule.max),
		'🔧'.repeat(rule.max + 1),
		...characters.map((code) => `a${String.fromCodePoint(code)}b`),
	];
}

describe('each check constraint on a text column accepts exactly what the node accepts', () => {
	it.each(COLUMNS.map((column) => [column.column, column] as const))('%s', async (_name, checked) => {
		const owner = await createTestUser('valid-text');
		const disagreements = await withDb(async (db) => {
			const found: string[] = [];
			await db.query('begin');
			try {
				await db.query(`insert into public.campaign_info (user_id, name_uid, name) values ($1, 'base_abcdef', 'Base')`, [owner]);
				await db.query(`insert into public.numbers (user_id, phone_e164) values ($1, '+447853000000')`, [owner]);
				let n = 0;
				for (const value of probes(checked.rule)) {
					n++;
					const node = textProblem(value, checked.rule) === undefined;
					await db.query('savepoint probe');
					let database = true;
					try {
						await checked.write(db, owner, value, n);
					} catch (error) {
						if ((error as { code?: string }).code !== '23514') throw error;
						database = false;
					}
					await db.query('rollback to savepoint probe');
					if (node !== database) found.push(`${JSON.stringify(value).slice(0, 30)} (${[...value].length} characters): node ${node ? 'accepts' : 'refuses'}, database ${database ? 'accepts' : 'refuses'}`);
				}
			} finally {
				await db.query('rollback');
			}
			return found;
		});
		expect(disagreements).toEqual([]);
	});
});
