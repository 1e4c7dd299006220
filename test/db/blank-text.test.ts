// One rule for a blank name (nodes/shared/blank.ts), held by the nodes and the database alike:
// leadflow_private.is_blank counts as blank exactly the code points the nodes' isBlank does, for
// every code point, so a name the nodes drop as blank (a task's, a lead's) is never stored by a
// direct call either (migration 20261201002380_campaign_queue_names_blank_rule.sql).
import { isBlank } from '../../nodes/shared/blank';
import { withDb } from '../helpers/stack';

const MAX_CODE_POINT = 0x10ffff;
const isSurrogate = (code: number) => code >= 0xd800 && code <= 0xdfff;

describe('leadflow_private.is_blank', () => {
	it('counts as blank exactly the code points the nodes count (white space and format characters)', async () => {
		const blankByNode: number[] = [];
		for (let code = 1; code <= MAX_CODE_POINT; code++) if (!isSurrogate(code) && isBlank(String.fromCodePoint(code))) blankByNode.push(code);
		const { rows } = await withDb((db) =>
			db.query<{ blank: number[] }>(
				`select coalesce(array_agg(cp order by cp), '{}') as blank
				   from generate_series(1, $1::int) cp
				  where cp not between 55296 and 57343 and leadflow_private.is_blank(chr(cp))`,
				[MAX_CODE_POINT],
			),
		);
		const hex = (codes: number[]) => codes.map((code) => code.toString(16));
		expect(hex(rows[0].blank)).toEqual(hex(blankByNode));
		// What the rule is about: U+200B and its kind are blank, a letter is not.
		expect(blankByNode).toEqual(expect.arrayContaining([0x20, 0xa0, 0x200b, 0x200e, 0x2060, 0xad, 0xfeff]));
		expect(blankByNode).not.toContain(0x61);
		// The format characters that draw a glyph (Prepended_Concatenation_Mark: Arabic number signs,
		// the end of ayah U+06DD, the Syriac abbreviation mark, the Kaithi number signs) show even
		// alone: not blank, in either (migration 20261201002590_names_blank_rule_visible_marks.sql).
		// Before, both counted them blank with every other Cf character.
		const visibleFormat = [0x600, 0x601, 0x602, 0x603, 0x604, 0x605, 0x6dd, 0x70f, 0x890, 0x891, 0x8e2, 0x110bd, 0x110cd];
		for (const code of visibleFormat) {
			expect([code.toString(16), blankByNode.includes(code)]).toEqual([code.toString(16), false]);
			expect([code.toString(16), rows[0].blank.includes(code)]).toEqual([code.toString(16), false]);
		}
	});

	it('reads whole text as the node does: empty and invisible-only text is blank, text with anything visible is not, null is null', async () => {
		const values = ['', ' ', '\u200b', ' \u2060\u00ad ', '\u200bBob', 'a', '\u200b.', '\u06dd', ' \u0600\u200b', '\u{110bd}'];
		const { rows } = await withDb((db) =>
			db.query<{ value: string | null; blank: boolean | null }>(
				`select v.value, leadflow_private.is_blank(v.value) as blank from unnest($1::text[] || array[null]) with ordinality v (value, n) order by v.n`,
				[values],
			),
		);
		expect(rows).toEqual([...values.map((value) => ({ value, blank: isBlank(value) })), { value: null, blank: null }]);
		expect(values.map(isBlank)).toEqual([true, true, true, true, false, false, false, false, false, false]);
	});
});
