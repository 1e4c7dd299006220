// Generated malformed launch requests: missing and mistyped fields, empty and huge arrays, invalid
// and duplicate phones, very long and broken Unicode strings, NUL bytes, nested junk, and wrong
// content types. Each is the raw HTTP body and its content type, so the end-to-end test sends
// exactly these bytes to real n8n; `json` is the parsed body where there is one (for the
// in-process run, which starts after n8n's body parser). Every case with a `json` body names what
// it must be refused for: the status and the path of every problem, so a case refused for another
// reason than the one it was written for fails.
import { seedLaunch, ukMobiles } from '../../helpers/campaign';

export interface Refusal {
	status: number;
	/** The path of every problem the answer lists, each as often as it is listed (in any order). */
	paths: string[];
}

export interface MalformedCase {
	label: string;
	contentType: string | undefined;
	raw: string;
	/** The body n8n's parser hands to the workflow, when the raw text is JSON sent as JSON. */
	json?: unknown;
	/** What the workflow answers for `json`. */
	refused?: Refusal;
	/** Sent as JSON but not JSON: n8n's body parser answers 422 itself before any workflow runs. */
	unparseable?: true;
}

const FIELDS = ['campaign', 'tasks', 'job_description', 'objectives'] as const;
const WRONG_TYPES: Array<[string, unknown]> = [
	['null', null],
	['zero', 0],
	['a float', 1.5],
	['true', true],
	['false', false],
	['an empty array', []],
	['an array of junk', [1, 'x', null]],
	['an object', { nested: { deeper: [1, 2, 3] } }],
	['a number string', '123'],
];

/** A 400 whose problems are at `paths`. */
const at = (...paths: string[]): Refusal => ({ status: 400, paths });

function jsonCase(label: string, body: unknown, refused: Refusal): MalformedCase {
	const raw = JSON.stringify(body);
	return { label, contentType: 'application/json', raw, json: JSON.parse(raw), refused };
}

/** A raw JSON text with escapes JSON.stringify would not produce (lone surrogates stay escaped either way). */
function rawJsonCase(label: string, raw: string, refused: Refusal): MalformedCase {
	return { label, contentType: 'application/json', raw, json: JSON.parse(raw), refused };
}

/** `tasks[i].<field>` for each i. */
const eachTask = (indexes: number[], ...fields: string[]) => indexes.flatMap((index) => fields.map((field) => `tasks[${index}].${field}`));

const base = () => seedLaunch();
type Body = Record<string, unknown> & { tasks: Array<Record<string, unknown>> };
const edited = (edit: (body: Body) => void): Body => {
	const body = base() as unknown as Body;
	edit(body);
	return body;
};

function missingFields(): MalformedCase[] {
	const cases: MalformedCase[] = [];
	for (const field of FIELDS) cases.push(jsonCase(`missing ${field}`, edited((body) => delete body[field]), at(field)));
	for (let mask = 3; mask < 16; mask++) {
		if ([4, 8].includes(mask)) continue;
		const missing = FIELDS.filter((_, bit) => mask & (1 << bit));
		if (missing.length < 2) continue;
		cases.push(jsonCase(`missing ${missing.join(' and ')}`, edited((body) => missing.forEach((field) => delete body[field])), at(...missing)));
	}
	cases.push(jsonCase('an empty object', {}, at(...FIELDS)));
	cases.push(jsonCase('a task without phone_number', edited((body) => delete body.tasks[1].phone_number), at('tasks[1].phone_number')));
	cases.push(jsonCase('phone_number under another name', edited((body) => (body.tasks = [{ phone: '+61491570156' }])), at('tasks[0].phone', 'tasks[0].phone_number')));
	return cases;
}

function mistypedFields(): MalformedCase[] {
	const cases: MalformedCase[] = [];
	for (const field of FIELDS) {
		for (const [name, value] of WRONG_TYPES) {
			// A non-empty object is what objectives should be; a string is what campaign/job_description should be.
			if (field === 'objectives' && name === 'an object') continue;
			if ((field === 'campaign' || field === 'job_description') && name === 'a number string') continue;
			// Each element of a tasks array of junk is a problem of its own.
			const refused = field === 'tasks' && name === 'an array of junk' ? at('tasks[0]', 'tasks[1]', 'tasks[2]') : at(field);
			cases.push(jsonCase(`${field} is ${name}`, edited((body) => ((body as Record<string, unknown>)[field] = value)), refused));
		}
	}
	for (const [name, value] of WRONG_TYPES) {
		if (name === 'a number string') continue;
		cases.push(jsonCase(`phone_number is ${name}`, edited((body) => (body.tasks[0].phone_number = value)), at('tasks[0].phone_number')));
		if (name !== 'null') {
			cases.push(jsonCase(`session is ${name}`, edited((body) => (body.tasks[0].session = value)), at('tasks[0].session')));
			cases.push(jsonCase(`name is ${name}`, edited((body) => (body.tasks[0].name = value)), at('tasks[0].name')));
		}
		// An object is a task, but one with an unknown field and no phone_number.
		const refused = name === 'an object' ? at('tasks[1].nested', 'tasks[1].phone_number') : at('tasks[1]');
		cases.push(jsonCase(`a task is ${name}`, edited((body) => (body.tasks[1] = value as Record<string, unknown>)), refused));
	}
	cases.push(jsonCase('phone_number as a number', edited((body) => (body.tasks[0].phone_number = 61491570156)), at('tasks[0].phone_number')));
	return cases;
}

function arrays(): MalformedCase[] {
	const huge = (count: number) => edited((body) => (body.tasks = ukMobiles(count).map((phone_number) => ({ phone_number }))));
	return [
		jsonCase('no tasks', edited((body) => (body.tasks = [])), at('tasks')),
		jsonCase('10,001 tasks (over the limit)', huge(10_001), at('tasks')),
		jsonCase('25,000 tasks', huge(25_000), at('tasks')),
		jsonCase(
			'10,000 tasks, one of them broken',
			edited((body) => {
				body.tasks = ukMobiles(10_000).map((phone_number) => ({ phone_number }));
				body.tasks[9_999].phone_number = '12';
			}),
			at('tasks[9999].phone_number'),
		),
		jsonCase(
			'1,000 tasks, all invalid',
			edited((body) => (body.tasks = Array.from({ length: 1000 }, (_, i) => ({ phone_number: `x${i}` })))),
			at(...eachTask(Array.from({ length: 1000 }, (_, i) => i), 'phone_number')),
		),
		jsonCase('tasks of empty arrays', edited((body) => (body.tasks = [[], [], []] as unknown as Body['tasks'])), at('tasks[0]', 'tasks[1]', 'tasks[2]')),
	];
}

const INVALID_PHONES = [
	'', ' ', '12', 'abc', '+', '+0', '+44', '00', '+999999999999999999', '07700 900123', '+61 491 570 15', '+1 000 000 0000',
	'tel:', '+61491570156 ext. 12', '6149157015661491570156', '9'.repeat(41), '+44-7853-ABCDEF', '(((())))', '+44 20 7946 095',
	'+8860000000000', '0'.repeat(15), '+1 415 555 267', '☎️ 0491 570 156?', '+61\u0000491570156', '+61 491 570 156\n',
	'+61 491 57O 156', '0061 491 570 15', '+33 6', '+49 1', '+1 (212) 555-01', '+7 999', '+86 138 0013 800', '+91 98765 4321',
	'+61 4 1234 567', '0044', '+++61491570156', '+61 491 570 156 x', '++', '+44 0000 000000', '1-800-FLOWERS-XL',
];

function phones(): MalformedCase[] {
	const cases = INVALID_PHONES.map((phone, index) =>
		jsonCase(`invalid phone #${index} ${JSON.stringify(phone).slice(0, 30)}`, edited((body) => (body.tasks[1].phone_number = phone)), at('tasks[1].phone_number')),
	);
	cases.push(
		jsonCase('one session id for two phones', edited((body) => (body.tasks[1].session = body.tasks[0].session)), at('tasks[1].session')),
		// The duplicate (tasks[3]) is dropped and reported as dropped, not as a problem.
		jsonCase(
			'duplicate phones and an invalid one',
			edited((body) => {
				body.tasks.push({ phone_number: '0061 491 570 156' }, { phone_number: 'nope' });
			}),
			at('tasks[4].phone_number'),
		),
		jsonCase(
			'every task duplicates the first and one is invalid',
			edited((body) => {
				body.tasks = [...Array.from({ length: 50 }, () => ({ phone_number: '+61491570156' })), { phone_number: '+44' }];
			}),
			at('tasks[50].phone_number'),
		),
	);
	return cases;
}

function strings(): MalformedCase[] {
	const long = (n: number) => 'x'.repeat(n);
	const cases: MalformedCase[] = [
		jsonCase('campaign of 201 characters', edited((body) => (body.campaign = long(201))), at('campaign')),
		jsonCase('campaign of 1 MB', edited((body) => (body.campaign = long(1_000_000))), at('campaign')),
		jsonCase('campaign of spaces', edited((body) => (body.campaign = '     ')), at('campaign')),
		jsonCase('campaign empty', edited((body) => (body.campaign = '')), at('campaign')),
		jsonCase('job_description of 50,001 characters', edited((body) => (body.job_description = long(50_001))), at('job_description')),
		jsonCase('job_description of 5 MB', edited((body) => (body.job_description = 'é'.repeat(2_500_000))), at('job_description')),
		jsonCase('name of 201 characters', edited((body) => (body.tasks[0].name = long(201))), at('tasks[0].name')),
		jsonCase('session of 129 characters', edited((body) => (body.tasks[0].session = long(129))), at('tasks[0].session')),
		jsonCase('session with a space', edited((body) => (body.tasks[0].session = 'a b')), at('tasks[0].session')),
		jsonCase('name with a bell character', edited((body) => (body.tasks[0].name = 'Ann\u0007')), at('tasks[0].name')),
		jsonCase('campaign with a line break', edited((body) => (body.campaign = 'Plumber\nLondon')), at('campaign')),
		jsonCase('campaign_name of 10,000 emoji', edited((body) => (body.campaign_name = '🔧'.repeat(10_000))), at('campaign_name')),
		// 50 five-character emoji (person, skin tone, joiner, sign, variation selector): 250 characters.
		jsonCase('name of 300 emoji', edited((body) => (body.tasks[0].name = '👷🏽‍♀️'.repeat(50))), at('tasks[0].name')),
	];
	const template = JSON.stringify(seedLaunch('plumber-london_abc123xyz'));
	for (const [field, value, path] of [
		['campaign', 'plumber-london_abc123xyz', 'campaign'],
		['job_description', 'Plumber, London, £45k, full time. Gas Safe registered; own van preferred.', 'job_description'],
		['name', 'Alice Carter', 'tasks[0].name'],
		['phone_number', '+61491570156', 'tasks[0].phone_number'],
	] as const) {
		if (!template.includes(value)) throw new Error(`the template has no ${field} ${value}`);
		cases.push(rawJsonCase(`${field} with a lone high surrogate`, template.replace(JSON.stringify(value).slice(1, -1), `${value.slice(0, 3)}\\ud800${value.slice(3)}`), at(path)));
		cases.push(rawJsonCase(`${field} with a lone low surrogate`, template.replace(JSON.stringify(value).slice(1, -1), `\\udc00${value}`), at(path)));
	}
	return cases;
}

function fieldNames(): MalformedCase[] {
	const cases: MalformedCase[] = [];
	for (const [name, value] of WRONG_TYPES) {
		if (name === 'null' || name === 'a number string') continue;
		cases.push(jsonCase(`campaign_name is ${name}`, edited((body) => (body.campaign_name = value)), at('campaign_name')));
	}
	for (const [wrong, right] of [
		['Campaign', 'campaign'],
		['task', 'tasks'],
		['jobDescription', 'job_description'],
		['objective', 'objectives'],
		['campaign_id', 'campaign'],
	]) {
		cases.push(
			jsonCase(
				`${wrong} instead of ${right}`,
				edited((body) => {
					body[wrong] = body[right];
					delete body[right];
				}),
				at(wrong, right),
			),
		);
		cases.push(jsonCase(`${wrong} as well as ${right}`, edited((body) => (body[wrong] = body[right])), at(wrong)));
	}
	// Every task has a phone_number and a session; the first two have a name, the third none.
	for (const [wrong, right, paths] of [
		['phoneNumber', 'phone_number', eachTask([0, 1, 2], 'phoneNumber', 'phone_number')],
		['session_id', 'session', eachTask([0, 1, 2], 'session_id')],
		['display_name', 'name', eachTask([0, 1], 'display_name')],
	] as const) {
		cases.push(
			jsonCase(
				`tasks use ${wrong} for ${right}`,
				edited((body) => {
					body.tasks = body.tasks.map((task) => ({ [wrong]: task[right], ...(right === 'phone_number' ? {} : { phone_number: task.phone_number }) }));
				}),
				at(...paths),
			),
		);
	}
	return cases;
}

function nulBytes(): MalformedCase[] {
	return [
		jsonCase('NUL in campaign', edited((body) => (body.campaign = 'plumber\u0000london')), at('campaign')),
		jsonCase('NUL alone as campaign', edited((body) => (body.campaign = '\u0000')), at('campaign')),
		jsonCase('NUL in job_description', edited((body) => (body.job_description = 'Plumber\u0000')), at('job_description')),
		jsonCase('NUL in name', edited((body) => (body.tasks[0].name = 'Al\u0000ice')), at('tasks[0].name')),
		jsonCase('NUL in session', edited((body) => (body.tasks[0].session = '\u0000')), at('tasks[0].session')),
		jsonCase('NUL in phone_number', edited((body) => (body.tasks[0].phone_number = '\u0000')), at('tasks[0].phone_number')),
		jsonCase('NUL in an objective value', edited((body) => (body.objectives = { interested: { note: 'a\u0000b' } })), at('objectives.interested.note')),
		// A key is named as JSON in the path, since it may hold anything.
		jsonCase('NUL in an objective key', edited((body) => (body.objectives = { 'inter\u0000ested': true })), at('objectives."inter\\u0000ested"')),
		jsonCase('NUL as a field name', edited((body) => (body['\u0000'] = 1)), at('\u0000')),
		jsonCase('NUL as a task field name', edited((body) => (body.tasks[0]['\u0000'] = 1)), at('tasks[0].\u0000')),
		jsonCase('NUL in campaign_name', edited((body) => (body.campaign_name = 'x\u0000')), at('campaign_name')),
	];
}

function nestedJunk(): MalformedCase[] {
	let deep: unknown = 'bottom';
	for (let i = 0; i < 60; i++) deep = { level: deep };
	let deepArray: unknown = [];
	for (let i = 0; i < 500; i++) deepArray = [deepArray];
	const manyKeys = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i]));
	return [
		// Six levels are allowed: the problem is where the seventh starts.
		jsonCase('objectives nested 60 levels', edited((body) => (body.objectives = { interested: deep })), at(`objectives.interested${'.level'.repeat(5)}`)),
		jsonCase('objectives with 1,000 keys', edited((body) => (body.objectives = manyKeys)), at('objectives')),
		jsonCase(
			'objectives of 100 kB',
			edited((body) => (body.objectives = { blob: 'y'.repeat(4000), more: Array.from({ length: 30 }, () => 'z'.repeat(3500)) })),
			at('objectives'),
		),
		jsonCase('objectives with an empty key', edited((body) => (body.objectives = { '': true })), at('objectives.""')),
		jsonCase('an unknown field with nested junk', edited((body) => (body.extra = { a: [{ b: { c: [null, { d: 1 }] } }] })), at('extra')),
		jsonCase('a task with nested junk', edited((body) => (body.tasks[0].meta = { deep })), at('tasks[0].meta')),
		jsonCase('tasks nested 500 levels', edited((body) => (body.tasks = deepArray as Body['tasks'])), at('tasks[0]')),
		jsonCase('phone_number as an object', edited((body) => (body.tasks[0].phone_number = { number: '+61491570156' })), at('tasks[0].phone_number')),
		jsonCase('the example payload wrapped in an array', [base()], at('body')),
		jsonCase('the example payload wrapped in an object', { payload: base() }, at('payload', ...FIELDS)),
		jsonCase('__proto__ as a field', JSON.parse(`{"__proto__": {"campaign": "x"}, "tasks": []}`), at('__proto__', 'campaign', 'job_description', 'objectives', 'tasks')),
		jsonCase(
			'constructor as a task field',
			edited((body) => (body.tasks[0] = JSON.parse('{"constructor": {"prototype": {}}, "phone_number": "+61491570156"}'))),
			at('tasks[0].constructor'),
		),
	];
}

function contentTypes(): MalformedCase[] {
	const json = JSON.stringify(base());
	return [
		{ label: 'JSON sent as text/plain', contentType: 'text/plain', raw: json },
		{ label: 'JSON sent without a content type', contentType: undefined, raw: json },
		{ label: 'form-urlencoded', contentType: 'application/x-www-form-urlencoded', raw: 'campaign=plumber-london_abc123xyz&tasks=%2B61491570156' },
		{ label: 'XML', contentType: 'application/xml', raw: '<launch><campaign>x</campaign></launch>' },
		{ label: 'JSON sent as octet-stream', contentType: 'application/octet-stream', raw: json },
		{ label: 'truncated JSON', contentType: 'application/json', raw: json.slice(0, 40), unparseable: true },
		{ label: 'JSON with a trailing comma', contentType: 'application/json', raw: '{"campaign": "x",}', unparseable: true },
		{ label: 'an empty JSON body', contentType: 'application/json', raw: '' },
		{ label: 'not JSON at all', contentType: 'application/json', raw: 'hello', unparseable: true },
		{ label: 'JSON null', contentType: 'application/json', raw: 'null', json: null, refused: at('body') },
		{ label: 'a JSON number', contentType: 'application/json', raw: '42', json: 42, refused: at('body') },
		{ label: 'a JSON string', contentType: 'application/json', raw: '"launch"', json: 'launch', refused: at('body') },
		{ label: 'JSON true', contentType: 'application/json', raw: 'true', json: true, refused: at('body') },
		{ label: 'a JSON array', contentType: 'application/json', raw: '[]', json: [], refused: at('body') },
		{ label: 'binary junk', contentType: 'application/json', raw: '\u00ff\u00fe\u0000\u0001junk', unparseable: true },
		{ label: 'a multipart form', contentType: 'multipart/form-data; boundary=xyz', raw: '--xyz\r\nContent-Disposition: form-data; name="campaign"\r\n\r\nx\r\n--xyz--\r\n' },
	];
}

export function malformedLaunches(): MalformedCase[] {
	return [...missingFields(), ...mistypedFields(), ...arrays(), ...phones(), ...strings(), ...fieldNames(), ...nulBytes(), ...nestedJunk(), ...contentTypes()];
}
