// Dispatches to the operation chosen in the node (one file per operation, nodes/shared/router.ts).
import { operationRouter } from '../../shared/router';
import * as claim from './claim.operation';
import * as explain from './explain.operation';
import * as giveBack from './giveBack.operation';
import * as requeue from './requeue.operation';
import * as snapshot from './snapshot.operation';
import * as timeline from './timeline.operation';

export const router = operationRouter({ claim, explain, giveBack, requeue, snapshot, timeline });
