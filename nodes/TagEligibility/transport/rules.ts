// Whether a rule exists (and, for a timeline, whether the contact has a state under it): what Explain
// and Timeline read when their answer is empty, to tell a rule that does not exist (not_found, as
// Snapshot says it) and a contact the rule never took from a rule with nothing to show. One read by
// primary key of ai_automation_rules, with the contact's state embedded (by its unique key), and only
// on an empty answer: an answer with rows needs no read.
import type { IExecuteFunctions } from 'n8n-workflow';
import { NotFoundError } from '../../shared/per-item';
import { getSupabaseClient, toNodeApiError } from '../../shared/supabase';

export interface RuleFound {
	/** Whether ai_automation_rules has the rule. */
	exists: boolean;
	/** Whether the contact asked about has a state under it (ai_automation_contact_states); false when none was asked. */
	hasState: boolean;
}

export async function findRule(context: IExecuteFunctions, ruleId: string, itemIndex: number, conversationId?: string, owner?: string | null): Promise<RuleFound> {
	const client = await getSupabaseClient(context);
	let query = conversationId
		? client.from('ai_automation_rules').select('id, ai_automation_contact_states(id)').eq('id', ruleId).eq('ai_automation_contact_states.conversation_id', conversationId)
		: client.from('ai_automation_rules').select('id').eq('id', ruleId);
	// With an owner, a rule of another owner is read as one that does not exist (Timeline's owner).
	if (owner) query = query.eq('user_id', owner);
	const { data, error } = await query.maybeSingle();
	if (error) throw toNodeApiError(context, error, `Reading rule ${ruleId} (ai_automation_rules) failed`, itemIndex);
	const row = data as { id: string; ai_automation_contact_states?: Array<{ id: string }> } | null;
	return { exists: row !== null, hasState: (row?.ai_automation_contact_states?.length ?? 0) > 0 };
}

/** A rule that does not exist, in Snapshot's words: a failed item's code is not_found. */
export function noSuchRule(context: IExecuteFunctions, ruleId: string, itemIndex: number): NotFoundError {
	return new NotFoundError(context.getNode(), `There is no automation rule with ID ${ruleId}`, {
		itemIndex,
		description: 'Check the rule ID against the ai_automation_rules table of this Supabase project.',
	});
}
