// The refusals name an operation as the node lists it (actions/operation-names.ts), while the node's
// description keeps its option names as literals so that n8n's lint checks them. This holds the two
// equal: an option renamed in one place and not the other fails here.
import type { INodePropertyOptions } from 'n8n-workflow';
import { LeadflowConsole } from '../../../nodes/LeadflowConsole/LeadflowConsole.node';
import { OPERATION_NAMES, operationName } from '../../../nodes/LeadflowConsole/actions/operation-names';

const listed = () =>
	new LeadflowConsole().description.properties
		.filter((property) => property.name === 'operation')
		.flatMap((property) => (property.options ?? []) as INodePropertyOptions[])
		.map((option) => [String(option.value), option.name] as const);

describe('Leadflow Console operation names', () => {
	it('are the names the node lists, for every operation it lists and no other', () => {
		expect(Object.fromEntries(listed())).toEqual(OPERATION_NAMES);
	});

	it('name an unknown operation value as it is', () => {
		expect(operationName('ruleWrite')).toBe('Save Rule');
		expect(operationName('somethingElse')).toBe('somethingElse');
	});
});
