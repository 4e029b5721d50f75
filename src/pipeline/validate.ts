// The validate stage: every file of a source checked whole, then references across the set.
import { validateFile, referenceProblems, type ModelTypes, type Problem, type ValidatedFile } from '../model/validate.js';
import { DEFAULT_YAML_LIMITS, oversize, type YamlLimits } from '../model/yaml.js';
import type { ObjectSource } from '../source/types.js';

export interface ValidationReport {
  /** Per file, its own problems and the cross-file ones it causes (unknown artist, unknown song). */
  files: { file: string; documents: number; valid: boolean; problems: Problem[] }[];
  notes: string[];
  valid: boolean;
}

export async function validateSources(sources: ObjectSource[], types: ModelTypes, limits: YamlLimits = DEFAULT_YAML_LIMITS): Promise<{ report: ValidationReport; files: ValidatedFile[] }> {
  const files: ValidatedFile[] = [];
  for (const source of sources) {
    for await (const ref of source.list()) {
      if (ref.size > limits.maxBytes) {
        // Refused unread: a file over the limit never reaches memory.
        files.push({
          file: ref.uri,
          documents: [],
          problems: [{ file: ref.uri, document: 0, line: 1, column: 1, path: '', message: oversize(ref.size, limits.maxBytes) }],
        });
        continue;
      }
      files.push(validateFile(ref.uri, await source.read(ref), types, { limits }));
    }
  }
  const refs = referenceProblems(files);
  const entries = files.map((f) => {
    const problems = [...f.problems, ...refs.problems.filter((p) => p.file === f.file)];
    problems.sort((a, b) => a.document - b.document || a.line - b.line || a.column - b.column);
    return { file: f.file, documents: f.documents.length, valid: problems.length === 0, problems };
  });
  const report: ValidationReport = { files: entries, notes: refs.notes, valid: entries.every((f) => f.valid) };
  return { report, files };
}
