// The workflow test harness: run any workflow JSON with n8n's engine in-process, test a credential
// the way n8n's "Test" button does, and call a node's list and options methods as the editor does.
//
//   const result = await runWorkflow('workflows/lead-follow-up.json', {
//     webhook: { method: 'POST', headers: { 'x-leadflow-key': 'k' }, body: { psid: '1' } },
//     credentials: { httpHeaderAuth: { name: 'x-leadflow-key', value: 'k' }, leadflowSupabaseApi: { url, serviceRoleKey } },
//   });
//   result.response?.statusCode; result.nodeOutputs['Fetch leads'];
export { runWorkflow, type RunOptions, type RunResult, type RunError } from './run-workflow';
export { testCredential, type CredentialTestResult } from './test-credential';
export { listSearch, loadOptions, type NodeMethodCall } from './node-methods';
export { loadWorkflow, findStartNode, type WorkflowJson, type TriggerKind } from './workflow-file';
export type { TestCredentials } from './credentials-helper';
export type { SubExecution } from './sub-workflows';
export type { WebhookRequest, CapturedResponse } from './webhook-http';
