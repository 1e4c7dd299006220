// "This execution's claim", the one rule Queue Ledger's Send / Complete and Auto Assign Stage's
// Complete Automations apply as an AI agent's tool: a claim's name ends with this execution's mark,
// `-<execution id>-<hash of the instance id>`. Before 6 December 2026 Complete Automations checked a
// holder's prefix (`n8n-<execution id>-`) without the instance, so a holder of another n8n instance's
// execution with the same number (two instances on one Supabase) passed as this execution's.
import { claimOfThisExecution, executionMark } from '../../../nodes/shared/execution-claim';

const context = (execution: string | undefined, instance = 'instance-a') => ({ getExecutionId: () => execution as string, getInstanceId: () => instance });

it('the mark is the execution id and 12 hex of the instance id\'s hash; a name ending with it is this execution\'s', () => {
	const mark = executionMark(context('5'));
	expect(mark).toMatch(/^-5-[0-9a-f]{12}$/);
	expect(claimOfThisExecution(context('5'), `n8n${mark}`)).toBe(true);
	expect(claimOfThisExecution(context('5'), `n8n-claim-0123456789ab${mark}`)).toBe(true);
});

it('another execution, execution 15 for 5, another instance\'s execution 5, a name without the mark, or no execution id: not this execution\'s', () => {
	const five = executionMark(context('5')) as string;
	expect(claimOfThisExecution(context('6'), `n8n${five}`)).toBe(false);
	expect(claimOfThisExecution(context('5'), `n8n${executionMark(context('15'))}`)).toBe(false);
	expect(claimOfThisExecution(context('5', 'instance-b'), `n8n${five}`)).toBe(false);
	expect(claimOfThisExecution(context('5'), 'n8n-5-claim-0123456789ab')).toBe(false);
	expect(claimOfThisExecution(context('5'), '')).toBe(false);
	expect(executionMark(context(undefined))).toBeUndefined();
	expect(claimOfThisExecution(context(''), `n8n${five}`)).toBe(false);
});
