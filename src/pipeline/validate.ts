// The validate stage: every file of a source checked whole, then references across the set.
import { validateFile, referenceProblems, type ModelTypes, type Problem, type ValidatedFile } from '../model/validate.js';
import { DEFAULT_YAML_LIMITS, oversize, type YamlLimits } from '../model/yaml.js';
import type { ObjectSource } from '../source/types.js';

/**
 * One meaning of "invalid" for validate, run and split: a file with problems of its own, which
 * split quarantines. References to artists or songs outside the set are not problems (split
 * accepts them: they may be ingested already, or come in a later file); they are listed apart.
 */
export interface ValidationReport {
  /** Per file: its own problems (`valid` when none), and its references to artists or songs the set does not hold. */
  files: { file: string; documents: number; valid: boolean; problems: Problem[]; references: Problem[] }[];
  notes: string[];
  /** No file is invalid (references outside the set allowed). */
  valid: boolean;
}

/** The counts validate and run print: files, invalid files (split quarantines them), files with references outside the set. */
export function validationCounts(report: ValidationReport): { files: number; invalid: number; withReferences: number; documents: number; problems: number } {
  return {
    files: report.files.length,
    invalid: report.files.filter((f) => !f.valid).length,
    withReferences: report.files.filter((f) => f.references.length > 0).length,
    documents: report.files.reduce((n, f) => n + f.documents, 0),
    problems: report.files.reduce((n, f) => n + f.problems.length, 0),
  };
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
  const byPlace = (a: Problem, b: Problem) => a.document - b.document || a.line - b.line || a.column - b.column;
  const entries = files.map((f) => {
    const problems = [...f.problems].sort(byPlace);
    const references = refs.problems.filter((p) => p.file === f.file).sort(byPlace);
    return { file: f.file, documents: f.documents.length, valid: problems.length === 0, problems, references };
  });
  const report: ValidationReport = { files: entries, notes: refs.notes, valid: entries.every((f) => f.valid) };
  return { report, files };
}
