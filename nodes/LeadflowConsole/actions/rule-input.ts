// The console's rule operations read the same kinds of input: optional UUIDs and a settings object.
import { NodeOperationError, type IExecuteFunctions } from 'n8n-workflow';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID parameter, or null when it is empty. */
export function optionalUuid(context: IExecuteFunctions, name: string, label: string, i: number): string | null {
	const value = context.getNodeParameter(name, i, '') as unknown;
	const raw = value === null || value === undefined ? '' : String(value).trim();
	if (!raw) return null;
	if (!UUID.test(raw)) {
		throw new NodeOperationError(context.getNode(), `The ${label} "${raw.slice(0, 60)}" is not a UUID`, {
			itemIndex: i,
			description: `Use the ${label} from the rules list (GET …/api/rules).`,
		});
	}
	return raw.toLowerCase();
}

/** A JSON object parameter (an object, or its JSON text). */
export function settingsObject(context: IExecuteFunctions, name: string, i: number): Record<string, unknown> {
	let value = context.getNodeParameter(name, i, {}) as unknown;
	if (typeof value === 'string') {
		try {
			value = value.trim() ? JSON.parse(value) : {};
		} catch {
			throw new NodeOperationError(context.getNode(), 'The rule settings are not valid JSON', {
				itemIndex: i,
				description: 'Send a JSON object of the rule\'s columns, e.g. {"name": "Follow-up", "daily_limit": 50}.',
			});
		}
	}
	if (value === null || typeof value !== 'object' || Array.isArray(value)) {
		throw new NodeOperationError(context.getNode(), 'The rule settings must be a JSON object of the rule\'s columns', {
			itemIndex: i,
			description: 'Send e.g. {"name": "Follow-up", "daily_limit": 50}.',
		});
	}
	return value as Record<string, unknown>;
}
