// eachPieceAtOnce: at most N calls in flight, outcomes in the pieces' order whatever order the calls
// ended in, and after a failure (when told to stop) no further piece started.
import { eachPieceAtOnce } from '../../../nodes/shared/supabase';

/** A call per piece that ends when the test says so; which pieces have started. */
function controlledCalls() {
	const started: number[] = [];
	const endings = new Map<number, { resolve: (value: string) => void; reject: (error: Error) => void }>();
	let inFlight = 0;
	let peak = 0;
	const call = (piece: string, index: number) =>
		new Promise<string>((resolve, reject) => {
			started.push(index);
			inFlight += 1;
			peak = Math.max(peak, inFlight);
			endings.set(index, {
				resolve: (value) => {
					inFlight -= 1;
					resolve(`${piece}:${value}`);
				},
				reject: (error) => {
					inFlight -= 1;
					reject(error);
				},
			});
		});
	const settle = () => new Promise((resolve) => setImmediate(resolve));
	return { started, endings, call, settle, peak: () => peak };
}

it('runs two at a time, starts the next as one ends, and answers in the pieces\' order', async () => {
	const calls = controlledCalls();
	const all = eachPieceAtOnce(['a', 'b', 'c', 'd'], 2, calls.call, true);
	await calls.settle();
	expect(calls.started).toEqual([0, 1]);
	calls.endings.get(1)!.resolve('second');
	await calls.settle();
	expect(calls.started).toEqual([0, 1, 2]);
	calls.endings.get(2)!.resolve('third');
	calls.endings.get(0)!.resolve('first');
	await calls.settle();
	expect(calls.started).toEqual([0, 1, 2, 3]);
	calls.endings.get(3)!.resolve('fourth');
	expect(await all).toEqual([
		{ status: 'fulfilled', value: 'a:first' },
		{ status: 'fulfilled', value: 'b:second' },
		{ status: 'fulfilled', value: 'c:third' },
		{ status: 'fulfilled', value: 'd:fourth' },
	]);
	expect(calls.peak()).toBe(2);
});

it('after a failure starts nothing more, lets the call in flight end, and leaves the pieces never started undefined', async () => {
	const calls = controlledCalls();
	const all = eachPieceAtOnce(['a', 'b', 'c', 'd'], 2, calls.call, true);
	await calls.settle();
	const refusal = new Error('p_items[5].conversation_id: conversation does not exist');
	calls.endings.get(0)!.reject(refusal);
	await calls.settle();
	expect(calls.started).toEqual([0, 1]);
	calls.endings.get(1)!.resolve('written');
	expect(await all).toEqual([{ status: 'rejected', reason: refusal }, { status: 'fulfilled', value: 'b:written' }, undefined, undefined]);
});

it('told not to stop, carries on past a failure', async () => {
	const calls = controlledCalls();
	const all = eachPieceAtOnce(['a', 'b', 'c'], 1, calls.call, false);
	await calls.settle();
	const failure = new Error('503');
	calls.endings.get(0)!.reject(failure);
	await calls.settle();
	calls.endings.get(1)!.resolve('x');
	await calls.settle();
	calls.endings.get(2)!.resolve('y');
	expect(await all).toEqual([{ status: 'rejected', reason: failure }, { status: 'fulfilled', value: 'b:x' }, { status: 'fulfilled', value: 'c:y' }]);
	expect(calls.peak()).toBe(1);
});
