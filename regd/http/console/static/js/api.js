// The console's only way to the server: /api/v1 and /v2 reads, with the session cookie
// (sent by the browser) and the anti-forgery token on every state change.

let csrfToken = "";

/** @param {string} token */
export function setCsrf(token) { csrfToken = token; }

export class ApiError extends Error {
  /** @param {number} status @param {string} detail */
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

/**
 * @param {string} method @param {string} path @param {any} [body]
 * @param {Record<string, string>} [headers]
 * @returns {Promise<any>}
 */
export async function request(method, path, body, headers = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, /** @type {RequestInit} */ (init));
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const detail = (data && (data.detail || data.errors?.[0]?.message)) || `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, detail);
    if (response.status === 401 && path.startsWith("/api/")) {
      window.dispatchEvent(new CustomEvent("regd:signed-out"));
    }
    throw error;
  }
  return data;
}

/** @param {string} path */
export const get = (path) => request("GET", path);
/** @param {string} path @param {any} body */
export const post = (path, body) => request("POST", path, body);
/** @param {string} path @param {any} body */
export const put = (path, body) => request("PUT", path, body);
/** @param {string} path @param {any} body */
export const patch = (path, body) => request("PATCH", path, body);
/** @param {string} path */
export const del = (path) => request("DELETE", path);

/** A repository name in a path: its components encoded, its slashes kept. @param {string} name */
export const repoPath = (name) => name.split("/").map(encodeURIComponent).join("/");
