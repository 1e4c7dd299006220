// The `tasks` of a launch: one candidate each (`phone_number`, optional `session` id and `name`).
// Every task is checked and every problem kept; phones are normalised to E.164, and a phone seen
// earlier in the same request is dropped (the first task with it wins) and reported as dropped. A
// blank name ("", or only white space and invisible format characters) is no name.
import type { CountryCode } from 'libphonenumber-js/max';
import { isBlank } from '../../shared/blank';
import { TEXT, textProblem, type TextRule } from '../../shared/valid-input';
import { isPlainObject } from './jsonValue';
import { normalisePhone } from '../../shared/phone';
import { shown, typeName, type Problem } from './problems';

export interface LaunchTask {
	/** The task's position in the request, kept so every answer can point back to it. */
	task_index: number;
	phone: string;
	session?: string;
	name?: string;
}

/**
 * A task whose session id was not used: its phone has a session in the campaign already (an earlier
 * launch made it), and a phone keeps its session, so the task is that session. The app made a new
 * id for a candidate already launched; it is told the id kept, to use for this candidate. Four
 * fields only: a relaunch may list every task (100,000), so what it means is said once, in the
 * Summary's sessions_kept_note, and the session's other fields are in `sessions`.
 */
export interface KeptSession {
	path: string;
	session_given: string;
	session: string;
	reason: 'phone_has_session';
}

export interface DroppedTask {
	path: string;
	phone_number: string;
	reason: 'duplicate_phone' | 'session_taken';
	message: string;
}

const TASK_FIELDS = ['session', 'phone_number', 'name'];
/** Longer input is not a phone number: refused before it is parsed. */
const PHONE_INPUT = { kind: 'line', max: 1000 } as const satisfies TextRule;

/**
 * An optional text field of a task, trimmed, or undefined when absent. With `blankIsNone`, blank
 * text (isBlank: empty, or only white space and format characters such as U+200B) is absent too: a
 * spreadsheet's blank cell, never a name stored or one replacing a session's name on a relaunch.
 */
function optionalText(task: Record<string, unknown>, field: string, path: string, rule: TextRule, problems: Problem[], blankIsNone = false): string | undefined {
	const value = task[field];
	if (value === undefined || value === null) return undefined;
	if (blankIsNone && typeof value === 'string' && isBlank(value)) return undefined;
	if (typeof value !== 'string') {
		problems.push({ path: `${path}.${field}`, message: `must be a string, got ${typeName(value)}` });
		return undefined;
	}
	const problem = textProblem(value, rule);
	if (problem) {
		problems.push({ path: `${path}.${field}`, message: problem });
		return undefined;
	}
	return value.trim();
}

function checkTask(raw: unknown, index: number, country: CountryCode, problems: Problem[]): LaunchTask | undefined {
	const path = `tasks[${index}]`;
	if (!isPlainObject(raw)) {
		problems.push({ path, message: `must be an object like {"phone_number": "+61491570156"}, got ${typeName(raw)}` });
		return undefined;
	}
	const before = problems.length;
	for (const key of Object.keys(raw)) {
		if (!TASK_FIELDS.includes(key)) {
			problems.push({ path: `${path}.${key.slice(0, 40)}`, message: `is not a field of a task (known: ${TASK_FIELDS.join(', ')})` });
		}
	}
	let phone: string | undefined;
	const rawPhone = raw.phone_number;
	if (rawPhone === undefined || rawPhone === null) {
		problems.push({ path: `${path}.phone_number`, message: 'is required' });
	} else if (typeof rawPhone !== 'string') {
		problems.push({ path: `${path}.phone_number`, message: `must be a string like "+61491570156", got ${typeName(rawPhone)} ${shown(rawPhone)}` });
	} else {
		const textIssue = textProblem(rawPhone, PHONE_INPUT);
		const result = textIssue ? { problem: textIssue } : normalisePhone(rawPhone, country);
		if ('problem' in result) problems.push({ path: `${path}.phone_number`, message: result.problem });
		else phone = result.e164;
	}
	const session = optionalText(raw, 'session', path, TEXT.sessionId, problems);
	// A blank name (a spreadsheet's empty cell: "", spaces, or only invisible characters such as
	// U+200B) is no name: the task is created without one, never the whole launch refused for it, and
	// on a relaunch it leaves the session's name as it is.
	const name = optionalText(raw, 'name', path, TEXT.personName, problems, true);
	if (problems.length > before || phone === undefined) return undefined;
	return { task_index: index, phone, session, name };
}

export interface CheckedTasks {
	tasks: LaunchTask[];
	dropped: DroppedTask[];
}

export function checkTasks(raw: unknown[], country: CountryCode, problems: Problem[]): CheckedTasks {
	const tasks: LaunchTask[] = [];
	const dropped: DroppedTask[] = [];
	const firstByPhone = new Map<string, number>();
	const firstBySession = new Map<string, number>();
	raw.forEach((element, index) => {
		const task = checkTask(element, index, country, problems);
		if (!task) return;
		const earlier = firstByPhone.get(task.phone);
		if (earlier !== undefined) {
			dropped.push({
				path: `tasks[${index}]`,
				phone_number: task.phone,
				reason: 'duplicate_phone',
				message: `has the same phone number as tasks[${earlier}]; only the first is kept`,
			});
			return;
		}
		if (task.session !== undefined) {
			const sameSession = firstBySession.get(task.session);
			if (sameSession !== undefined) {
				problems.push({
					path: `tasks[${index}].session`,
					message: `repeats the session id of tasks[${sameSession}] with a different phone number; each session is one candidate`,
				});
				return;
			}
			firstBySession.set(task.session, index);
		}
		firstByPhone.set(task.phone, index);
		tasks.push(task);
	});
	return { tasks, dropped };
}
