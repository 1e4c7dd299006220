// Each Leadflow Console operation's name as the node lists it (its Operation option's `name`), for the
// refusals that name the operation (tool-owner.ts, monitor.operation.ts, requeue.operation.ts). The
// node's description keeps its names as literals, so that n8n's lint checks them (casing, duplicates);
// test/nodes/LeadflowConsole/operation-names.test.ts holds the two equal.
export const OPERATION_NAMES = {
	page: 'Get Page',
	timeline: 'Contact Timeline',
	monitor: 'Monitor Page',
	requeue: 'Requeue Failed',
	ruleDelete: 'Delete Rule',
	rules: 'List Rules',
	rulePrompt: 'Preview Prompt',
	ruleWrite: 'Save Rule',
	pipelineBoard: 'Read Board',
	queuePage: 'Queue Page',
} as const;

export type OperationValue = keyof typeof OPERATION_NAMES;

/** The name the node lists an operation value by; an unknown value as it is. */
export const operationName = (value: string): string =>
	Object.prototype.hasOwnProperty.call(OPERATION_NAMES, value) ? OPERATION_NAMES[value as OperationValue] : value;
