// Runs in every test file's context after jest's globals are set up (jest `setupFilesAfterEnv`):
// the file holds its share of the machine while it runs (see test/helpers/quiet-machine.ts).
import { shareMachine } from '../helpers/quiet-machine';

shareMachine();
