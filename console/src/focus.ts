// Where the keyboard focus goes after an action (Trigger now, Requeue, Save, the Enabled switch,
// Move…): the control that was used, or, when it is gone or disabled, the row's next control, so a
// keyboard or screen-reader user keeps their place instead of starting again from the page's body.
// A control is found by a selector (its id or data-key), so one drawn anew by a refresh is found too.

/**
 * The focus is lost: on the page's body, or on a control that was disabled, taken off the page, or
 * hidden (the browser takes the focus from it only at its next frame, to the body).
 */
export function focusLost(): boolean {
	const active = document.activeElement as (HTMLElement & { disabled?: boolean }) | null;
	return !active || active === document.body || active.disabled === true || !active.isConnected || active.getClientRects().length === 0;
}

/**
 * When the focus is lost, focuses the first element of `selectors` that is on the page, shown and
 * enabled. True when the focus is where it should be (left where the user put it, or placed here).
 */
export function focusFirst(selectors: string[]): boolean {
	if (!focusLost()) return true;
	for (const selector of selectors) {
		const element = document.querySelector<HTMLElement & { disabled?: boolean }>(selector);
		if (element && element.disabled !== true && element.getClientRects().length > 0) {
			element.focus();
			return true;
		}
	}
	return false;
}

/**
 * The focus an action owes once the page has drawn its outcome: `settle` after each draw places it
 * when it was lost, until a draw asked for after the action (a later `drawn`) has settled it.
 */
export class FocusAfter {
	private selectors: string[] | undefined;
	private after = 0;

	/**
	 * The action ended; `draws`: the draws asked for so far (one with a higher number shows its
	 * outcome). `now`: place the focus at once too (its control is already back, e.g. re-enabled).
	 */
	set(selectors: string[], draws: number, now = true): void {
		this.selectors = selectors;
		this.after = draws;
		if (now) focusFirst(selectors);
	}

	/** A draw (numbered as counted by the tab) has been made; one asked for before the action ended is not its outcome. */
	settle(draw: number): void {
		if (!this.selectors || draw <= this.after) return;
		focusFirst(this.selectors);
		this.selectors = undefined;
	}

	/**
	 * A draw asked for after the action failed (no answer, or not the board): the focus it owed is
	 * dropped, so a later draw, maybe minutes on when the connection is back, does not pull the focus
	 * (and the page's scroll) back to a control the person has long left.
	 */
	cancel(draw: number): void {
		if (draw > this.after) this.selectors = undefined;
	}
}
