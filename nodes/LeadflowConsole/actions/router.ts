// Dispatches to the operation chosen in the node (one file per operation, nodes/shared/router.ts).
import { operationRouter } from '../../shared/router';
import * as monitor from './monitor.operation';
import * as page from './page.operation';
import * as pipelineBoard from './pipelineBoard.operation';
import * as queuePage from './queuePage.operation';
import * as requeue from './requeue.operation';
import * as ruleDelete from './ruleDelete.operation';
import * as rulePrompt from './rulePrompt.operation';
import * as rules from './rules.operation';
import * as ruleWrite from './ruleWrite.operation';
import * as timeline from './timeline.operation';

export const router = operationRouter({ page, pipelineBoard, monitor, timeline, rules, ruleWrite, ruleDelete, queuePage, rulePrompt, requeue });
