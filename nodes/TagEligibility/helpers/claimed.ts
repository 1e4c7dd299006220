// The Claim operation's contact items: automation_claim_explained answers each rule's settings once
// (claimedRules, migration …1010_follow_up_claim_rules_once.sql); every item carries its own, as
// Generate Follow-Up reads it.
import { NodeApiError, type IExecuteFunctions, type JsonObject } from 'n8n-workflow';
import type { ClaimedContact, ClaimExplained } from '../../shared/contract';
import { APPLY_MIGRATIONS } from '../../shared/supabase';

/** The claimed contacts, each with its rule's settings. */
export function contactsWithRules(context: IExecuteFunctions, answer: ClaimExplained): ClaimedContact[] {
	const rules = answer.claimedRules as ClaimExplained['claimedRules'] | undefined;
	if (!rules) {
		// A database from before …1010 (its contacts carry `rule` themselves): the package is newer
		// than the migrations, and the two must move together (docs/supabase.md). The service's fault,
		// not the input's (a service_error, 500 in a webhook's answer, never a refused rule id).
		const message = `automation_claim_explained answered without claimedRules: this Supabase project's migrations are older than the Leadflow package; ${APPLY_MIGRATIONS}`;
		throw new NodeApiError(context.getNode(), { message } as JsonObject, { message });
	}
	return answer.contacts.map((contact) => ({ ...contact, rule: rules[contact.rule_id] }));
}
