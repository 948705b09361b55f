// Talking to the API: one fetch wrapper, problem JSON as errors, the Link header.

/** A non-2xx answer. `problem` is the RFC 9457 body when the API sent one. */
export class ApiError extends Error {
  constructor(response, problem) {
    super(problem?.detail || `${response.status} ${response.statusText || "error"}`);
    this.name = "ApiError";
    this.status = response.status;
    this.problem = problem;
    this.headers = response.headers;
  }

  static async from(response) {
    let problem = null;
    if ((response.headers.get("Content-Type") || "").includes("json")) {
      try {
        problem = await response.json();
      } catch {
        // An unreadable body leaves the status line to speak for itself.
      }
    }
    return new ApiError(response, problem);
  }
}

/** fetch() itself failed: no answer arrived, so the request may or may not have been applied. */
export class NetworkError extends Error {
  constructor(cause) {
    super("The API could not be reached (network error).");
    this.name = "NetworkError";
    this.cause = cause;
  }
}

/** fetch() with JSON in and out; resolves to the Response of a 2xx, throws ApiError else. */
export async function send(url, { method = "GET", body, headers = {}, credentials = "omit" } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new NetworkError(error);
  }
  if (!response.ok) throw await ApiError.from(response);
  return response;
}

/** RFC 8288 Link header -> {rel: url}; the API sends absolute URLs for first/prev/next/last. */
export function parseLinks(header) {
  const links = {};
  for (const part of (header || "").split(/,(?=\s*<)/)) {
    const match = part.match(/<([^>]*)>\s*;\s*rel="?([^";]+)"?/);
    if (match) for (const rel of match[2].trim().split(/\s+/)) links[rel] = match[1];
  }
  return links;
}

/** The value of a cookie this page can read (not HttpOnly, path and host matching). */
export function readCookie(name) {
  for (const pair of document.cookie.split(";")) {
    const [key, ...rest] = pair.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}
