// Send's reading of queue_begin_send's answer (review S10, fragile): a message goes only on its own
// row saying send. The database answers every id asked, in the order asked, so a missing row is
// unreachable today; the safe reading of one (or of a row of another id at its place) is "not
// checked, not sent", never a send. Before, Send matched the rows it got and sent every message the
// answer said nothing about. The pure matching function, fed the answers directly.
import { matchBeginAnswers } from '../../../nodes/QueueLedger/helpers/beginAnswers';

const A = '0b9d2a52-1111-4c8e-9a61-7d5f0b2c4e13';
const B = '0b9d2a52-2222-4c8e-9a61-7d5f0b2c4e13';
const C = '0b9d2a52-3333-4c8e-9a61-7d5f0b2c4e13';

it('every id answered in order: send, or the refusal with its reason', () => {
	expect(matchBeginAnswers([A, B, C], [
		{ item_id: A, send: true, reason: null },
		{ item_id: B, send: false, reason: 'phone_mismatch' },
		{ item_id: C, send: false, reason: null },
	])).toEqual([{ kind: 'send' }, { kind: 'refused', reason: 'phone_mismatch' }, { kind: 'refused', reason: 'not_held' }]);
});

it('an answer missing a row: the ids without their row are unanswered (not checked, not sent)', () => {
	expect(matchBeginAnswers([A, B, C], [{ item_id: A, send: true, reason: null }])).toEqual([{ kind: 'send' }, { kind: 'unanswered' }, { kind: 'unanswered' }]);
	expect(matchBeginAnswers([A], [])).toEqual([{ kind: 'unanswered' }]);
});

it('a row of another id at a message\'s place (the middle row missing): never taken as that message\'s send', () => {
	expect(matchBeginAnswers([A, B, C], [
		{ item_id: A, send: true, reason: null },
		{ item_id: C, send: true, reason: null },
	])).toEqual([{ kind: 'send' }, { kind: 'unanswered' }, { kind: 'unanswered' }]);
});

it('a row without a readable id or send: unanswered, or refused; an upper-case id is the same id', () => {
	expect(matchBeginAnswers([A, B], [{ send: true }, { item_id: B.toUpperCase(), send: 'true' }])).toEqual([{ kind: 'unanswered' }, { kind: 'refused', reason: 'not_held' }]);
});
