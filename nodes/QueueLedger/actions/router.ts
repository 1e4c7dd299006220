// Dispatches to the operation chosen in the node (one file per operation, nodes/shared/router.ts).
import { operationRouter } from '../../shared/router';
import * as addLeads from './addLeads.operation';
import * as claim from './claim.operation';
import * as complete from './complete.operation';
import * as exportQueue from './export.operation';
import * as metrics from './metrics.operation';
import * as prepareTomorrow from './prepareTomorrow.operation';
import * as send from './send.operation';
import * as settleLead from './settleLead.operation';
import * as takeLead from './takeLead.operation';

export const router = operationRouter({ addLeads, prepareTomorrow, claim, send, complete, takeLead, settleLead, export: exportQueue, metrics });
