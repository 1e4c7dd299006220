// The text check of test/db/hosted-roles.test.ts: does a migration store a custom (dotted) setting on
// a function, procedure, role or database? Hosted Supabase applies migrations as a role that is not a
// superuser, and storing such a setting needs one (42501 "permission denied to set parameter");
// setting one at run time (set_config, SET LOCAL) does not, nor does storing a setting of
// PostgreSQL's own (undotted) names, such as search_path, that the role may set.
//
// The SQL is read as PostgreSQL reads it (comments, quoted names, string and dollar-quoted text), so
// that the forms a pattern over the raw text misses are found too: a quoted name (`set "leadflow.x"
// = …`), `SET … FROM CURRENT`, and a SET clause written after a function's body (`as $$ … $$
// language plpgsql set leadflow.x = 'on'`). RESET of a custom setting on them needs a superuser too.
// Bodies (dollar-quoted or quoted) are read again as SQL, since a DO block or dynamic SQL run by the
// migration stores the setting the same way; SQL pieced together at run time (`'… set ' || name`) is
// not seen here: the test's non-superuser apply of every migration still fails on it.

type Token =
	| { kind: 'word'; text: string; at: number } // a keyword or plain name, in lower case
	| { kind: 'name'; text: string; at: number } // a quoted name, as written between the quotes
	| { kind: 'string'; body: string; bodyAt: number; at: number } // quoted or dollar-quoted text
	| { kind: 'other'; text: string; at: number }; // punctuation, operators, numbers, parameters

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;
const OPERATOR = /[+\-*/<>=~!@#%^&|`?:]/;

const isWord = (token: Token | undefined, ...words: string[]) => token?.kind === 'word' && words.includes(token.text);
const isOther = (token: Token | undefined, text: string) => token?.kind === 'other' && token.text === text;

function tokens(sql: string): Token[] {
	const out: Token[] = [];
	let i = 0;
	while (i < sql.length) {
		const c = sql[i];
		const next = sql[i + 1];
		if (/\s/.test(c)) {
			i++;
		} else if (c === '-' && next === '-') {
			const end = sql.indexOf('\n', i);
			i = end < 0 ? sql.length : end + 1;
		} else if (c === '/' && next === '*') {
			// Block comments nest in PostgreSQL.
			let depth = 1;
			i += 2;
			while (i < sql.length && depth > 0) {
				const step = sql.startsWith('/*', i) ? 1 : sql.startsWith('*/', i) ? -1 : 0;
				depth += step;
				i += step === 0 ? 1 : 2;
			}
		} else if (c === "'") {
			// E'…' takes backslash escapes; otherwise '' is a quote (standard_conforming_strings).
			const previous = out[out.length - 1];
			const escapes = previous?.kind === 'word' && previous.text === 'e' && previous.at === i - 1;
			let j = i + 1;
			while (j < sql.length) {
				if (escapes && sql[j] === '\\') j += 2;
				else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
				else if (sql[j] === "'") break;
				else j++;
			}
			// '' inside (and \' in E'…') becomes "' ", \\ two spaces, the backslash of any other escape a space (same
			// length, so positions still point into the file) when the text is read again: EXECUTE E'…' is SQL too.
			const raw = sql.slice(i + 1, j);
			const body = escapes ? raw.replace(/\\[\s\S]|''/g, (m) => (m === "''" || m === "\\'" ? "' " : m === '\\\\' ? '  ' : ` ${m[1]}`)) : raw.replace(/''/g, "' ");
			out.push({ kind: 'string', body, bodyAt: i + 1, at: i });
			i = j + 1;
		} else if (c === '"') {
			let j = i + 1;
			while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
			let text = sql.slice(i + 1, j).replace(/""/g, '"');
			// U&"…": a name with Unicode escapes (\XXXX, \+XXXXXX; UESCAPE is not read), such as U&"leadflow\002ex".
			const amp = out[out.length - 1];
			const u = out[out.length - 2];
			const unicode = isOther(amp, '&') && amp.at === i - 1 && isWord(u, 'u') && u.at === i - 2;
			if (unicode) {
				out.splice(-2, 2);
				text = text.replace(/\\(\\|\+[0-9A-Fa-f]{6}|[0-9A-Fa-f]{4})/g, (_, code: string) => (code === '\\' ? '\\' : String.fromCodePoint(parseInt(code.replace('+', ''), 16))));
			}
			out.push({ kind: 'name', text, at: unicode ? i - 2 : i });
			i = j + 1;
		} else if (c === '$' && /[A-Za-z_$\u0080-\uffff]/.test(next ?? '')) {
			const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
			if (!tag) {
				out.push({ kind: 'other', text: c, at: i });
				i++;
				continue;
			}
			const start = i + tag[0].length;
			const end = sql.indexOf(tag[0], start);
			const stop = end < 0 ? sql.length : end;
			out.push({ kind: 'string', body: sql.slice(start, stop), bodyAt: start, at: i });
			i = end < 0 ? sql.length : end + tag[0].length;
		} else if (WORD_START.test(c)) {
			let j = i + 1;
			while (j < sql.length && WORD.test(sql[j])) j++;
			out.push({ kind: 'word', text: sql.slice(i, j).toLowerCase(), at: i });
			i = j;
		} else if (OPERATOR.test(c)) {
			let j = i + 1;
			while (j < sql.length && OPERATOR.test(sql[j]) && !sql.startsWith('--', j) && !sql.startsWith('/*', j)) j++;
			// As PostgreSQL: a trailing + or - is not part of an operator made only of + - * / < > =.
			if (!/[~!@#%^&|`?]/.test(sql.slice(i, j))) while (j > i + 1 && /[+-]/.test(sql[j - 1])) j--;
			out.push({ kind: 'other', text: sql.slice(i, j), at: i });
			i = j;
		} else if (c === '$' || /[0-9]/.test(c)) {
			// $1 (a parameter) or a number.
			let j = i + 1;
			while (j < sql.length && /[0-9.eE]/.test(sql[j])) j++;
			out.push({ kind: 'other', text: sql.slice(i, j), at: i });
			i = j;
		} else {
			out.push({ kind: 'other', text: c, at: i });
			i++;
		}
	}
	return out;
}


/**
 * At `i` (the token after SET or RESET): the setting's name and the index of the token after it, or
 * null. A name is names joined by dots; a quoted name may hold a dot itself.
 */
function settingName(list: Token[], i: number): { name: string; next: number } | null {
	const parts: string[] = [];
	let j = i;
	for (;;) {
		const token = list[j];
		if (token?.kind !== 'word' && token?.kind !== 'name') return null;
		parts.push(token.text);
		j++;
		if (!isOther(list[j], '.')) break;
		j++;
	}
	return { name: parts.join('.'), next: j };
}

/**
 * At `i` (the token after SET or RESET in an ALTER or CREATE): the custom setting stored or removed
 * there, else null. SET must be followed by `=`, `TO` or `FROM CURRENT` (SET SCHEMA, SET TABLESPACE
 * store no setting); RESET of a custom setting on a function, role or database needs a superuser too.
 */
function customSetting(list: Token[], i: number, word: 'set' | 'reset'): string | null {
	const setting = settingName(list, i);
	if (!setting?.name.includes('.')) return null;
	const j = setting.next;
	const stores = word === 'reset' || isOther(list[j], '=') || isWord(list[j], 'to') || (isWord(list[j], 'from') && isWord(list[j + 1], 'current'));
	return stores ? setting.name : null;
}

export interface StoredCustomSetting {
	/** 1-based line of the SET or RESET clause in the text given (a CREATE's clause may come after a long body). */
	line: number;
	/** The setting's name, as PostgreSQL reads it (`leadflow.x`). */
	setting: string;
	/** The statement, white space collapsed, cut at 160 characters. */
	statement: string;
}

/**
 * Every statement in `sql` that stores a custom (dotted) setting on a function, procedure, routine,
 * role or database (ALTER … SET or RESET, CREATE [OR REPLACE] FUNCTION / PROCEDURE … SET, the clause
 * before or after the body), including inside DO blocks, function bodies and quoted SQL. Comments are left
 * out; `set_config(…)`, `SET [LOCAL]` at run time and undotted names (search_path) are not found.
 */
export function customSettingsStored(sql: string): StoredCustomSetting[] {
	const found: StoredCustomSetting[] = [];
	const lineAt = (at: number) => sql.slice(0, at).split('\n').length;
	const read = (text: string, offset: number) => {
		const list = tokens(text);
		for (let i = 0; i < list.length; i++) {
			const token = list[i];
			if (token.kind === 'string' && token.body) {
				read(token.body, offset + token.bodyAt);
				continue;
			}
			let first = -1;
			let isCreate = false;
			if (isWord(token, 'alter') && isWord(list[i + 1], 'function', 'procedure', 'routine', 'role', 'user', 'database')) {
				first = i + 2;
			} else if (isWord(token, 'create')) {
				let j = i + 1;
				if (isWord(list[j], 'or') && isWord(list[j + 1], 'replace')) j += 2;
				if (isWord(list[j], 'function', 'procedure')) {
					first = j + 1;
					isCreate = true;
				}
			}
			if (first < 0) continue;
			// The statement's clauses, outside parentheses, up to its end (a CREATE's body text is one
			// string token; a SQL-standard body, BEGIN ATOMIC or RETURN, comes after every clause).
			let depth = 0;
			let end = first;
			for (; end < list.length; end++) {
				const t = list[end];
				if (isOther(t, ';') && depth === 0) break;
				if (isOther(t, '(')) depth++;
				else if (isOther(t, ')')) depth--;
				else if (depth === 0 && isCreate && (isWord(t, 'return') || (isWord(t, 'begin') && isWord(list[end + 1], 'atomic')))) break;
				else if (depth === 0 && (isWord(t, 'set') || (!isCreate && isWord(t, 'reset')))) {
					const setting = customSetting(list, end + 1, isWord(t, 'set') ? 'set' : 'reset');
					if (setting !== null) {
						const stop = list.findIndex((s, k) => k > end && isOther(s, ';'));
						const until = stop < 0 ? text.length : list[stop].at + 1;
						found.push({
							line: lineAt(offset + t.at),
							setting,
							statement: text.slice(token.at, until).replace(/\s+/g, ' ').trim().slice(0, 160),
						});
						break;
					}
				}
			}
		}
	};
	read(sql, 0);
	return found;
}
