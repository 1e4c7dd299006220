// export ("Export Queue Data"): an owner's WhatsApp queue with each item's lead, for a range of days
// and optionally some statuses, as a CSV file in the item's binary data (helpers/csv.ts says what
// the file holds). The rows stream from the database page by page into n8n's binary data store, so
// a large queue never sits in memory whole (with n8n's default filesystem binary mode). An empty
// range gives a file with the header row only.
import { updateDisplayOptions, type IBinaryData, type IExecuteFunctions, type INodeExecutionData, type INodeProperties } from 'n8n-workflow';
import { QUEUE_ITEM_STATUSES, type QueueItemStatus } from '../../shared/contract/queue';
import { FieldRefusedError, perItem, SettingRefusedError } from '../../shared/per-item';
import { optionsCollection } from '../../shared/properties';
import { notTextProblem, textProblem } from '../../shared/valid-input';
import { inOwnerField } from '../helpers/caller-fields';
import { dayRangeProperties, ownerProperty, readDayRange, readOwner } from '../helpers/common';
import { csvStream } from '../helpers/csv';
import { exportPages } from '../transport/exportPages';

const properties: INodeProperties[] = [
	ownerProperty(true, 'Whose queue (the Supabase Auth user ID); n8n uses the service role, so the owner is stated, e.g. from the request'),
	...dayRangeProperties('export'),
	{
		displayName: 'Statuses',
		name: 'statuses',
		type: 'multiOptions',
		default: [],
		description: 'Only items in these statuses; none chosen: every status',
		options: QUEUE_ITEM_STATUSES.map((status) => ({ name: status.charAt(0).toUpperCase() + status.slice(1), value: status })),
	},
	optionsCollection([
		{
			displayName: 'File Name',
			name: 'fileName',
			type: 'string',
			default: '',
			placeholder: 'e.g. queue.csv',
			description: 'The file\'s name; empty: leadflow-queue-{from}-{to}.csv',
		},
		{
			displayName: 'Put Output File in Field',
			name: 'binaryPropertyName',
			type: 'string',
			default: 'data',
			hint: 'The name of the output binary field to put the file in',
		},
		{
			displayName: 'Byte Order Mark',
			name: 'bom',
			type: 'boolean',
			default: true,
			description: 'Whether the file starts with a UTF-8 byte order mark, which Excel needs to show accents and other non-English letters right',
		},
	]),
];

export const description = updateDisplayOptions({ show: { operation: ['export'] } }, properties);

interface ExportOptions {
	fileName?: unknown;
	binaryPropertyName?: string;
	bom?: boolean;
}

function readStatuses(context: IExecuteFunctions, itemIndex: number): QueueItemStatus[] | null {
	const raw = context.getNodeParameter('statuses', itemIndex, []) as unknown;
	const list = (Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : []).map((status) => String(status).trim().toLowerCase()).filter(Boolean);
	const unknown = list.filter((status) => !(QUEUE_ITEM_STATUSES as readonly string[]).includes(status));
	if (unknown.length > 0) {
		// Named (field: statuses), as readUuid's refusals: the Export webhook answers it as its ?status=.
		throw new FieldRefusedError(context.getNode(), `Statuses: "${unknown[0]}" is not a queue status`, { itemIndex, description: `Choose among ${QUEUE_ITEM_STATUSES.join(', ')}.` }, 'statuses');
	}
	return list.length > 0 ? ([...new Set(list)] as QueueItemStatus[]) : null;
}

export async function execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	return await perItem(this, 1, async (itemIndex) => {
		const owner = readOwner(this, itemIndex);
		const { from, to } = readDayRange(this, itemIndex);
		const statuses = readStatuses(this, itemIndex);
		const options = this.getNodeParameter('options', itemIndex, {}) as ExportOptions;
		// Text, or a number as written (as it was read before); an object, an array or a boolean from
		// an expression is refused naming what it got, never written "[object Object]".
		const given = options.fileName;
		const notText = typeof given === 'number' && Number.isFinite(given) ? undefined : notTextProblem(given);
		const fileName = (typeof given === 'string' ? given.trim() : typeof given === 'number' && !notText ? String(given) : '') || `leadflow-queue-${from}-${to}.csv`;
		const nameProblem = notText ?? textProblem(fileName, { kind: 'line', max: 200 }) ?? (/[\\/"]/.test(fileName) ? 'must not contain / \\ or "' : undefined);
		if (nameProblem) {
			// A setting of the node's Options (empty, the name is made of the checked days and is never
			// refused), not the request's: its failed item names it, so a webhook answers it as its own
			// fault (queue-actions.json: 500 "fix it in the workflow"), never the caller's 400.
			throw new SettingRefusedError(
				this.getNode(),
				`File Name ${nameProblem}`,
				{ itemIndex, description: "Set File Name in the node's Options to a plain file name such as queue.csv, or leave it empty for leadflow-queue-{from}-{to}.csv." },
				{ displayName: 'File Name', parameter: 'options.fileName' },
			);
		}
		const field = String(options.binaryPropertyName ?? 'data').trim() || 'data';

		const csv = await csvStream(exportPages(this, { p_user_id: owner, p_from: from, p_to: to, p_statuses: statuses }, itemIndex), { bom: options.bom ?? true });
		let binary: IBinaryData;
		try {
			// The pages are read here: an owner the database refuses fails the first one.
			binary = await this.helpers.prepareBinaryData(csv.stream, fileName, 'text/csv');
		} catch (error) {
			throw inOwnerField(this, error, itemIndex);
		}
		return [{ output: 0, json: { owner, from, to, statuses, rows: csv.rows(), file_name: fileName }, binary: { [field]: binary } }];
	});
}
