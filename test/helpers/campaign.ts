// The example launch request (the recruiter's app POSTs it to /webhook/session-created) and helpers
// to make more of them.
import { randomUUID } from 'node:crypto';

export interface LaunchBody {
	campaign: string;
	tasks: Array<{ session?: string; phone_number: string; name?: string }>;
	job_description: string;
	objectives: Record<string, unknown>;
}

/** The example launch: `campaign` is a name_uid, tasks carry the app's session ids. */
export function seedLaunch(campaign = `plumber-london_${randomUUID().slice(0, 8)}`): LaunchBody {
	const run = randomUUID().slice(0, 8);
	return {
		campaign,
		tasks: [
			{ session: `sess-${run}-1`, phone_number: '+61491570156', name: 'Alice Carter' },
			{ session: `sess-${run}-2`, phone_number: '0061 491 570 157', name: 'Bob Doyle' },
			{ session: `sess-${run}-3`, phone_number: '+44 20 7946 0958' },
		],
		job_description: 'Plumber, London, £45k, full time. Gas Safe registered; own van preferred.',
		objectives: {
			interested: { description: 'Candidate says they are interested', weight: 1 },
			started_work: { description: 'Candidate started the job', weight: 3 },
			rejected: { description: 'Candidate declined', weight: 0 },
		},
	};
}

/** `count` distinct valid UK mobile numbers in E.164 (the 07853 range; only ever sent to the local simulators). */
export function ukMobiles(count: number, offset = 0): string[] {
	return Array.from({ length: count }, (_, index) => `+447853${String(offset + index).padStart(6, '0')}`);
}
