// A conversation's messages as an item hands them to a node that shows them to a model (Auto
// Assign's Analyze, Generate Follow-Up): a list of {direction, text, sent_at}, as a claim, a query
// of messenger_messages or a hand-written item gives them. One reading for both nodes:
//   - direction: "inbound" (the contact's) or "outbound" (the Page's), in any case, trimmed.
//     Anything else (a missing one included, such as a chat's {role, content}) is refused naming
//     the message: read as the Page's or the contact's, it would put one side's words in the
//     other's mouth.
//   - order: oldest first, as the prompts read them. When every message has a time (sent_at), by
//     it: a query or the Graph API may list newest first, and a node keeping the last N must keep
//     the newest; otherwise as given.
// A strict reading (Generate Follow-Up) also refuses an entry that is not a message (an object) and
// a text that is not text; Analyze reads such an entry as nothing and such a text as none, as it
// always has.

export interface ConversationMessage {
	/** inbound: from the contact; outbound: from the Page. */
	direction: 'inbound' | 'outbound';
	text: string;
	sent_at?: string;
}

export interface MessageReading {
	/** How a refusal names entry `position` of the list, e.g. `Last Messages[2]`. */
	name: (position: number) => string;
	/** What to do, said with a refused direction. */
	directionHint: string;
	/**
	 * Set: an entry that is not an object, and a text that is neither a string nor empty (null or
	 * absent: a message without text, such as an attachment), are refused with these hints.
	 */
	strict?: { entryHint: string; textHint: string };
	/** The error a refusal throws (the node's own, for its item). */
	refuse: (message: string, description: string) => Error;
}

/** A value as a refusal quotes it, cut to 60 characters. */
function shown(raw: unknown): string {
	const text = typeof raw === 'string' ? raw : raw === undefined ? '' : JSON.stringify(raw);
	return text.slice(0, 60);
}

function directionOf(raw: unknown, position: number, reading: MessageReading): ConversationMessage['direction'] {
	const text = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
	if (text === 'inbound' || text === 'outbound') return text;
	throw reading.refuse(`${reading.name(position)}.direction "${shown(raw)}" is neither inbound nor outbound`, reading.directionHint);
}

function textOf(raw: unknown, position: number, reading: MessageReading): string {
	if (typeof raw === 'string') return raw;
	if (raw === null || raw === undefined || !reading.strict) return '';
	throw reading.refuse(`${reading.name(position)}.text is not text (got ${shown(raw)})`, reading.strict.textHint);
}

/** The messages, each direction checked, oldest first (by sent_at when every message has one). */
export function readConversationMessages(entries: readonly unknown[], reading: MessageReading): ConversationMessage[] {
	const messages: ConversationMessage[] = [];
	entries.forEach((entry, position) => {
		// (Analyze has always read a list in the list as a message, refusing its missing direction.)
		if (typeof entry !== 'object' || entry === null || (reading.strict && Array.isArray(entry))) {
			if (!reading.strict) return;
			throw reading.refuse(`${reading.name(position)} is not a message (got ${shown(entry)})`, reading.strict.entryHint);
		}
		const message = entry as Record<string, unknown>;
		messages.push({
			direction: directionOf(message.direction, position, reading),
			text: textOf(message.text, position, reading),
			...(typeof message.sent_at === 'string' && { sent_at: message.sent_at }),
		});
	});
	const times = messages.map((message) => (message.sent_at === undefined ? Number.NaN : Date.parse(message.sent_at)));
	if (messages.length < 2 || times.some((time) => Number.isNaN(time))) return messages;
	const order = messages.map((_, index) => index).sort((a, b) => times[a] - times[b] || a - b);
	return order.map((index) => messages[index]);
}
