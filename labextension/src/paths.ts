/** Notebook paths the panel treats specially. */

/**
 * An executed step notebook of a run (`.liminal/runs/RUN/...`). Opening one from the
 * panel must not replace the pipeline the panel shows, so the panel does not follow it.
 */
export function isRunArtifact(path: string): boolean {
  return path.split('/').includes('.liminal');
}
