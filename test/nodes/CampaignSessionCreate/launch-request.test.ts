// The launch request's checks, without the database: every problem reported at once with its
// path, phones normalised, duplicates dropped and said so, campaign ids made from names.
import { campaignIdFor, isCampaignId, slugOf } from '../../../nodes/CampaignSessionCreate/helpers/campaignId';
import { checkLaunchRequest, type LaunchCheck } from '../../../nodes/CampaignSessionCreate/helpers/launchRequest';
import { loadPhoneLibrary } from '../../../nodes/shared/phone';
import { seedLaunch } from '../../helpers/campaign';

const settings = { defaultCountry: 'GB' as const, maxTasks: 10_000 };

function problemsOf(check: LaunchCheck) {
	if (!('problems' in check)) throw new Error('expected problems, got a valid request');
	return check.problems;
}

function requestOf(check: LaunchCheck) {
	if ('problems' in check) throw new Error(`expected a valid request, got ${JSON.stringify(check.problems)}`);
	return check.request;
}

beforeAll(loadPhoneLibrary);

describe('checkLaunchRequest', () => {
	it('accepts the example launch and normalises every phone to E.164', () => {
		const request = requestOf(checkLaunchRequest(seedLaunch('plumber-london_abc123xyz'), settings));
		expect(request.campaign.name_uid).toBe('plumber-london_abc123xyz');
		expect(request.tasks.map((task) => task.phone)).toEqual(['+61491570156', '+61491570157', '+442079460958']);
		expect(request.tasks[0]).toMatchObject({ task_index: 0, name: 'Alice Carter' });
		expect(request.dropped).toEqual([]);
	});

	it('reports every problem at once, each with its path', () => {
		const problems = problemsOf(
			checkLaunchRequest(
				{
					campaign: 42,
					tasks: [
						{ phone_number: '+61491570156' },
						{ phone_number: 'not a phone' },
						'junk',
						{ phone_number: 61491570156, name: { first: 'x' } },
						{ phone: '+61491570158' },
						{ phone_number: '12345', session: 'has space' },
					],
					objectives: [],
					extra: true,
				},
				settings,
			),
		);
		const paths = problems.map((problem) => problem.path);
		expect(paths).toEqual(
			expect.arrayContaining([
				'extra',
				'campaign',
				'job_description',
				'objectives',
				'tasks[1].phone_number',
				'tasks[2]',
				'tasks[3].phone_number',
				'tasks[3].name',
				'tasks[4].phone',
				'tasks[4].phone_number',
				'tasks[5].phone_number',
				'tasks[5].session',
			]),
		);
		expect(paths).not.toContain('tasks[0].phone_number');
		expect(problems.find((problem) => problem.path === 'job_description')?.message).toBe('is required');
		expect(problems.find((problem) => problem.path === 'tasks[3].phone_number')?.message).toMatch(/must be a string/);
	});

	it('drops a phone seen earlier in the request (written differently) and says which task it repeats', () => {
		const body = seedLaunch('plumber-london_abc123xyz');
		body.tasks.push({ phone_number: '0061 491 570 156', name: 'Alice again' });
		const request = requestOf(checkLaunchRequest(body, settings));
		expect(request.tasks).toHaveLength(3);
		expect(request.dropped).toEqual([
			{ path: 'tasks[3]', phone_number: '+61491570156', reason: 'duplicate_phone', message: expect.stringContaining('tasks[0]') },
		]);
	});

	it('reads a WhatsApp id (the country code without +) as that number, so it repeats the phone written with +; a number whose other reading is no mobile is the national one', () => {
		const germany = { ...settings, defaultCountry: 'DE' as const };
		const request = requestOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: '+49 171 1234567' }, { phone_number: '491711234567' }] }, germany));
		expect(request.tasks.map((task) => task.phone)).toEqual(['+491711234567']);
		expect(request.dropped).toEqual([{ path: 'tasks[1]', phone_number: '+491711234567', reason: 'duplicate_phone', message: expect.stringContaining('tasks[0]') }]);
		// 390 376 4953 is an Italian mobile as written (+39 0376 4953, after the 39, a landline).
		const italy = { ...settings, defaultCountry: 'IT' as const };
		const launch = requestOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: '390 376 4953' }, { phone_number: '333 123 4567' }] }, italy));
		expect(launch.tasks.map((task) => task.phone)).toEqual(['+393903764953', '+393331234567']);
	});

	it('refuses a WhatsApp id of another country that is also a landline of the default one, and a numeric column\'s "….0"; reads a +7 id in KZ', () => {
		const germany = { ...settings, defaultCountry: 'DE' as const };
		expect(problemsOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: '33612345678' }, { phone_number: '491711234567.0' }] }, germany))).toEqual([
			{ path: 'tasks[0].phone_number', message: expect.stringMatching(/^is ambiguous in DE without a \+ .*\+4933612345678.*\+33612345678 \(FR\)/) },
			{ path: 'tasks[1].phone_number', message: expect.stringMatching(/^ends in a decimal part/) },
		]);
		const kazakhstan = { ...settings, defaultCountry: 'KZ' as const };
		expect(requestOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: '79123456789' }] }, kazakhstan)).tasks.map((task) => task.phone)).toEqual(['+79123456789']);
	});

	it('reads a blank name ("" or whitespace only, a spreadsheet\'s empty cell) as no name, like a task without one; a name with a control character is still refused', () => {
		const body = { ...seedLaunch(), tasks: [{ phone_number: '+61491570156', name: '' }, { phone_number: '+61491570157', name: '  \u00a0 ' }, { phone_number: '+61491570158', name: '\t' }, { phone_number: '+61491570159' }] };
		const request = requestOf(checkLaunchRequest(body, settings));
		expect(request.tasks.map((task) => [task.phone, task.name])).toEqual([
			['+61491570156', undefined],
			['+61491570157', undefined],
			['+61491570158', undefined],
			['+61491570159', undefined],
		]);
		expect(problemsOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: '+61491570156', name: 'Ann\u0007' }] }, settings))).toEqual([
			{ path: 'tasks[0].name', message: expect.stringMatching(/control character/) },
		]);
	});

	// One rule for blank (nodes/shared/blank.ts, shared with Add Leads and the database's
	// leadflow_private.is_blank): a name of only invisible characters is no name.
	it('reads a name of only invisible characters (U+200B, U+2060, soft hyphen) as no name; a visible name keeps them', () => {
		const body = { ...seedLaunch(), tasks: [{ phone_number: '+61491570156', name: '\u200b' }, { phone_number: '+61491570157', name: ' \u2060\u00ad\u200b ' }, { phone_number: '+61491570158', name: '\u200bAnn' }] };
		expect(requestOf(checkLaunchRequest(body, settings)).tasks.map((task) => task.name)).toEqual([undefined, undefined, '\u200bAnn']);
	});

	// A campaign's name is required where a task's is not: one that shows nothing is refused naming
	// its field, as "" and spaces were (JavaScript's trim() keeps U+200B, so it was stored).
	it('refuses a campaign name of only invisible characters (U+200B, U+2060), in campaign and campaign_name, naming the field', () => {
		const blank = /^is blank: it shows nothing .*U\+200B.*give the campaign a name$/;
		expect(problemsOf(checkLaunchRequest(seedLaunch('\u200b'), settings))).toEqual([{ path: 'campaign', message: expect.stringMatching(blank) }]);
		expect(problemsOf(checkLaunchRequest({ ...seedLaunch('plumber-london_abc123xyz'), campaign_name: ' \u2060\u200b ' }, settings))).toEqual([
			{ path: 'campaign_name', message: expect.stringMatching(blank) },
		]);
		expect(problemsOf(checkLaunchRequest(seedLaunch('  '), settings))).toEqual([{ path: 'campaign', message: 'is empty' }]);
		expect(requestOf(checkLaunchRequest(seedLaunch('\u200bPlumbers'), settings)).campaign.name).toBe('\u200bPlumbers');
	});

	// The format characters that draw a glyph (U+06DD end of ayah, U+0600 Arabic number sign: Unicode's
	// Prepended_Concatenation_Mark) show even alone: a name, in campaign and campaign_name, as in
	// the database (migration 20261201002590_names_blank_rule_visible_marks.sql). Before, refused as
	// "is blank: it shows nothing".
	it('takes a campaign name of a format character that draws a glyph (U+06DD, U+0600) as a name', () => {
		expect(requestOf(checkLaunchRequest(seedLaunch('\u06dd'), settings)).campaign.name).toBe('\u06dd');
		expect(requestOf(checkLaunchRequest({ ...seedLaunch('plumber-london_abc123xyz'), campaign_name: '\u0600\u0661\u0662' }, settings)).campaign.name).toBe('\u0600\u0661\u0662');
		expect(requestOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: '+61491570156', name: '\u06dd' }] }, settings)).tasks.map((task) => task.name)).toEqual(['\u06dd']);
	});

	it('gives the campaign a name only when the request does (campaign_name, or campaign as a name), so a relaunch by id alone keeps the stored one', () => {
		expect(requestOf(checkLaunchRequest(seedLaunch('plumber-london_abc123xyz'), settings)).campaign).not.toHaveProperty('name');
		expect(requestOf(checkLaunchRequest({ ...seedLaunch('plumber-london_abc123xyz'), campaign_name: ' Plumbers, Leeds ' }, settings)).campaign.name).toBe('Plumbers, Leeds');
		expect(requestOf(checkLaunchRequest(seedLaunch('Plumbers London'), settings)).campaign.name).toBe('Plumbers London');
	});

	it('refuses one session id for two phones', () => {
		const body = seedLaunch('plumber-london_abc123xyz');
		body.tasks[1].session = body.tasks[0].session;
		expect(problemsOf(checkLaunchRequest(body, settings))).toEqual([{ path: 'tasks[1].session', message: expect.stringContaining('tasks[0]') }]);
	});

	it.each([
		['a NUL byte', 'Plumber\u0000London', /NUL/],
		['a lone surrogate', 'Plumber \ud800', /Unicode/],
		['a control character', 'Plumber\u0007', /control/],
		['a very long name', 'x'.repeat(201), /too long/],
		['an empty name', '   ', /empty/],
	])('refuses a campaign with %s', (_label, campaign, message) => {
		const problems = problemsOf(checkLaunchRequest({ ...seedLaunch(), campaign }, settings));
		expect(problems).toEqual([{ path: 'campaign', message: expect.stringMatching(message) }]);
	});

	it('finds a NUL byte deep inside the objectives', () => {
		const problems = problemsOf(checkLaunchRequest({ ...seedLaunch(), objectives: { interested: { note: ['ok', 'bad\u0000'] } } }, settings));
		expect(problems).toEqual([{ path: 'objectives.interested.note[1]', message: expect.stringMatching(/NUL/) }]);
	});

	it('refuses more tasks than allowed, and no tasks at all', () => {
		const many = { ...seedLaunch(), tasks: Array.from({ length: 11 }, () => ({ phone_number: '+61491570156' })) };
		expect(problemsOf(checkLaunchRequest(many, { ...settings, maxTasks: 10 }))).toEqual([{ path: 'tasks', message: expect.stringMatching(/11 tasks, at most 10/) }]);
		expect(problemsOf(checkLaunchRequest({ ...seedLaunch(), tasks: [] }, settings))).toEqual([{ path: 'tasks', message: expect.stringMatching(/empty/) }]);
	});

	it('refuses a body that is not an object, saying so', () => {
		expect(problemsOf(checkLaunchRequest('campaign=x', settings))).toEqual([{ path: 'body', message: expect.stringMatching(/JSON object.*Content-Type/) }]);
		expect(problemsOf(checkLaunchRequest([seedLaunch()], settings))[0].path).toBe('body');
		expect(problemsOf(checkLaunchRequest(undefined, settings))).toEqual([{ path: 'body', message: 'must be a JSON object, got nothing' }]);
	});

	it('shows, in a refusal of a task or its phone_number, an example phone the launch itself accepts', () => {
		const problems = problemsOf(checkLaunchRequest({ ...seedLaunch(), tasks: ['0491570156', { phone_number: 61491570156 }] }, settings));
		const examples = problems.map((problem) => /"(\+\d+)"/.exec(problem.message)?.[1]);
		expect(examples).toEqual([expect.stringMatching(/^\+\d+$/), expect.stringMatching(/^\+\d+$/)]);
		for (const example of examples) {
			expect(requestOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: example }] }, settings)).tasks.map((task) => task.phone)).toEqual([example]);
		}
	});
});

describe('campaign ids', () => {
	it('recognises the recruiter app\'s name_uid format', () => {
		expect(isCampaignId('plumber-london_abc123xyz')).toBe(true);
		expect(isCampaignId('Plumber - London')).toBe(false);
		expect(isCampaignId('plumber-london')).toBe(false);
	});

	it('makes the same id from the same name and key, and a different one for another key', () => {
		const id = campaignIdFor('Plumber - London', undefined);
		expect(id).toMatch(/^plumber-london_[0-9a-f]{12}$/);
		expect(isCampaignId(id)).toBe(true);
		expect(campaignIdFor(' plumber - london ', undefined)).toBe(id);
		expect(campaignIdFor('Plumber - London', 'launch-2')).not.toBe(id);
	});

	it('slugs names in any script', () => {
		expect(slugOf('Électricien — Montréal')).toBe('electricien-montreal');
		expect(slugOf('東京の配管工')).toBe('campaign');
		expect(isCampaignId(campaignIdFor('東京の配管工', undefined))).toBe(true);
	});
});

describe('phone numbers as people paste them', () => {
	it.each([
		['a country code in brackets', '(+61) 491 570 156'],
		['non-breaking spaces (from a spreadsheet)', '+61\u00a0491\u00a0570\u00a0156'],
		['invisible direction marks (copied from WhatsApp)', '\u202a+61 491 570 156\u202c'],
		['left-to-right marks and narrow no-break spaces', '\u200e+61\u202f491\u2009570\u2009156\u200f'],
	])('reads %s as E.164', (_label, phone) => {
		const request = requestOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: phone }] }, settings));
		expect(request.tasks.map((task) => task.phone)).toEqual(['+61491570156']);
	});

	it.each([
		['letters', '+61 491 570 ABC'],
		['an extension', '+61 491 570 156 ext. 12'],
		['a + inside the number', '+61 (+491) 570 156'],
	])('still refuses %s, naming the field', (_label, phone) => {
		const problems = problemsOf(checkLaunchRequest({ ...seedLaunch(), tasks: [{ phone_number: '+61491570157' }, { phone_number: phone }] }, settings));
		expect(problems).toEqual([{ path: 'tasks[1].phone_number', message: expect.stringMatching(/may contain only digits/) }]);
	});
});
