// Validates a generateContent body the way the Gemini API does: proto JSON, so camelCase and
// snake_case field names are both accepted, unknown fields are refused, and the messages name the
// offending field like Google's do.
import type { GeminiContent, GeminiRequestBody } from './gemini-reply';
import { isRecord } from './http';

export type ValidatedBody = { ok: true; body: GeminiRequestBody } | { ok: false; message: string };

/** Top-level GenerateContentRequest fields, by their camelCase name. */
const KNOWN_FIELDS = new Set(['model', 'contents', 'systemInstruction', 'generationConfig', 'safetySettings', 'tools', 'toolConfig', 'cachedContent']);

const camelCase = (name: string) => name.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase());

const invalid = (message: string): ValidatedBody => ({ ok: false, message });

export function validateGenerateContentBody(value: unknown): ValidatedBody {
	if (!isRecord(value)) return invalid('Invalid JSON payload received. Expected an object for GenerateContentRequest.');
	const fields: Record<string, unknown> = {};
	for (const [name, fieldValue] of Object.entries(value)) {
		const canonical = camelCase(name);
		if (!KNOWN_FIELDS.has(canonical)) return invalid(`Invalid JSON payload received. Unknown name "${name}": Cannot find field.`);
		fields[canonical] = fieldValue;
	}

	const contents = fields.contents;
	if (contents === undefined || (Array.isArray(contents) && contents.length === 0)) {
		return invalid('* GenerateContentRequest.contents: contents is not specified\n');
	}
	if (!Array.isArray(contents)) return invalid('Invalid JSON payload received. Unknown name "contents": Proto field is not repeating, cannot start list.');
	for (const [index, content] of contents.entries()) {
		const problem = contentProblem(content, `contents[${index}]`, true);
		if (problem) return invalid(problem);
	}

	if (fields.systemInstruction !== undefined) {
		const problem = contentProblem(fields.systemInstruction, 'system_instruction', false);
		if (problem) return invalid(problem);
	}

	const generationConfig = fields.generationConfig;
	if (generationConfig !== undefined) {
		if (!isRecord(generationConfig)) return invalid('Invalid JSON payload received. "generation_config" must be an object.');
		const normalized = Object.fromEntries(Object.entries(generationConfig).map(([name, fieldValue]) => [camelCase(name), fieldValue]));
		const problem = generationConfigProblem(normalized);
		if (problem) return invalid(problem);
		fields.generationConfig = normalized;
	}

	if (fields.safetySettings !== undefined && !Array.isArray(fields.safetySettings)) {
		return invalid('Invalid JSON payload received. "safety_settings" must be a list.');
	}

	return {
		ok: true,
		body: {
			contents: contents as GeminiContent[],
			...(fields.systemInstruction !== undefined && { systemInstruction: fields.systemInstruction as GeminiContent }),
			...(fields.generationConfig !== undefined && { generationConfig: fields.generationConfig as GeminiRequestBody['generationConfig'] }),
			...(fields.safetySettings !== undefined && { safetySettings: fields.safetySettings as unknown[] }),
		},
	};
}

function contentProblem(content: unknown, where: string, checkRole: boolean): string | undefined {
	if (!isRecord(content)) return `Invalid JSON payload received. ${where} must be a Content object.`;
	if (checkRole && content.role !== undefined && content.role !== 'user' && content.role !== 'model') {
		return 'Please use a valid role: user, model.';
	}
	const parts = content.parts;
	if (!Array.isArray(parts) || parts.length === 0) return `* GenerateContentRequest.${where}.parts: contents.parts must not be empty.\n`;
	for (const [index, part] of parts.entries()) {
		if (!isRecord(part)) return `Invalid JSON payload received. ${where}.parts[${index}] must be a Part object.`;
		if (part.text !== undefined && typeof part.text !== 'string') {
			return `Invalid value at '${where}.parts[${index}].text' (TYPE_STRING), ${JSON.stringify(part.text)}`;
		}
		if (Object.keys(part).length === 0) return `* GenerateContentRequest.${where}.parts[${index}].data: required oneof field 'data' must have one initialized field\n`;
	}
	return undefined;
}

function generationConfigProblem(config: Record<string, unknown>): string | undefined {
	const { temperature, maxOutputTokens, responseMimeType } = config;
	if (temperature !== undefined && (typeof temperature !== 'number' || temperature < 0 || temperature > 2)) {
		return `* GenerateContentRequest.generation_config.temperature: temperature must be in the range [0.0, 2.0]\n`;
	}
	if (maxOutputTokens !== undefined && (typeof maxOutputTokens !== 'number' || !Number.isInteger(maxOutputTokens) || maxOutputTokens < 1)) {
		return `* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive.\n`;
	}
	const allowedMimeTypes = ['text/plain', 'application/json', 'text/x.enum'];
	if (responseMimeType !== undefined && (typeof responseMimeType !== 'string' || !allowedMimeTypes.includes(responseMimeType))) {
		return `* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are ${allowedMimeTypes.map((type) => `\`${type}\``).join(', ')}.\n`;
	}
	return undefined;
}
