// The campaign id in the recruiter app's format: a slug of the name, an underscore, a unique suffix
// ("plumber-london_abc123xyz"). A request names its campaign either by that id or by a plain name;
// an id is made from a name deterministically, so the same request again finds the same campaign.
import { createHash } from 'node:crypto';

// The format itself is defined with every other id the database checks.
export { CAMPAIGN_ID, CAMPAIGN_ID_PATTERN, isCampaignId, MAX_CAMPAIGN_ID_LENGTH } from '../../shared/valid-input';

const MAX_SLUG_LENGTH = 60;

/** "Plumber - London" → "plumber-london"; a name with no Latin letters or digits → "campaign". */
export function slugOf(name: string): string {
	const slug = name
		.normalize('NFKD')
		.replace(/[\u0300-\u036f]/g, '')
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, '-')
		.replace(/^-+/, '')
		.slice(0, MAX_SLUG_LENGTH)
		.replace(/-+$/, '');
	return slug || 'campaign';
}

/**
 * The id for a campaign named `name`. The suffix hashes the name and the request's idempotency key:
 * the same name without a key is always the same campaign (a repeated launch adds only new phones);
 * a different key launches a separate campaign of the same name. A name is what the app shows, not
 * what identifies a campaign: an owner may run "Plumber - London" again next month as a campaign of
 * its own, with its own sessions and stats, and the app keeps the id the launch answers with
 * (campaign_id) to relaunch it. Kept so on 5 December 2026 (the key's 422 and the 201 now name that
 * id): ids of campaigns already launched by name are stored and stay as they are, and a relaunch by
 * name under its first key still finds its campaign.
 */
export function campaignIdFor(name: string, idempotencyKey: string | undefined): string {
	const digest = createHash('sha256')
		.update(name.trim().toLowerCase())
		.update('\n')
		.update(idempotencyKey ?? '')
		.digest('hex');
	return `${slugOf(name)}_${digest.slice(0, 12)}`;
}
