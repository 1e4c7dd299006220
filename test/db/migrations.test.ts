// Migrations are append-only: a file a database has applied is never run again, so an edit to it
// would silently never reach that database. supabase/migration-checksums.json records every
// migration's SHA-256; this fails when a recorded file changes or disappears, and when a new file is
// not recorded yet (with the line to add).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { listMigrations } from '../../stack/migrations';

const recordFile = path.resolve(__dirname, '..', '..', 'supabase', 'migration-checksums.json');
const recorded = JSON.parse(readFileSync(recordFile, 'utf8')) as Record<string, string>;
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('migrations', () => {
	const files = listMigrations();

	it('are all recorded in supabase/migration-checksums.json', () => {
		const unrecorded = files
			.filter((migration) => !(path.basename(migration.file) in recorded))
			.map((migration) => `add to supabase/migration-checksums.json: "${path.basename(migration.file)}": "${sha256(migration.file)}"`);
		expect(unrecorded).toEqual([]);
	});

	it('are never edited or removed once recorded (put a change in a new migration)', () => {
		const current = new Map(files.map((migration) => [path.basename(migration.file), sha256(migration.file)]));
		const changed = Object.entries(recorded)
			.filter(([file, checksum]) => current.get(file) !== checksum)
			.map(([file]) => (current.has(file) ? `${file} was edited after it was recorded` : `${file} was removed after it was recorded`));
		expect(changed).toEqual([]);
	});

	it('are named YYYYMMDDHHMMSS_<feature>_<what>.sql, in order, each version once', () => {
		const versions = files.map((migration) => migration.version);
		expect(new Set(versions).size).toBe(versions.length);
		expect(files.map((migration) => path.basename(migration.file))).toEqual(Object.keys(recorded).sort());
	});
});
