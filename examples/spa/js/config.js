// Where the API is and how this page authenticates, from the page's own URL:
//   ?api=http://localhost:8000   the API's base URL (default: `make run`'s, on the page's host
//                                name localhost, the origin the README's walkthrough uses)
//   ?mode=cookie                 HttpOnly cookies + CSRF header instead of bearer tokens
const params = new URLSearchParams(window.location.search);

export const DEFAULT_API = "http://localhost:5000";
export const API_BASE = (params.get("api") || DEFAULT_API).replace(/\/+$/, "");
export const MODE = params.get("mode") === "cookie" ? "cookie" : "header";

/** A link to another page of this app that keeps the `api` and `mode` settings. */
export function appUrl(path, extra = {}) {
  const url = new URL(path, window.location.href);
  if (params.has("api")) url.searchParams.set("api", API_BASE);
  if (MODE === "cookie") url.searchParams.set("mode", MODE);
  for (const [name, value] of Object.entries(extra)) url.searchParams.set(name, value);
  return url.toString();
}
