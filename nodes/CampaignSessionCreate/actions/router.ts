// Dispatches to the operation chosen in the node (one file per operation, nodes/shared/router.ts).
import { operationRouter } from '../../shared/router';
import * as create from './create.operation';
import * as recordObjective from './recordObjective.operation';
import * as stats from './stats.operation';

export const router = operationRouter({ create, recordObjective, stats });
