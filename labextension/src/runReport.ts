/**
 * A run's report (GET /liminal/runs/ID/report, runs/report.py on the server): one page
 * with the DAG, parameters, metrics, models and every step's executed notebook. The panel
 * shows it in a main-area tab through reportView.ts, in an iframe sandboxed with no
 * permissions, as it shows a drift report. Kept free of JupyterLab imports so the URL and
 * the wording are unit-tested in node.
 */

import { IRun } from './types';
import { apiUrl } from './urls';

/** The route of one run's report; the run id is one path segment, the notebook a query. */
export function runReportUrl(baseUrl: string, runId: string, path: string): string {
  return apiUrl(baseUrl, ['runs', runId, 'report'], { path });
}

/** The report tab's title: the pipeline, then the run without its date. */
export function runReportTitle(run: Pick<IRun, 'run_id' | 'pipeline_name'>): string {
  return `Report: ${run.pipeline_name} ${run.run_id.replace(/^\d{8}-/, '')}`;
}

/**
 * Whether to offer the report: once the run has ended (a running run's page would be
 * stale at once), for runs whose steps this server's run store records.
 */
export function canReport(run: Pick<IRun, 'status' | 'backend'>): boolean {
  return run.status !== 'running' && run.backend !== 'kfp';
}
