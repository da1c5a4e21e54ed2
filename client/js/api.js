// @ts-check
/** REST client for /api/v1: JSON in and out, CSRF header on every state-changing call. */

/** @typedef {{id:number, username:string, display_name:string, is_admin:boolean}} UserInfo */
/** @typedef {{user: UserInfo, csrf_token: string, session_id: number, account_source?: 'local'|'directory'|'guest'}} SessionInfo */

/** An error reply from the server, carrying its stable code. */
export class ApiFailure extends Error {
  /**
   * @param {number} status
   * @param {{code?: string, message?: string, field?: string, retry_after_secs?: number}} body
   */
  constructor(status, body) {
    super(body.message || `request failed (${status})`);
    this.status = status;
    this.code = body.code || 'internal';
    this.field = body.field;
    this.retryAfter = body.retry_after_secs;
  }
}

/** @type {string|null} */
let csrfToken = null;

/** @param {string|null} token */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** The session's CSRF token, for requests made without {@link api} (uploads with progress). */
export function getCsrfToken() {
  return csrfToken;
}

/**
 * @param {string} method
 * @param {string} path  below /api/v1, e.g. "/session"
 * @param {unknown} [body]
 * @returns {Promise<any>} parsed JSON, or null for 204
 */
export async function api(method, path, body) {
  /** @type {Record<string,string>} */
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let resp;
  try {
    resp = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiFailure(0, { code: 'network', message: 'Cannot reach the server. Check your connection.' });
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new ApiFailure(resp.status, data);
  return data;
}
