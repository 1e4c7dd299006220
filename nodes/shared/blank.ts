// What counts as blank text, in one place: a name the nodes read and the database stores is no name
// when it shows nothing. Both nodes that take a person's name (Campaign Session Create's tasks,
// Queue Ledger's Add Leads) read it with isBlank, and the database's functions that store these
// names use the same characters (leadflow_private.is_blank, migration
// supabase/migrations/20261201002380_campaign_queue_names_blank_rule.sql), so a name a node would drop is
// never stored by a direct call either. test/db/blank-text.test.ts checks, code point by code
// point, that the two agree.
//
// Blank: empty, or only white space (JavaScript's \s: tab to carriage return, space, U+00A0,
// U+1680, U+2000–U+200A, the line and paragraph separators, U+202F, U+205F, U+3000, U+FEFF) and
// Unicode format characters (Cf: U+200B zero width space, U+200E left-to-right mark, U+2060 word
// joiner, U+00AD soft hyphen, …). Text made only of these shows nothing: a spreadsheet's empty
// cell, never a name.
//
// Except the format characters that draw a glyph, Unicode's Prepended_Concatenation_Mark: U+0600–
// U+0605 (Arabic number sign and its kind), U+06DD (end of ayah, ۝), U+070F (Syriac abbreviation
// mark), U+0890–U+0891, U+08E2, U+110BD and U+110CD (Kaithi number signs). They show even alone,
// so a name of "۝" is a name (migration
// supabase/migrations/20261201002590_names_blank_rule_visible_marks.sql; before, they counted as
// blank and such a campaign name was refused as showing nothing).

const BLANK = /^(?:(?![\u0600-\u0605\u06DD\u070F\u0890\u0891\u08E2\u{110BD}\u{110CD}])[\s\p{Cf}])*$/u;

/** Whether text shows nothing: empty, or only white space and format characters (such as U+200B) other than those that draw a glyph (such as U+06DD). */
export function isBlank(value: string): boolean {
	return BLANK.test(value);
}
