// "This execution's claim", written once. A claim's name (Queue Ledger's worker name, Auto Assign
// Stage's claim holder) ends with this execution's mark, so a step given a name can tell one of its
// own run's claims from another run's by the name alone: as an AI agent's tool, Queue Ledger's Send
// and Complete and Auto Assign Stage's Complete Automations act only on such a name (the name and
// the item come from the model, and another run's claim, shown on the Console or guessed, is that
// run's to send and report).
import { createHash } from 'node:crypto';
import type { IExecuteFunctions } from 'n8n-workflow';

type ExecutionContext = Pick<IExecuteFunctions, 'getExecutionId' | 'getInstanceId'>;

/**
 * `-<execution id>-<12 hex of a hash of this n8n's instance id>`: the same for every node of one
 * execution; different for two executions (n8n numbers every execution, a manual one too, uniquely
 * in its database) and for two n8n instances on one Supabase (their execution ids repeat, their
 * instance ids differ). Undefined without an execution id (not seen in n8n): then no name is this
 * execution's.
 */
export function executionMark(context: ExecutionContext): string | undefined {
	const execution = String(context.getExecutionId() ?? '').trim();
	if (!execution) return undefined;
	return `-${execution}-${createHash('sha256').update(String(context.getInstanceId())).digest('hex').slice(0, 12)}`;
}

/**
 * Whether a claim's name is one of this execution's: it ends with executionMark (the dash before the
 * execution id keeps execution 15's names from passing as execution 5's).
 */
export function claimOfThisExecution(context: ExecutionContext, name: string): boolean {
	const mark = executionMark(context);
	return mark !== undefined && name.endsWith(mark);
}
