// Row counts of the campaign-session tables for one owner: "nothing was written" made checkable.
import { withDb } from './stack';

export const CAMPAIGN_TABLES = [
	'campaign_info',
	'campaigns',
	'session_info',
	'numbers',
	'chat_history',
	'call_info',
	'session_objective_events',
	'campaign_session_requests',
] as const;

export function rowCounts(owner: string): Promise<Record<string, number>> {
	return withDb(async (db) => {
		const counts: Record<string, number> = {};
		for (const table of CAMPAIGN_TABLES) {
			const { rows } = await db.query<{ n: string }>(`select count(*) n from public.${table} where user_id = $1`, [owner]);
			counts[table] = Number(rows[0].n);
		}
		return counts;
	});
}
