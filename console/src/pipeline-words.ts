// The Pipeline tab's words for a pipeline asked for that the database does not know (the board's
// 404): which ID, how it was chosen, and what the tab shows instead. No DOM: unit tested in
// test/console/pipeline-words.test.ts.

/**
 * `how`: `address` for the address's `#pipeline=` never shown (a link that may be wrong: check it),
 * `deleted` for a pipeline shown or picked in the Pipeline list (so it was there: deleted meanwhile),
 * named when its name is known. `left`: how many pipelines are listed now, the first of them shown
 * (with one, said as the only one: there is no other to pick).
 */
export function pipelineNotFoundInWords(id: string, how: 'address' | 'deleted', name: string | undefined, left: number): string {
	const shown = id.length > 60 ? `${id.slice(0, 60)}…` : id;
	const next = left === 0 ? 'No pipeline is left to show.'
		// The only one: no other to pick in the Pipeline list.
		: left === 1 ? 'Showing the only pipeline instead.'
			: 'Showing the first pipeline listed instead: pick another in the Pipeline list.';
	if (how === 'deleted') {
		return `The pipeline ${name ? `"${name}" (ID ${shown})` : `with ID ${shown}`} is no longer in this database: it was deleted meanwhile. ${next}`;
	}
	return `There is no pipeline with ID ${shown} in this database. `
		+ `Check the ID in the link you opened (it may be of another project's database, or the pipeline was deleted). ${next}`;
}
