// queue_begin_send's answers matched to the messages Send asked about. The database answers every
// id asked, in the order asked (20261201002600: `with ordinality … order by i.n`), and Send matches
// them by position. A message lets go only on its own row saying send: an answer missing (fewer
// rows than asked) or a row of another id at its place is read as "not checked", never as a send.

/** One row of queue_begin_send's answer (the fields Send reads). */
export interface BeginSendRow {
	item_id?: unknown;
	send?: unknown;
	reason?: unknown;
}

/** What the database said of one asked message: let go, refused with its reason, or no answer of its own. */
export type BeginAnswer = { kind: 'send' } | { kind: 'refused'; reason: string } | { kind: 'unanswered' };

/** For each id asked (lower-case UUIDs, in the order asked), the row at its place if it is that id's, read. */
export function matchBeginAnswers(askedIds: readonly string[], rows: readonly BeginSendRow[]): BeginAnswer[] {
	return askedIds.map((id, index) => {
		const row = rows[index];
		if (!row || typeof row.item_id !== 'string' || row.item_id.toLowerCase() !== id) return { kind: 'unanswered' };
		if (row.send === true) return { kind: 'send' };
		return { kind: 'refused', reason: typeof row.reason === 'string' && row.reason !== '' ? row.reason : 'not_held' };
	});
}
