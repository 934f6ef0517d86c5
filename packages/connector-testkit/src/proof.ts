import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What one fault-injection test measured: the row it contributes to a README's proof table. */
export interface ProofFigures {
  /** Short name of the scenario, also the file name (`test-results/proof-<scenario>.json`). */
  scenario: string;
  /** Points the system under test acknowledged (2xx, or a resolved ingest). */
  points: number;
  /** The faults injected, in words (e.g. `20 SIGKILLs, 5 broker restarts`). */
  faults: string;
  /** Acknowledged points the independent reader never saw. */
  lost: number;
  /** Extra copies the independent reader saw (at-least-once redeliveries). */
  duplicates: number;
  /** Wall time of the scenario, seconds. */
  seconds: number;
  /** The seed of the fault schedule, when it is random. */
  seed?: number;
}

/**
 * Prints the figures as one `[proof] {...}` line and writes them with the date to
 * `test-results/proof-<scenario>.json` under the working directory (the package, under vitest), so
 * README tables quote what a run measured rather than what someone remembered.
 */
export function recordProof(figures: ProofFigures): void {
  const record = { ...figures, at: new Date().toISOString() };
  console.log(`[proof] ${JSON.stringify(record)}`);
  const dir = join(process.cwd(), 'test-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `proof-${figures.scenario}.json`), `${JSON.stringify(record, null, 2)}\n`);
}
