// Lint: the rule sets n8n applies to community packages (as in @n8n/node-cli's shipped config):
// eslint-plugin-n8n-nodes-base's `community`, `credentials` and `nodes` sets, less the four rules
// that plugin documents as meant for n8n's main repository only (docs slugs, and the pre-1.0
// `inputs: ['main']` form), plus TypeScript's recommended rules.
import eslint from '@eslint/js';
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
