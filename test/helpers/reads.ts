// What a call read, counted by the database rather than timed: the rows (by scans) and index
// entries the backend read on some tables and their indexes. The counts are the backend's own,
// not yet flushed to the shared statistics, so they can include earlier transactions' reads: take
// the difference around a call, inside one transaction.
import type { Client } from 'pg';

export async function entriesRead(db: Client, tables: string[]): Promise<number> {
	const { rows } = await db.query<{ n: string }>(
		`select coalesce(sum(pg_stat_get_xact_tuples_returned(r.oid)), 0)::bigint as n
		   from pg_class r
		  where r.oid = any ($1::regclass[])
		     or r.oid in (select i.indexrelid from pg_index i where i.indrelid = any ($1::regclass[]))`,
		[tables],
	);
	return Number(rows[0].n);
}
