/**
 * The one place that talks HTTP: typed calls to the workbench server extension
 * (`<base_url>workbench/...`), through JupyterLab's ServerConnection so that the
 * request carries the user's credentials and XSRF token.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The REST namespace of the server extension. */
export const NAMESPACE = 'workbench';

/** An error answered by the server extension: `{error_code, message}`. */
export class WorkbenchAPIError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string
  ) {
    super(message);
    this.name = 'WorkbenchAPIError';
  }
}

/**
 * Call the server extension and return the response body: parsed JSON, or the text when
 * `asText` is set (the HTML views).
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  asText = false
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const body = await response.text();
  if (!response.ok) {
    let code = 'HTTP_' + response.status;
    let message = body || response.statusText;
    try {
      const parsed = JSON.parse(body);
      code = parsed.error_code ?? code;
      message = parsed.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new WorkbenchAPIError(response.status, code, message);
  }
  if (asText) {
    return body as unknown as T;
  }
  return (body.length > 0 ? JSON.parse(body) : null) as T;
}

/** Query string from the non-empty values of `params`. */
export function query(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter(
    ([, value]) => value !== undefined && value !== ''
  );
  if (entries.length === 0) {
    return '';
  }
  return (
    '?' +
    entries
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&')
  );
}

export interface IExperiment {
  experiment_id: string;
  name: string;
  runs: number;
  created_at: string;
}

export interface IRun {
  run_id: string;
  name: string;
  experiment: string;
  status: string;
  parent_id: string | null;
  start_time: string;
  end_time: string | null;
  duration_s: number | null;
  params: Record<string, unknown>;
  metrics: Record<string, number | null>;
  tags: Record<string, string>;
}

export interface IRunsPage {
  runs: IRun[];
  total: number;
  page: number;
  page_size: number;
  n_pages: number;
}

export interface IModel {
  name: string;
  [key: string]: unknown;
}

export interface IModelDetail {
  name: string;
  versions: Array<Record<string, unknown> & { version: number }>;
  aliases: Array<{ alias: string; version: number }>;
}

export interface IDeployments {
  available: boolean;
  deployments: Array<Record<string, unknown>>;
}

export interface ISweep {
  name: string;
  experiment: string;
  status: string;
  run_id: string;
  [key: string]: unknown;
}

export interface IInfo {
  store: string;
  version: string;
}

export interface IDashboard {
  url: string | null;
  started_here: boolean;
}
