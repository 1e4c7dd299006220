// The Queue tab (being built): its panel is rendered here, from the console's endpoints.
import type { Tab, TabContext } from './tab';

export function initQueue(context: TabContext, panel: HTMLElement): Tab {
	return {
		show() {
			context.render(panel, '<div class="empty">The queue view is not built yet.</div>');
		},
		hide() {},
	};
}
