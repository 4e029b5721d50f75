// Files shipped with rapflow (avro/, data/), found relative to the code in src/ or dist/.
import { fileURLToPath } from 'node:url';

/** `src/config` and `dist/config` both sit two levels below the project root. */
export const projectPath = (relative: string) => fileURLToPath(new URL(`../../${relative}`, import.meta.url));
