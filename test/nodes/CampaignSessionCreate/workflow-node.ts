// The workflows these tests build: a node at column x (its id unique within the workflow), and the
// Supabase credential the shipped workflows use.
import type { INode } from 'n8n-workflow';

export const CREDENTIAL = { leadflowSupabaseApi: { id: 'LfSupabaseApi001', name: 'Leadflow Supabase' } };

export const node = (name: string, x: number, type: string, typeVersion: number, parameters: INode['parameters'], credentials = {}): INode => ({
	id: `00000000-0000-4000-8000-${String(x).padStart(12, '0')}`,
	name,
	type,
	typeVersion,
	position: [x * 220, 0],
	parameters,
	credentials,
});
