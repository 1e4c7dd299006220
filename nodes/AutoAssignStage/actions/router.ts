import { operationRouter } from '../../shared/router';
import * as analyze from './analyze.operation';
import * as assign from './assign.operation';
import * as claimAutomations from './claimAutomations.operation';
import * as completeAutomations from './completeAutomations.operation';
import * as move from './move.operation';

export const router = operationRouter({ analyze, assign, move, claimAutomations, completeAutomations });
