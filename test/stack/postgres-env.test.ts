// The environment the local stack starts Postgres with: glibc's malloc in transparent huge pages
// (docs/scaling.md, "The first call on an idle connection"), added to a GLIBC_TUNABLES of the
// caller's own rather than replacing it.
import { readFileSync } from 'node:fs';
import { serverGlibcTunables } from '../../stack/postgres';
import { withDb } from '../helpers/stack';

describe("the server's GLIBC_TUNABLES", () => {
	it('is the malloc setting alone when the caller sets none', () => {
		expect(serverGlibcTunables(undefined)).toBe('glibc.malloc.hugetlb=1');
		expect(serverGlibcTunables('')).toBe('glibc.malloc.hugetlb=1');
	});

	it("keeps the caller's own tunables and adds the malloc setting after them", () => {
		expect(serverGlibcTunables('glibc.malloc.arena_max=2')).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
		expect(serverGlibcTunables('glibc.malloc.arena_max=2::glibc.pthread.rseq=0')).toBe(
			'glibc.malloc.arena_max=2:glibc.pthread.rseq=0:glibc.malloc.hugetlb=1',
		);
	});

	it("leaves the caller's own choice of glibc.malloc.hugetlb as it is", () => {
		expect(serverGlibcTunables('glibc.malloc.hugetlb=0')).toBe('glibc.malloc.hugetlb=0');
		expect(serverGlibcTunables('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2')).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=2');
	});

	it('is what a backend of the running stack has in its environment', async () => {
		// Read while the backend runs (it exits with its connection).
		const environment = await withDb(async (db) => {
			const { rows } = await db.query<{ pid: number }>('select pg_backend_pid() as pid');
			return readFileSync(`/proc/${rows[0].pid}/environ`, 'utf8').split('\0');
		});
		expect(environment).toContain(`GLIBC_TUNABLES=${serverGlibcTunables(process.env.GLIBC_TUNABLES)}`);
	});
});
