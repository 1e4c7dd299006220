// The README's first command ends in `npm run demo`: it must start the stack and the simulators,
// prove each answers, run the follow-up pipeline on its seeded data set and report what happened
// by outcome and reason, place the CRM pipeline's contacts and report where they landed and what
// fired, run the lead queue (prepared, a take-over, a run, an export), and (with --once) stop
// everything it started.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEMO_PAGE_ID } from '../../scripts/demo/data-set';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');

describe('npm run demo', () => {
	it('starts the stack and the simulators, checks each, runs the follow-up pipeline and the CRM auto-assignment, and leaves no process behind', async () => {
		const { stdout } = await run(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/demo.ts', '--once'], {
			cwd: root,
			timeout: 60_000,
		});
		expect(stdout).toMatch(/ok {3}Supabase Data API/);
		expect(stdout).toMatch(/ok {3}Gemini simulator/);
		expect(stdout).toMatch(/ok {3}Graph API simulator/);
		expect(stdout).not.toMatch(/FAIL/);
		// scripts/demo/follow-up.ts seeds who is due and who is not, and which sends Facebook refuses.
		expect(stdout).toMatch(/300 contacts seeded/);
		expect(stdout).toMatch(/before the run: 80 due; not due: outside_window 30, excluded_tag 10, stopped 5/);
		expect(stdout).toMatch(/run: claimed 60, sent 60, skipped 0 \(none\), failed 0 \(none\)/);
		expect(stdout).toMatch(/daily_limit_reached 20/);
		expect(stdout).toMatch(/not due: outside_active_hours 60\n\s+run: claimed 0, sent 0/);
		expect(stdout).toMatch(/run: claimed 70, sent 67, skipped 2 \(unavailable 2\), failed 1 \(no_matching_user 1\)/);
		expect(stdout).toMatch(/Graph simulator delivered 127 messages; the runs report 127 sent/);
		// Each section's codes point at the page that explains them, or are said in words.
		expect(stdout).toContain('The reasons: not due, docs/follow-up.md');
		expect(stdout).toContain('skipped and failed, docs/graph-errors.md');
		expect(stdout).toContain("left out: over_capacity, eligible, but the day's capacity was used.");
		expect(stdout).toContain("Meta's error codes and what each leads to: docs/whatsapp.md");
		// scripts/demo/pipeline-data.ts: six kinds of conversation, each with the model's scripted analysis.
		expect(stdout).toMatch(/CRM pipeline "Course sales" \(workflows\/auto-assign\.json.*\): 40 conversations/);
		expect(stdout).toMatch(/ run: analysed 40 \(fallback 2\), assigned 40, moved 0, kept 0, skipped 0; automations handed out 13\n/);
		expect(stdout).toMatch(/New Lead +14 +e\.g\. Browser 1, score 12: "Only greeted the page; no question about the course yet\."/);
		expect(stdout).toMatch(/Qualified +10 +e\.g\. Price asker 1, score 48: /);
		expect(stdout).toMatch(/Hot +8 +e\.g\. Ready buyer 1, score 86: "Asked for a place and how to pay today: ready to buy\."/);
		expect(stdout).toMatch(/Won +5 +e\.g\. Student 1, score 97: /);
		expect(stdout).toMatch(/Lost +3 +e\.g\. Declined 1, score 5: /);
		expect(stdout).toMatch(/fallback: Unreadable 1, Unreadable 2: the model failed \(blocked\): scored 26 from the messages, in New Lead/);
		expect(stdout).toMatch(/automations fired: "Hot: tag and alert sales" 8×, "Won: stop follow-ups, tell billing" 5× \(13 runs\)/);
		expect(stdout).toMatch(/in the database: 8 contacts tagged "Ready to buy", 5 stopped for every follow-up rule/);
		expect(stdout).toMatch(/on the Automations output: notify 8, webhook 5; outbox items: delivered 13/);
		// The second run: nothing new, but the two the model refused are asked again (still refused: kept).
		expect(stdout).toMatch(/a second run: analysed 2 \(fallback 2\), assigned 0, moved 0, kept 2, skipped 0; automations handed out 0/);
		// scripts/demo/queue.ts: the lead queue through the Queue Ledger node and the shipped queue workflows.
		expect(stdout).toMatch(/leads added from 25 items: created 23, existing 1; refused 1: Not a valid lead: phone is not a valid phone number in GB/);
		expect(stdout).toMatch(/yesterday's queue \(\d{4}-\d{2}-\d{2}, capacity 20\): queued 20; left out: over_capacity 3\n/);
		expect(stdout).toMatch(/tomorrow's queue \(\d{4}-\d{2}-\d{2}, Prepare Now\): queued 3; left out: none\n/);
		expect(stdout).toMatch(/taken over by a person: Lead \d+ \(2 waiting items cancelled\)/);
		expect(stdout).toMatch(/run \(Run Now\): claimed 19, sent 17, failed 1 \(due again later\), dead 1, released 0, cancelled 0 \(taken over while being sent\), refused 0; Meta's errors: 131026 ×1, 131056 ×1/);
		expect(stdout).toMatch(/yesterday's messages now: cancelled 1, dead 1, failed 1, sent 17\n/);
		expect(stdout).toMatch(/export \(GET \/webhook\/leadflow\/queue\/export\?day=[\d-]+\): 20 rows\n\s+item_id,day,status,/);
		expect(stdout).toMatch(/metrics for [\d-]+: queued 20, sent 17, failed 2, cancelled 1, taken over 1/);
		// The credentials' base URLs: Gemini's simulator, and the Graph simulator's for the Facebook
		// Page and WhatsApp credentials; each stopped with the demo.
		const urls = [...stdout.matchAll(/Leadflow (Gemini|Facebook Page|WhatsApp Cloud) API +Base URL (http:\/\/127\.0\.0\.1:\d+)/g)].map((match) => [match[1], match[2]]);
		expect(urls.map(([credential]) => credential)).toEqual(['Gemini', 'Facebook Page', 'WhatsApp Cloud']);
		expect(urls[2][1]).toBe(urls[1][1]);
		for (const [, url] of urls) await expect(fetch(`${url}/__sim/requests`)).rejects.toThrow();
		// What the credentials must hold for the demo's data: the Page ID is the one its contacts are on
		// (the data set's; with other digits tag-monitor-send.json fails every one of them, page_mismatch),
		// the simulators take any token, and any digits as a WhatsApp Phone Number ID.
		expect(stdout).toMatch(new RegExp(`Leadflow Facebook Page API +Base URL \\S+ +Page ID ${DEMO_PAGE_ID} +Page Access Token: any text\n`));
		expect(stdout).toMatch(/Leadflow WhatsApp Cloud API +Base URL \S+ +Phone Number ID: any digits +Access Token: any text\n/);
		expect(stdout).not.toMatch(/Page ID and token: any digits/);
	});
});
