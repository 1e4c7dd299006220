// How every node declares its connections: `inputs: [NodeConnectionTypes.Main]`, and outputs as
// named output configurations, so the editor labels each one. A node whose outputs depend on a
// parameter returns the same configurations from an expression (CampaignSessionCreate).
import { NodeConnectionTypes, NodeOperationError, type INode, type INodeExecutionData, type INodeOutputConfiguration } from 'n8n-workflow';

export const MAIN_INPUT = [NodeConnectionTypes.Main];

/** One main output per name, in order. */
export function namedOutputs(...names: string[]): INodeOutputConfiguration[] {
	return names.map((displayName) => ({ type: NodeConnectionTypes.Main, displayName }));
}

/**
 * Whether the node runs as an AI agent's tool: n8n makes the tool from the node (`usableAsTool`)
 * under the node's type with `Tool` appended.
 */
export function runsAsTool(context: { getNode(): INode }): boolean {
	return context.getNode().type.endsWith('Tool');
}

/**
 * Refuses, as a tool, an operation an agent must not run: `operation` is its name in the editor,
 * `description` why it is a workflow's and what the agent can use instead, in words a model can act
 * on. In a workflow, nothing.
 */
export function refuseAsTool(context: { getNode(): INode }, operation: string, description: string): void {
	if (runsAsTool(context)) throw new NodeOperationError(context.getNode(), `${operation} cannot run as an AI agent's tool`, { description });
}

/**
 * What the node returns, as an agent can read it: an agent gets only a tool's first output, so as a
 * tool every output's items go there, in output order (each item says what it is: a refused item its
 * problems, a failed send its outcome, a claim's summary its counts); in a workflow, unchanged.
 */
export function forAgent(context: { getNode(): INode }, outputs: INodeExecutionData[][]): INodeExecutionData[][] {
	if (!runsAsTool(context) || outputs.length < 2) return outputs;
	return [outputs.flat(), ...outputs.slice(1).map(() => [])];
}

/**
 * As a tool, a thrown error's advice (its `description`: what was wrong and what to give instead)
 * goes into its message, `message\n\nDetails: description`, since the message is all a model may
 * read: n8n's AI Agent from 3.0 runs its tools through the engine, which answers a tool's error as
 * `{error: message}` alone. The older path (agents before 3.0, the MCP Server Trigger) appends the
 * same `Details:` itself unless the message already holds the description, so it is never doubled.
 * The description is the node's own text, as the editor shows it (no stack, secrets redacted where
 * the error was made). In a workflow, the error unchanged.
 *
 * The message goes into a new error, never the caught one, which may be held elsewhere (a node's own
 * list of failures, a cached refusal) and must keep its words: the copy has the same class
 * (NodeOperationError, NodeApiError, FieldRefusedError, …) and every field of the original
 * (description, `field`, `setting`, the node, the HTTP code, the cause), only its message (and the
 * stack's first line) carrying the advice.
 */
export function withAdviceForAgent(context: { getNode(): INode }, error: unknown): unknown {
	if (!runsAsTool(context) || !(error instanceof Error)) return error;
	const description = (error as { description?: unknown }).description;
	if (typeof description !== 'string' || description.trim() === '' || error.message.includes(description)) return error;
	return withMessage(error, `${error.message}\n\nDetails: ${description}`);
}

/** A copy of `error` (same prototype, every own property) with another message; the original untouched. */
function withMessage<E extends Error>(error: E, message: string): E {
	const copy = Object.create(Object.getPrototypeOf(error) as object | null) as E;
	for (const key of Reflect.ownKeys(error)) {
		const property = Object.getOwnPropertyDescriptor(error, key);
		if (property) Object.defineProperty(copy, key, property);
	}
	Object.defineProperty(copy, 'message', { value: message, writable: true, enumerable: false, configurable: true });
	if (typeof error.stack === 'string') {
		const stack = error.stack.startsWith(`${error.name}: ${error.message}`) ? `${error.name}: ${message}${error.stack.slice(`${error.name}: ${error.message}`.length)}` : error.stack;
		Object.defineProperty(copy, 'stack', { value: stack, writable: true, enumerable: false, configurable: true });
	}
	return copy;
}

/**
 * A node's execute, for both a workflow and an agent: what `run` returns as forAgent gives it, and
 * what it throws with its advice in the message as a tool (withAdviceForAgent).
 */
export async function runForAgent(context: { getNode(): INode }, run: () => Promise<INodeExecutionData[][]>): Promise<INodeExecutionData[][]> {
	try {
		return forAgent(context, await run());
	} catch (error) {
		throw withAdviceForAgent(context, error);
	}
}
