// Each Leadflow Console operation's name as the node lists it (its Operation option's `name`), written
// once: the node's description takes its options' names from here, and a refusal that names the
// operation (tool-owner.ts, monitor.operation.ts) reads it from here, so the two cannot drift apart.
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
