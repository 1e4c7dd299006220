// n8n's own REST API (`/rest/…`, what the editor calls), signed in as the instance owner: created
// with the owner setup endpoint as `npm run editor` does (scripts/editor/owner.ts), then a login
// whose cookie every call carries. Used to run a workflow from a trigger the way the editor's
// *Execute workflow* does, e.g. from a Schedule Trigger, which no webhook can start.
import { newOwnerLogin, setUpOwner } from '../../../scripts/editor/owner';

export interface N8nRest {
	<T>(pathname: string, init?: RequestInit): Promise<T>;
	/** Runs the saved workflow from this trigger node (`POST /rest/workflows/:id/run`); returns the execution id. */
	runFromTrigger(workflowId: string, triggerName: string): Promise<number>;
}

export async function signInAsOwner(baseUrl: string): Promise<N8nRest> {
	const login = newOwnerLogin();
	await setUpOwner(baseUrl, login);
	const response = await fetch(`${baseUrl}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: login.email, password: login.password }),
	});
	if (!response.ok) throw new Error(`n8n refused the owner's login: HTTP ${response.status} ${(await response.text()).slice(0, 300)}`);
	const cookie = response.headers
		.getSetCookie()
		.map((one) => one.split(';')[0])
		.join('; ');

	const rest = async <T>(pathname: string, init: RequestInit = {}): Promise<T> => {
		const answer = await fetch(`${baseUrl}${pathname}`, {
			...init,
			headers: { cookie, 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
		});
		const text = await answer.text();
		if (!answer.ok) throw new Error(`${init.method ?? 'GET'} ${pathname}: HTTP ${answer.status} ${text.slice(0, 300)}`);
		return (JSON.parse(text) as { data: T }).data;
	};
	const runFromTrigger = async (workflowId: string, triggerName: string) => {
		const run = await rest<{ executionId?: string; waitingForWebhook?: boolean }>(`/rest/workflows/${workflowId}/run`, {
			method: 'POST',
			body: JSON.stringify({ triggerToStartFrom: { name: triggerName } }),
		});
		if (!run.executionId) throw new Error(`n8n did not start workflow ${workflowId} from "${triggerName}": ${JSON.stringify(run)}`);
		return Number(run.executionId);
	};
	return Object.assign(rest, { runFromTrigger });
}
