// Runs in every test file's context before its tests (jest `setupFiles`).
import { shareUndiciDispatcherWithJest } from './genai-in-jest';

// @google/genai needs Node's undici dispatcher, which jest's per-file context hides (see genai-in-jest.ts).
shareUndiciDispatcherWithJest();
