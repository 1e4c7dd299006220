// The webhook fixture points at `supabase start`'s default URL (http://127.0.0.1:54321), as a
// workflow exported from a developer's n8n would; tests retarget it at the run's local stack.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from './package-entries';

export const FIXTURE_SUPABASE_URL = 'http://127.0.0.1:54321';

export const fixturePath = (name: string) => path.join(PACKAGE_ROOT, 'test', 'fixtures', 'workflows', name);

/** The fixture's JSON text with its Supabase URL replaced. */
export function fixtureWithSupabaseUrl(name: string, supabaseUrl: string): string {
	return readFileSync(fixturePath(name), 'utf8').replaceAll(FIXTURE_SUPABASE_URL, supabaseUrl);
}
