// Add Leads' On Invalid Item given by an expression as the label the editor shows ("Send to the
// Invalid Output", not one of its values) in a node with an error output (continueErrorOutput): the
// refusal is the run's, read before any lead. Thrown, n8n passed the input items on to Added as if
// they were added; now every item fails with the refusal (invalid_input) on the error output and no
// lead is added.
import type { IDataObject } from 'n8n-workflow';
import { runWorkflow } from '../../harness';
import { withDb } from '../../helpers/stack';
import { queueOwner, queueWorkflow, supabaseCredentials } from './support/queue';

test('On Invalid Item refused with an error output: every item leaves on the error output with the refusal, none on Added, nothing is added', async () => {
	const owner = await queueOwner();
	const parameters: IDataObject = {
		resource: 'lead',
		operation: 'addLeads',
		source: 'items',
		ownerUserId: owner,
		defaultCountry: 'AU',
		leadSource: 'website-form',
		options: { onInvalid: '={{ "Send to the Invalid Output" }}' },
	};
	const workflow = queueWorkflow([{ name: 'Maria López', phone: '0491 570 156' }, { name: 'Tom', phone: '0123' }], parameters);
	workflow.nodes = workflow.nodes.map((node) => (node.name === 'Queue' ? { ...node, onError: 'continueErrorOutput' } : node));

	const run = await runWorkflow(workflow, { credentials: supabaseCredentials() });

	expect(run.status).toBe('success');
	const [added, invalid, errors] = run.nodeBranches.Queue;
	expect([added, invalid]).toEqual([[], []]);
	// n8n's error output carries each input item's fields with the error.
	expect(errors.map((item) => [item.name, item.error])).toEqual(
		['Maria López', 'Tom'].map((name) => [
			name,
			{
				code: 'invalid_input',
				message: 'On Invalid Item must be one of output, error (got "Send to the Invalid Output")',
				description: expect.stringContaining("Set On Invalid Item in the node's Options to one of output, error"),
				setting: 'On Invalid Item',
			},
		]),
	);
	const { rows } = await withDb((db) => db.query<{ n: number }>('select count(*)::int as n from public.leads where user_id = $1', [owner]));
	expect(rows[0].n).toBe(0);
});
