// The Pipeline tab: a CRM pipeline as a board, one column per stage (its count and the mean time its
// contacts have spent in it) with one page of cards each (lead score and status, time in stage,
// the last activity, the AI's reasoning and confidence, or the fallback score and why), polled every 2 s from
// GET …/console/api/pipeline. A card moves by drag and drop, or from the keyboard with its
// "Move to" picker and Move button: both call the move webhook (POST /webhook/leadflow/contacts/move,
// workflows/contact-move.json) with the same key, and the answer (the new stage, the automations
// that fired) or the refusal's message shows above the board. Times are counted at the database's
// clock (the answer's generatedAt), not the browser's.
import { analysisInWords, contactName, formatDuration, formatNumber, formatRelative, outsideActionsInWords, timeInZone } from './format';
import { isRefusal, lostAnswer, moveMayHaveBeenDone, notDone } from './answers';
import { FocusAfter } from './focus';
import { addressId, parseFragment } from './fragment';
import { pipelineNotFoundInWords } from './pipeline-words';
import { isOffline, onSearchInput, type Tab, type TabContext } from './tab';

interface Card {
	conversation_id: string; sender_id: string; sender_name: string | null; lead_score: number | null; lead_status: string;
	stage_entered_at: string; seconds_in_stage: number;
	analysis: { summary: string | null; reasoning: string | null; confidence: number | null; recommended_stage: string | null; model: string | null; is_fallback: boolean; analysed_at: string } | null;
	/** run_results: an AUTOMATION_FIRED entry's run as it is now (its history row keeps what was queued). */
	last_activity: { type: string; title: string; description: string | null; actor: string; occurred_at: string; run_results?: Array<Record<string, unknown>> | null } | null;
}
interface Stage {
	id: string; name: string; stage_order: number; color: string | null; contact_count: number; matching_count: number;
	avg_seconds_in_stage: number | null; offset: number; limit: number; cards: Card[];
}
interface Board {
	pipelines: Array<{ id: string; name: string; contact_count: number }>;
	pipeline: { id: string; name: string; description: string | null } | null;
	generatedAt: string;
	stages: Stage[];
	not_found?: boolean;
	error?: string;
	/** The board's version; the next poll sends it back and gets { unchanged: true } while nothing moves. */
	version?: string;
	unchanged?: boolean;
}
interface MoveAnswer {
	outcome?: string; stage?: { id: string; name: string }; from_stage?: { id: string; name: string } | null; automations_fired?: number;
	automations?: Array<{ kind: string; automation?: { id: string; name: string } }>; error?: string;
}

const CARDS_PER_STAGE = 20;
const POLL_MS = 2000;
/**
 * A move answered after its pipeline was left is said when that pipeline is shown again, with the
 * time it answered; a move made only within this long of its answer: an older one is not said (the
 * board shows where the card is, and its last activity says "Moved by hand"). A refusal or a move
 * with no answer is said however old (the board does not show it).
 */
export const LATE_MOVE_MS = 10 * 60_000;
const STATUSES: Record<string, string> = {
	NEW: 'New', CONTACTED: 'Contacted', QUALIFIED: 'Qualified', PROPOSAL_SENT: 'Proposal sent', NEGOTIATING: 'Negotiating',
	WON: 'Won', LOST: 'Lost', UNRESPONSIVE: 'Unresponsive',
};
const ACTIVITIES: Record<string, string> = {
	STAGE_CHANGED: 'Stage changed', SCORE_CHANGED: 'Score changed', STATUS_CHANGED: 'Status changed', ANALYSED: 'Analysed by the AI',
	AUTOMATION_FIRED: 'Automation fired', MANUAL_MOVE: 'Moved by hand',
};

export function initPipeline(context: TabContext, panel: HTMLElement): Tab {
	const { escape, render, request } = context;
	const moveUrl = `${context.pagePath.replace(/\/console$/, '')}/contacts/move`;
	const fragment = parseFragment(location.hash);
	const state = {
		shown: false,
		pipelineId: addressId(fragment.get('pipeline')),
		/** The pipeline from the address until an answer takes it: a 400 for it (no pipeline ID) lets it go. */
		addressPipeline: addressId(fragment.get('pipeline')),
		/**
		 * The pipeline shown was chosen by the page (the first listed, none asked for): when it is
		 * deleted the next is shown without a message, as nobody asked for this one.
		 */
		pipelineAdopted: false,
		search: '',
		/** Each paged column's offset by stage id (absent: its first page), kept across polls and other columns' paging. */
		offsets: new Map<string, number>(),
		/** Offsets let go at a 400 (a paged stage deleted meanwhile): those of stages still on the next board are asked again. */
		offsetsToRestore: undefined as Map<string, number> | undefined,
		/** The offsets asked for are those restored after a 400: another 400 lets them go for good. */
		restored: false,
		timer: undefined as number | undefined,
		inFlight: false,
		/** When the call in flight was asked (the offline rule counts its wait). */
		askedAt: 0,
		again: false,
		board: undefined as Board | undefined,
		/** A stage chosen in a card's "Move to" picker, kept across refreshes until it is moved. */
		choices: new Map<string, string>(),
		/**
		 * Moves answered after another pipeline was shown: their words and when each answered (the
		 * browser's clock), kept with the pipeline they were made on, said once when that pipeline is
		 * shown again (moves made that answered more than LATE_MOVE_MS before are dropped unsaid).
		 */
		lateMoves: new Map<string, Array<{ words: MoveWords; at: number }>>(),
		/** The pipeline the move line speaks of: a board of another pipeline drawn takes the line away. */
		moveFor: '',
		moving: new Set<string>(),
		columnsKey: '',
		dragging: false,
		/** Cards whose reasoning is open, kept open across refreshes. */
		open: new Set<string>(),
		/** Polls started so far: a move's focus is settled by a poll started after it. */
		polls: 0,
		/** When a poll last answered, when the tab was last shown, and whether the last call failed: offline by the rule of every tab. */
		lastOk: 0,
		shownAt: 0,
		failed: false,
	};
	/** After a move, the focus follows the card (its Move button in its new column). */
	const focusAfter = new FocusAfter();
	/**
	 * After a column's ‹ or ›, the focus stays in that column: on the button pressed, or, when the page
	 * reached makes it disabled (the last page's ›, the first page's ‹), on the other one, else (the
	 * pager gone) on the column's first card's Move, then the search.
	 */
	const focusAfterPaging = new FocusAfter();
	/** A poll asked after a move or a page failed: neither settles the focus at a later one. */
	const dropFocus = (draw: number) => {
		focusAfter.cancel(draw);
		focusAfterPaging.cancel(draw);
	};

	panel.innerHTML = `
		<div class="toolbar pipeline-toolbar">
			<label for="pipeline-picker">Pipeline</label>
			<select id="pipeline-picker"></select>
			<label for="pipeline-search">Search</label>
			<input id="pipeline-search" type="search" placeholder="Name or Messenger ID" maxlength="200">
			<span id="pipeline-updated" class="sub" aria-live="off"></span>
		</div>
		<div class="pipeline-notice">
			<p id="pipeline-error" class="error" role="alert"></p>
			<button id="pipeline-error-dismiss" type="button" aria-label="Dismiss the message about the pipeline asked for" hidden>Dismiss</button>
		</div>
		<p id="pipeline-move-result" class="move-result" role="status" aria-live="polite"></p>
		<div id="pipeline-empty" class="empty" hidden></div>
		<div id="pipeline-board" class="board" aria-label="Pipeline board"></div>`;
	const picker = panel.querySelector<HTMLSelectElement>('#pipeline-picker')!;
	const search = panel.querySelector<HTMLInputElement>('#pipeline-search')!;
	const updated = panel.querySelector<HTMLElement>('#pipeline-updated')!;
	const moveResult = panel.querySelector<HTMLElement>('#pipeline-move-result')!;
	/**
	 * Why the pipeline asked for was let go (the server's message and hint for an ID it refuses; which ID
	 * and how it was chosen for one of no pipeline), until another is picked.
	 */
	const addressError = panel.querySelector<HTMLElement>('#pipeline-error')!;
	const dismiss = panel.querySelector<HTMLButtonElement>('#pipeline-error-dismiss')!;
	/**
	 * The message above the board ('' takes it away), with its Dismiss button. It goes at the next thing
	 * the user does (a pick, a search, a move, a column paged, Dismiss, Back to the pipeline shown) and
	 * "No pipeline is left to show." once a pipeline is shown again: never stale beside a board.
	 */
	let noneLeftSaid = false;
	function tell(text: string, noneLeft = false) {
		const hadFocus = document.activeElement === dismiss;
		addressError.textContent = text;
		dismiss.hidden = text === '';
		noneLeftSaid = noneLeft;
		// The button hides itself (Dismiss pressed, or a poll took the message away while a keyboard user
		// was on it): the focus goes to the picker, where the message's pipeline is chosen, not the page's body.
		if (hadFocus && dismiss.hidden) picker.focus();
	}
	dismiss.addEventListener('click', () => tell(''));
	/** A move's words: its line's text, whether it is an error, and its data-* (status, card, stage, fired). */
	interface MoveWords { text: string; error: boolean; data: Record<string, string> }
	function sayMove(words: MoveWords, pipelineId: string) {
		forgetMove();
		state.moveFor = pipelineId;
		moveResult.textContent = words.text;
		moveResult.className = `move-result${words.error ? ' error' : ''}`;
		Object.assign(moveResult.dataset, words.data);
	}
	/** The last move's words (its result or refusal): another pipeline shown takes them away. */
	function forgetMove() {
		state.moveFor = '';
		moveResult.textContent = '';
		moveResult.className = 'move-result';
		for (const key of ['status', 'card', 'stage', 'fired']) delete moveResult.dataset[key];
	}
	/**
	 * Late answers in words: each with when it answered, in the browser's time zone as the cards' times
	 * on hover ("Answered Dec 6, 2026, 2:05 PM Europe/London, while another pipeline was shown: Moved
	 * Ana from Qualified to Won. …"), joined; an error if any of them is one; the last one's data-*.
	 */
	function lateMovesInWords(moves: Array<{ words: MoveWords; at: number }>): MoveWords {
		const text = moves.map(({ words, at }) => {
			const said = /[.!?…]$/.test(words.text) ? words.text : `${words.text}.`;
			return `Answered ${timeInZone(new Date(at).toISOString())}, while another pipeline was shown: ${said}`;
		}).join(' ');
		return { text, error: moves.some(({ words }) => words.error), data: moves[moves.length - 1].words.data };
	}
	const empty = panel.querySelector<HTMLElement>('#pipeline-empty')!;
	const boardElement = panel.querySelector<HTMLElement>('#pipeline-board')!;

	// A blank name (empty, spaces, a zero-width space) is no name: the Messenger id instead (format.ts).
	const name = (card: Card) => contactName(card);
	// Coarse under a minute, so a refresh every 2 s does not rewrite a card for its seconds.
	const inStage = (seconds: number) => (seconds < 60 ? 'under a minute' : formatDuration(seconds));
	const ago = (iso: string, now: number) => (Math.abs(now - Date.parse(iso)) < 60_000 ? 'just now' : formatRelative(iso, now));

	// A fired automation's webhooks and notifications, each with what became of it (its run now).
	function outsideActions(results: Array<Record<string, unknown>> | null | undefined): string {
		const entries = (results ?? []).filter((entry) => entry.type === 'webhook' || entry.type === 'notify');
		if (entries.length === 0) return '';
		const words = outsideActionsInWords(entries);
		return `<ul class="outside-actions">${entries.map((entry, k) => `<li class="sub" data-outcome="${escape(entry.status)}">${escape(words[k])}</li>`).join('')}</ul>`;
	}

	function cardHtml(card: Card, stage: Stage, stages: Stage[], now: number): string {
		const id = card.conversation_id;
		const chosen = state.choices.get(id) ?? '';
		const activity = card.last_activity;
		const analysis = card.analysis;
		const options = stages.filter((other) => other.id !== stage.id)
			.map((other) => `<option value="${escape(other.id)}"${other.id === chosen ? ' selected' : ''}>${escape(other.name)}</option>`).join('');
		return `
			<li class="deal" draggable="true" data-card="${escape(id)}" data-stage="${escape(stage.id)}" data-score="${card.lead_score ?? ''}" data-status="${escape(card.lead_status)}" aria-label="${escape(name(card))}">
				<div class="deal-head">
					<strong class="deal-name">${escape(name(card))}</strong>
					<span class="score" title="Lead score">${card.lead_score === null ? 'no score' : `Score ${formatNumber(card.lead_score)}`}</span>
				</div>
				<div class="deal-meta"><span class="lead-status">${escape(STATUSES[card.lead_status] ?? card.lead_status)}</span>
					· <span class="in-stage" title="${escape(`since ${timeInZone(card.stage_entered_at)}`)}">${escape(inStage(Number(card.seconds_in_stage)))} in stage</span></div>
				${activity ? `<div class="activity" data-activity="${escape(activity.type)}">${escape(ACTIVITIES[activity.type] ?? activity.title)}
					<time datetime="${escape(activity.occurred_at)}">${escape(ago(activity.occurred_at, now))}</time>${activity.description && activity.actor !== 'ai' ? `<div class="sub">${escape(activity.description)}</div>` : ''}${outsideActions(activity.run_results)}</div>` : ''}
				${analysis ? `<details class="reasoning" data-reasoning="${escape(id)}"${state.open.has(id) ? ' open' : ''}${analysis.is_fallback ? ' data-fallback="true"' : ''}>
					<summary>${escape(analysisInWords(analysis))}${analysis.is_fallback ? ' <span class="badge fallback">fallback score</span>' : ''}</summary>
					<p>${escape(analysis.reasoning ?? analysis.summary ?? 'No reasoning given.')}</p></details>` : ''}
				<div class="move-row">
					<label class="visually-hidden" for="move-${escape(id)}">Move ${escape(name(card))} to</label>
					<select id="move-${escape(id)}" data-key="move-${escape(id)}" data-move-choice="${escape(id)}"><option value="">Move to…</option>${options}</select>
					<button type="button" data-key="go-${escape(id)}" data-move="${escape(id)}"${state.moving.has(id) ? ' disabled' : ''} aria-label="Move ${escape(name(card))}">Move</button>
				</div>
			</li>`;
	}

	function columnBody(stage: Stage, stages: Stage[], now: number): string {
		const filtered = Boolean(state.search);
		const cards = stage.cards.length === 0
			? `<li class="empty-stage">${filtered ? 'No contact here matches the search.' : 'No contacts in this stage.'}</li>`
			: stage.cards.map((card) => cardHtml(card, stage, stages, now)).join('');
		// Whenever the column is paged on, so that a way back is always there.
		const pager = stage.matching_count > stage.limit || stage.offset > 0
			? `<div class="column-pager">
				<button type="button" data-key="prev-${escape(stage.id)}" data-page="${escape(stage.id)}" data-dir="-1"${stage.offset === 0 ? ' disabled' : ''} aria-label="Previous contacts of ${escape(stage.name)}">‹</button>
				<span>${stage.cards.length === 0 ? `none past ${formatNumber(stage.offset)}` : `${formatNumber(stage.offset + 1)}–${formatNumber(stage.offset + stage.cards.length)}`} of ${formatNumber(stage.matching_count)}</span>
				<button type="button" data-key="next-${escape(stage.id)}" data-page="${escape(stage.id)}" data-dir="1"${stage.offset + stage.cards.length >= stage.matching_count ? ' disabled' : ''} aria-label="Next contacts of ${escape(stage.name)}">›</button>
			</div>`
			: '';
		return `<ul class="deals" aria-label="Contacts in ${escape(stage.name)}">${cards}</ul>${pager}`;
	}

	function columnHead(stage: Stage): string {
		const matching = state.search ? ` <span class="sub">(${formatNumber(stage.matching_count)} match)</span>` : '';
		return `<h3 id="col-${escape(stage.id)}"${stage.color ? ` style="border-color:${escape(stage.color)}"` : ''}>${escape(stage.name)}</h3>
			<div class="column-stats"><span class="count" data-count="${stage.contact_count}">${formatNumber(stage.contact_count)}</span>${matching}
			<span class="avg" data-avg="${stage.avg_seconds_in_stage ?? ''}">${stage.avg_seconds_in_stage === null ? 'no one yet' : `avg ${escape(formatDuration(Number(stage.avg_seconds_in_stage)))} in stage`}</span></div>`;
	}

	function renderBoard(board: Board) {
		// The move line speaks of one pipeline: beside another's board (or none) it goes.
		if (state.moveFor && state.moveFor !== board.pipeline?.id) forgetMove();
		// Moves on this pipeline answered while another was shown: said now, once, each with the time it
		// answered; a move made that answered more than LATE_MOVE_MS ago is not said (the board shows its result).
		const late = board.pipeline ? state.lateMoves.get(board.pipeline.id) : undefined;
		if (late && board.pipeline) {
			state.lateMoves.delete(board.pipeline.id);
			const now = Date.now();
			// A refusal or a move with no answer is said however late: the board does not say it (the card
			// is where it was, with no "Moved by hand"); only a move made goes unsaid after LATE_MOVE_MS.
			const recent = late.filter((move) => move.words.error || now - move.at <= LATE_MOVE_MS);
			if (recent.length > 0) sayMove(lateMovesInWords(recent), board.pipeline.id);
		}
		render(picker, board.pipelines.map((pipeline) => `<option value="${escape(pipeline.id)}">${escape(pipeline.name)} (${formatNumber(pipeline.contact_count)})</option>`).join(''));
		if (picker.value !== state.pipelineId) picker.value = state.pipelineId;
		const now = Date.parse(board.generatedAt);
		updated.textContent = `Updated ${new Date(now).toLocaleTimeString()}`;
		if (board.pipelines.length === 0 || !board.pipeline) {
			empty.hidden = false;
			empty.textContent = board.pipelines.length === 0
				? 'No pipeline yet. A pipeline and its stages are rows of the pipelines and pipeline_stages tables; AutoAssignStage places analysed contacts in them.'
				: 'Pick a pipeline.';
			boardElement.hidden = true;
			return;
		}
		if (board.stages.length === 0) {
			empty.hidden = false;
			empty.textContent = 'This pipeline has no stages yet: add rows to pipeline_stages.';
			boardElement.hidden = true;
			return;
		}
		empty.hidden = true;
		boardElement.hidden = false;
		// The columns are rebuilt only when the stages change; otherwise each column's head and cards
		// are replaced only when they changed, so scrolling and focus stay where they are.
		const columnsKey = board.stages.map((stage) => `${stage.id}:${stage.name}`).join('|');
		if (columnsKey !== state.columnsKey) {
			state.columnsKey = columnsKey;
			boardElement.innerHTML = board.stages.map((stage) => `
				<section class="column" data-stage-id="${escape(stage.id)}" aria-labelledby="col-${escape(stage.id)}">
					<header class="column-head"></header><div class="column-body"></div>
				</section>`).join('');
		}
		for (const stage of board.stages) {
			const column = boardElement.querySelector<HTMLElement>(`[data-stage-id="${CSS.escape(stage.id)}"]`)!;
			render(column.querySelector<HTMLElement>('.column-head')!, columnHead(stage));
			const body = column.querySelector<HTMLElement>('.column-body')!;
			// A picker in use keeps its column as it is until it is left (an open list would close).
			if (document.activeElement instanceof HTMLSelectElement && body.contains(document.activeElement)) continue;
			render(body, columnBody(stage, board.stages, now));
		}
	}

	/** The board asked for: the pipeline, each paged column's offset (offsets=<stage>:<offset>,…) and the search. */
	function boardQuery(): URLSearchParams {
		const query = new URLSearchParams({ limit: String(CARDS_PER_STAGE) });
		if (state.pipelineId) query.set('pipelineId', state.pipelineId);
		const offsets = [...state.offsets].filter(([, offset]) => offset > 0).sort(([a], [b]) => a.localeCompare(b));
		if (state.pipelineId && offsets.length > 0) query.set('offsets', offsets.map(([stage, offset]) => `${stage}:${offset}`).join(','));
		if (state.search) query.set('search', state.search);
		return query;
	}

	async function poll() {
		window.clearTimeout(state.timer);
		if (state.inFlight) { state.again = true; return; }
		state.inFlight = true;
		state.askedAt = Date.now();
		const draw = ++state.polls;
		try {
			const query = boardQuery();
			const asked = query.toString();
			if (state.board?.version) query.set('known', state.board.version);
			const { status, json } = await request(`${context.apiBase}/pipeline?${query}`);
			state.lastOk = Date.now();
			state.failed = false;
			if (boardQuery().toString() !== asked) {
				// Another pipeline, search or page was chosen meanwhile: this answer is not what is
				// asked for now (e.g. a late 404 for a pipeline left would undo the pick); ask again.
				state.again = true;
				return;
			}
			let board = json as Board | undefined;
			if (status === 200 && state.pipelineId && state.pipelineId === state.addressPipeline) state.addressPipeline = '';
			const shown = state.board;
			if (status === 200 && board?.unchanged && shown && shown.version === board.version) {
				// Nothing but the clock moved: the board shown, its times moved on by the clock's difference.
				const seconds = (Date.parse(board.generatedAt) - Date.parse(shown.generatedAt)) / 1000;
				board = {
					...shown,
					generatedAt: board.generatedAt,
					pipelines: board.pipelines ?? shown.pipelines,
					stages: shown.stages.map((stage) => ({
						...stage,
						avg_seconds_in_stage: stage.avg_seconds_in_stage === null ? null : Number(stage.avg_seconds_in_stage) + seconds,
						cards: stage.cards.map((card) => ({ ...card, seconds_in_stage: Number(card.seconds_in_stage) + seconds })),
					})),
				};
			} else if (status === 200 && board?.unchanged) {
				// An answer to a version no longer shown: ask again for the whole board.
				state.board = undefined;
				state.again = true;
				return;
			}
			if (status === 401 || status === 403) {
				boardElement.hidden = true;
				// No more calls with a refused key: the page's key form, as on the other tabs (the key
				// typed there shows this tab again).
				state.shown = false;
				context.keyRefused();
				return;
			}
			if ((status === 404 && board?.not_found) || (status === 200 && board && !state.pipelineId && board.pipelines.length > 0)) {
				// No pipeline chosen yet, or the chosen one is gone: the first listed. One asked for (the
				// address's, or picked) is said so above the board, until another is picked: which ID, and
				// that the first listed is shown instead; one the page chose by itself goes without a word.
				if (status === 404 && state.pipelineId && !state.pipelineAdopted) {
					const gone = state.pipelineId;
					const how = gone === state.addressPipeline ? 'address' : 'deleted';
					const name = state.board?.pipelines.find((pipeline) => pipeline.id === gone)?.name;
					tell(pipelineNotFoundInWords(gone, how, name, board!.pipelines.length), board!.pipelines.length === 0);
				} else if (status === 200 && noneLeftSaid) {
					// A pipeline created since every one was deleted: shown now, so none is left no more.
					tell('');
				}
				state.addressPipeline = '';
				if ((board!.pipelines[0]?.id ?? '') !== state.pipelineId) forgetMove();
				state.pipelineId = board!.pipelines[0]?.id ?? '';
				state.pipelineAdopted = true;
				state.offsets.clear();
				if (state.pipelineId) { state.again = true; return; }
				// Every pipeline is gone: the list alone says so.
				state.board = { ...board!, pipeline: null, stages: [] };
				renderBoard(state.board);
				return;
			}
			if (status === 400 && state.pipelineId && state.pipelineId === state.addressPipeline) {
				// The address's pipeline is no pipeline ID (mistyped, cut off): let go, the server's
				// message and hint shown, and the first pipeline listed asked for (as for one that is gone).
				const refusal = (json ?? {}) as { error?: string; hint?: string };
				const message = refusal.error ?? 'The pipeline in the address was refused';
				tell(refusal.hint ? `${message.replace(/\.$/, '')}. ${refusal.hint}` : message);
				state.pipelineId = '';
				state.pipelineAdopted = false;
				state.addressPipeline = '';
				state.offsets.clear();
				state.again = true;
				return;
			}
			if (status === 400 && state.offsets.size > 0) {
				// A paged stage is gone (deleted meanwhile): every column's first page is asked for, and
				// the offsets of the columns still on that board are asked again after it.
				state.offsetsToRestore = state.restored ? undefined : new Map(state.offsets);
				state.restored = false;
				state.offsets.clear();
				state.again = true;
				return;
			}
			if (status !== 200 || !board) {
				dropFocus(draw);
				updated.textContent = `Update failed (${status}): ${(json as { error?: string } | undefined)?.error ?? 'no answer'}; retrying`;
				return;
			}
			if (state.offsetsToRestore) {
				const restore = [...state.offsetsToRestore].filter(([stageId]) => board!.stages.some((stage) => stage.id === stageId));
				state.offsetsToRestore = undefined;
				for (const [stageId, offset] of restore) state.offsets.set(stageId, offset);
				if (restore.length > 0) { state.restored = true; state.again = true; return; }
			}
			state.restored = false;
			// A column paged past its last card (contacts left the stage or the search meanwhile): its
			// last page with cards, the first page when that is all there is; the other columns stay.
			const past = board.stages.filter((stage) => stage.cards.length === 0 && stage.offset > 0);
			if (past.length > 0) {
				for (const stage of past) {
					const offset = Math.floor((stage.matching_count - 1) / stage.limit) * stage.limit;
					if (offset > 0) state.offsets.set(stage.id, offset);
					else state.offsets.delete(stage.id);
				}
				state.again = true;
				return;
			}
			state.board = board;
			// Not while a card is dragged: its element would be replaced under the pointer.
			if (!state.dragging) {
				renderBoard(board);
				focusAfter.settle(draw);
				focusAfterPaging.settle(draw);
			}
		} catch {
			state.failed = true;
			dropFocus(draw);
			showOffline();
		} finally {
			state.inFlight = false;
			if (state.shown) {
				const again = state.again;
				state.again = false;
				state.timer = window.setTimeout(() => void poll(), again ? 0 : POLL_MS);
			}
		}
	}

	/**
	 * Offline, as every tab says it: when a call failed, and also when the call in flight has waited
	 * STALE_MS while the tab is shown (a poll the server holds), not only once it is given up at 15 s.
	 */
	function showOffline() {
		if (!state.shown || !isOffline(state.failed, state.inFlight ? state.askedAt : null, state.shownAt, Date.now())) return;
		updated.textContent = state.lastOk ? `Offline, retrying · last update ${formatRelative(new Date(state.lastOk).toISOString())}` : 'Offline, retrying…';
	}
	window.setInterval(showOffline, 1000);

	async function move(conversationId: string, stageId: string) {
		const card = state.board?.stages.flatMap((stage) => stage.cards).find((row) => row.conversation_id === conversationId);
		// The stage may have left the board since it was picked: the webhook then says why it refuses.
		const target = state.board?.stages.find((stage) => stage.id === stageId) ?? { name: 'the chosen stage' };
		if (!card || state.moving.has(conversationId)) return;
		// Where the focus goes once the board shows the outcome: the card's Move button (in its new
		// column, or still here when it was not moved), else the next card's in this column, else the search.
		const cards = state.board?.stages.find((stage) => stage.cards.some((row) => row.conversation_id === conversationId))?.cards ?? [];
		const next = cards[cards.findIndex((row) => row.conversation_id === conversationId) + 1] ?? cards[cards.length - 2];
		const focusTo = [`[data-key="go-${CSS.escape(conversationId)}"]`, ...(next ? [`[data-key="go-${CSS.escape(next.conversation_id)}"]`] : []), '#pipeline-search'];
		state.moving.add(conversationId);
		// Its words are written only while this pipeline is shown: another chosen meanwhile has taken them
		// away. The card's pipeline is the board's it was on (another may be picked, its board not drawn yet).
		const onPipeline = state.board?.pipeline?.id ?? state.pipelineId;
		const shown = () => state.pipelineId === onPipeline;
		// Answered while another pipeline is shown: kept for this one (said when it is shown again), and
		// the card's "Move to" picker reset, as the board drawn then shows where the card really is.
		const settle = (words: MoveWords) => {
			if (shown()) { sayMove(words, onPipeline); return; }
			state.choices.delete(conversationId);
			// Each late answer for this pipeline said, not only the latest (a refusal must not be lost
			// under a later success).
			state.lateMoves.set(onPipeline, [...(state.lateMoves.get(onPipeline) ?? []), { words, at: Date.now() }]);
		};
		tell('');
		sayMove({ text: `Moving ${name(card)} to ${target.name}…`, error: false, data: {} }, onPipeline);
		try {
			const { status, json } = await request(moveUrl, {
				method: 'POST',
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ conversationId, stage: stageId, reason: `Moved to ${target.name} on the console's board` }),
			});
			const answer = (json ?? {}) as MoveAnswer;
			const data: Record<string, string> = { status: String(status), card: conversationId };
			let words: MoveWords;
			if (status === 200) {
				state.choices.delete(conversationId);
				const named = (answer.automations ?? []).map((item) => item.automation?.name).filter(Boolean);
				const fired = answer.automations_fired ?? 0;
				data.stage = answer.stage?.id ?? '';
				data.fired = String(fired);
				words = { error: false, data, text: answer.outcome === 'kept'
					? `${name(card)} is already in ${answer.stage?.name ?? target.name}.`
					: `Moved ${name(card)} from ${answer.from_stage?.name ?? 'outside the pipeline'} to ${answer.stage?.name ?? target.name}. `
						+ (fired === 0 ? 'No automation fired.' : `${formatNumber(fired)} ${fired === 1 ? 'automation' : 'automations'} fired${named.length ? `: ${Array.from(new Set(named)).join(', ')}` : ''}.`) };
			} else if (notDone(status, isRefusal(json))) {
				// The workflow's own refusal, or n8n's before it ran (a refused key, the webhook not active).
				words = { error: true, data, text: `${name(card)} was not moved: ${answer.error ?? (status === 403 ? 'the key was refused' : `the move webhook answered ${status}`)}`
					+ (status === 404 && !answer.error ? ' (is the workflow "Leadflow: move a contact to a stage" active?)' : '') };
			} else {
				// Not the workflow's answer (a proxy's 502 or 504): the move may have been made.
				words = { error: true, data, text: moveMayHaveBeenDone(name(card), target.name, lostAnswer(status, '')) };
			}
			settle(words);
		} catch (error) {
			// No answer at all (the network, a time-out): the move may have been made all the same.
			settle({ error: true, data: { card: conversationId }, text: moveMayHaveBeenDone(name(card), target.name, lostAnswer(undefined, (error as Error).message)) });
		} finally {
			state.moving.delete(conversationId);
			// Not at once: the board shown still has the card here, its Move disabled while it moved.
			focusAfter.set(focusTo, state.polls, false);
			void poll();
		}
	}

	picker.addEventListener('change', () => {
		if (picker.value !== state.pipelineId) forgetMove();
		state.pipelineId = picker.value;
		state.pipelineAdopted = false;
		state.addressPipeline = '';
		tell('');
		state.offsets.clear();
		state.columnsKey = '';
		void poll();
	});
	onSearchInput(search, (text) => {
		tell('');
		state.search = text;
		state.offsets.clear();
		void poll();
	});
	boardElement.addEventListener('change', (event) => {
		const select = (event.target as HTMLElement).closest<HTMLSelectElement>('[data-move-choice]');
		if (!select) return;
		if (select.value) state.choices.set(select.dataset.moveChoice!, select.value);
		else state.choices.delete(select.dataset.moveChoice!);
	});
	boardElement.addEventListener('click', (event) => {
		const target = event.target as HTMLElement;
		const go = target.closest<HTMLButtonElement>('[data-move]');
		if (go) {
			const id = go.dataset.move!;
			const stageId = state.choices.get(id) ?? boardElement.querySelector<HTMLSelectElement>(`[data-move-choice="${CSS.escape(id)}"]`)?.value ?? '';
			if (stageId) void move(id, stageId);
			else boardElement.querySelector<HTMLSelectElement>(`[data-move-choice="${CSS.escape(id)}"]`)?.focus();
			return;
		}
		const pager = target.closest<HTMLButtonElement>('[data-page]');
		if (pager) {
			const stage = state.board?.stages.find((row) => row.id === pager.dataset.page);
			if (!stage) return;
			// From the page asked for last (a second click may come before the board shows the first);
			// the other columns keep theirs.
			const current = state.offsets.get(stage.id) ?? 0;
			const offset = Math.min(Math.max(0, current + Number(pager.dataset.dir) * stage.limit), Math.max(0, stage.matching_count - 1));
			if (offset > 0) state.offsets.set(stage.id, offset);
			else state.offsets.delete(stage.id);
			tell('');
			const [pressed, other] = pager.dataset.dir === '1' ? ['next', 'prev'] : ['prev', 'next'];
			const column = `[data-stage-id="${CSS.escape(stage.id)}"]`;
			focusAfterPaging.set([
				`${column} [data-key="${pressed}-${CSS.escape(stage.id)}"]`, `${column} [data-key="${other}-${CSS.escape(stage.id)}"]`,
				`${column} [data-move]`, '#pipeline-search',
			], state.polls, false);
			void poll();
		}
	});
	// toggle does not bubble: listened to on the way down.
	boardElement.addEventListener('toggle', (event) => {
		const details = event.target as HTMLDetailsElement;
		const id = details.dataset?.reasoning;
		if (!id) return;
		if (details.open) state.open.add(id);
		else state.open.delete(id);
	}, true);
	// Drag and drop: a card dropped on another column moves there.
	boardElement.addEventListener('dragstart', (event) => {
		const card = (event.target as HTMLElement).closest<HTMLElement>('[data-card]');
		if (!card || !event.dataTransfer) return;
		event.dataTransfer.setData('text/plain', card.dataset.card!);
		event.dataTransfer.effectAllowed = 'move';
		card.classList.add('dragging');
		state.dragging = true;
	});
	boardElement.addEventListener('dragend', (event) => {
		state.dragging = false;
		(event.target as HTMLElement).closest<HTMLElement>('[data-card]')?.classList.remove('dragging');
		for (const column of boardElement.querySelectorAll('.drop-target')) column.classList.remove('drop-target');
	});
	boardElement.addEventListener('dragover', (event) => {
		const column = (event.target as HTMLElement).closest<HTMLElement>('[data-stage-id]');
		if (!column) return;
		event.preventDefault();
		if (event.dataTransfer) event.dataTransfer.dropEffect = 'move';
		for (const other of boardElement.querySelectorAll('.drop-target')) if (other !== column) other.classList.remove('drop-target');
		column.classList.add('drop-target');
	});
	boardElement.addEventListener('drop', (event) => {
		const column = (event.target as HTMLElement).closest<HTMLElement>('[data-stage-id]');
		if (!column) return;
		event.preventDefault();
		column.classList.remove('drop-target');
		state.dragging = false;
		const id = event.dataTransfer?.getData('text/plain') ?? '';
		const from = boardElement.querySelector<HTMLElement>(`[data-card="${CSS.escape(id)}"]`)?.dataset.stage;
		if (id && from && from !== column.dataset.stageId) void move(id, column.dataset.stageId!);
	});

	return {
		show() {
			state.shown = true;
			state.shownAt = Date.now();
			void poll();
		},
		hide() {
			state.shown = false;
			window.clearTimeout(state.timer);
		},
		follow(next) {
			// #pipeline=… typed into the address: that pipeline, let go with its message if it is none.
			const pipelineId = addressId(next.get('pipeline'));
			if (!pipelineId) return;
			// The pipeline shown (Back from a link of none to it): what was said of another goes.
			if (pipelineId === state.pipelineId) { tell(''); return; }
			forgetMove();
			state.pipelineId = pipelineId;
			state.pipelineAdopted = false;
			state.addressPipeline = pipelineId;
			tell('');
			state.offsets.clear();
			state.columnsKey = '';
			if (state.shown) void poll();
		},
	};
}
