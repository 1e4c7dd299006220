// Lint: the rule sets n8n applies to community packages today, as @n8n/node-cli's shipped config
// does: @n8n/eslint-plugin-community-nodes' set for packages without n8n Cloud support (pairedItem,
// NodeApiError, connection types, credential tests…) and eslint-plugin-n8n-nodes-base's
// `community`, `credentials` and `nodes` sets, less the four rules that plugin documents as meant for
// n8n's main repository only (docs slugs, and the pre-1.0 `inputs: ['main']` form), plus
// TypeScript's recommended rules. (eslint is pinned to the version that plugin declares as its peer.)
import eslint from '@eslint/js';
import communityNodes from '@n8n/eslint-plugin-community-nodes';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import jsoncParser from 'jsonc-eslint-parser';
import tseslint from 'typescript-eslint';

const plugins = { 'n8n-nodes-base': n8nNodesBase };
const mainRepositoryOnly = {
	credentials: { 'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off' },
	nodes: {
		'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
		'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
		'n8n-nodes-base/node-param-type-options-max-value-present': 'off',
	},
};

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.stack/**'] },
	{
		files: ['**/*.ts'],
		extends: [eslint.configs.recommended, tseslint.configs.recommended],
	},
	{
		files: ['**/*.js', '**/*.mjs'],
		extends: [eslint.configs.recommended],
		languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' } },
	},
	{
		...communityNodes.configs.recommendedWithoutN8nCloudSupport,
		files: ['package.json', 'nodes/**/*.ts', 'credentials/**/*.ts'],
		ignores: ['eslint.config.{js,mjs,ts,mts}'],
		rules: {
			...communityNodes.configs.recommendedWithoutN8nCloudSupport.rules,
			// Deliberate: a self-hosted package ("strict": false) whose nodes use the real clients of
			// Supabase, Gemini and the phone library at run time; n8n Cloud's verified nodes may not.
			'@n8n/community-nodes/no-runtime-dependencies': 'off',
			// Its name heuristic misses that `serviceRoleKey` is Supabase's service_role secret: it must stay a password field.
			'@n8n/community-nodes/credential-unnecessary-password': 'off',
		},
	},
	{
		files: ['package.json'],
		languageOptions: { parser: jsoncParser },
		plugins,
		rules: { ...n8nNodesBase.configs.community.rules },
	},
	{
		files: ['credentials/**/*.ts'],
		plugins,
		rules: { ...n8nNodesBase.configs.credentials.rules, ...mainRepositoryOnly.credentials },
	},
	{
		files: ['nodes/**/*.ts'],
		plugins,
		rules: { ...n8nNodesBase.configs.nodes.rules, ...mainRepositoryOnly.nodes },
	},
);
