// The typed database contract (nodes/shared/contract) against the database's own catalog: every
// function the nodes may call exists in `public` with exactly the argument names, in the order, the
// contract declares, and the service role (the nodes' credential) may execute it. A renamed or
// reordered SQL argument fails here instead of in a user's workflow.
import { RPC } from '../../nodes/shared/contract';
import { withDb } from '../helpers/stack';

/** Functions in public the nodes never call, and why. */
const NOT_CALLED_BY_THE_NODES: Record<string, string> = {
	automation_reap: 'automation_claim runs it itself',
};

describe('the typed database contract', () => {
	it('names every function with the arguments the database declares, callable by service_role', async () => {
		const { rows } = await withDb((db) =>
			db.query<{ name: string; args: string[] | null; callable: boolean }>(`
				select p.proname as name,
				       (select array_agg(n order by i) from unnest(p.proargnames, p.proargmodes) with ordinality a(n, m, i)
				         where coalesce(m, 'i') in ('i', 'b', 'v')) as args,
				       has_function_privilege('service_role', p.oid, 'execute') as callable
				  from pg_proc p where p.pronamespace = 'public'::regnamespace`),
		);
		const catalog = new Map(rows.map((row) => [row.name, row]));
		const contract = Object.entries(RPC).map(([name, signature]) => ({ name, args: [...signature.args], callable: true }));
		expect(contract.map(({ name }) => catalog.get(name) ?? { name, args: ['(no such function in public)'], callable: false })).toEqual(
			contract,
		);
		// Every public function is either in the contract or explained above.
		const uncovered = rows.map((row) => row.name).filter((name) => !(name in RPC) && !(name in NOT_CALLED_BY_THE_NODES));
		expect(uncovered).toEqual([]);
	});
});
