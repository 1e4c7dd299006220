// A claimed contact's Contact State ID as an item gives it. The database answers every uuid in its
// text form, lower case (`ai_automation_contact_states.id`), while an id typed by hand, copied from
// another tool or written by a Set node may be upper case, a valid UUID all the same: a node that
// looked the database's answer up by the id as given found nothing for it, although the database
// had acted on the contact (moved it to sending or generating). So every node reads the id through
// this function and uses that form alone, for the call and for looking up its answer.
import type { ParameterReader } from './default-fields';
import { UUID } from './valid-input';

/** The value as a Contact State ID: text, trimmed, lower case ('' for none). */
export function stateIdOf(value: unknown): string {
	return String(value ?? '').trim().toLowerCase();
}

/** An item's *Contact State ID* (the `stateId` parameter, by default its `state_id`), read as stateIdOf reads it. */
export function readStateId(read: ParameterReader, itemIndex: number): string {
	return stateIdOf(read('stateId', itemIndex, ''));
}

/** Whether a value read by stateIdOf is a UUID (the only form a contact state's id has). */
export function isStateId(stateId: string): boolean {
	return UUID.test(stateId);
}
