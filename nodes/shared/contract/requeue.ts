// =============================================================================================
// automation_requeue: a rule's failed follow-up contacts due again (migration …1500)
// =============================================================================================
export interface RequeueArgs {
	p_rule_id: string;
	/** 1 to 1,000 contacts; null: every failed contact of the rule. */
	p_conversation_ids?: string[] | null;
	/** send_uncertain contacts: left as they are, or requeued (their duplicate guard released) once checked not delivered. */
	p_uncertain?: 'leave' | 'requeue';
	p_now?: string;
	/** Only a rule of this owner (another owner's: P0002, as an unknown rule); null: any owner's (migration …2670). */
	p_user_id?: string | null;
}

/** One contact: a failed one of the rule, or one asked for. */
export interface RequeueResult {
	conversation_id: string;
	/** null when the contact has no state under the rule (not_found). */
	state_id: string | null;
	/**
	 * requeued: due again now (the next claim may take it); uncertain_left: its last send may have reached
	 * it and Uncertain Sends was leave; not_failed: it had not failed (`stage` says where it is);
	 * not_found: the rule never claimed it.
	 */
	outcome: 'requeued' | 'uncertain_left' | 'not_failed' | 'not_found';
	/** not_failed: its stage; null otherwise. */
	stage: string | null;
	/** Why it had failed (send_uncertain, rejected, a Graph error code…), kept on the state. */
	error_code: string | null;
	/** Its send_uncertain guard was released: the same follow-up number may be sent again. */
	released_guard: boolean;
}
