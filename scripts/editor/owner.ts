// The n8n owner account `npm run editor` creates through n8n's owner setup endpoint
// (`POST /rest/owner/setup`, what n8n's first-start form sends). The credentials and workflows
// imported before the start belong to the instance owner, so the person logging in sees them.
import { randomBytes } from 'node:crypto';

export interface OwnerLogin {
	email: string;
	password: string;
}

/** A fixed email and a new password each start (n8n wants 8–64 characters with a digit and an uppercase letter). */
export function newOwnerLogin(): OwnerLogin {
	return { email: 'owner@leadflow.demo', password: `Leadflow-${randomBytes(6).toString('hex')}-Demo1` };
}

export async function setUpOwner(baseUrl: string, login: OwnerLogin): Promise<void> {
	const response = await fetch(`${baseUrl}/rest/owner/setup`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ ...login, firstName: 'Leadflow', lastName: 'Demo' }),
	});
	if (!response.ok) {
		const text = await response.text();
		let message = text.slice(0, 300);
		try {
			message = (JSON.parse(text) as { message?: string }).message ?? message;
		} catch {
			// keep the text
		}
		throw new Error(`n8n refused the owner setup (HTTP ${response.status}): ${message}`);
	}
}
