// The login: tokens (header mode) or cookies (cookie mode), refresh before expiry, and
// `api.call()`, which authenticates a request and retries it once after a refresh on 401.
//
// Header mode keeps both tokens in this module's memory only (never localStorage): a reload
// signs out. Cookie mode leaves them in HttpOnly cookies the API sets; this page only reads the
// CSRF values the API puts in readable cookies and echoes them in X-CSRF-TOKEN on writes.
import { ApiError, readCookie, send } from "./http.js";

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
// Refresh this long before the access token expires: a quarter of its life, at most a minute.
const leadSeconds = (lifetime) => Math.min(60, lifetime / 4);

export class Session extends EventTarget {
  constructor({ base, mode }) {
    super();
    this.base = base;
    this.mode = mode;
    this.accessToken = null; // header mode only
    this.refreshToken = null; // header mode only; always the newest one
    this.signedIn = false;
    this.expiresAt = 0;
    this.refreshes = 0;
    // Bumped whenever new credentials arrive: a 401 to a request sent with older ones is
    // answered by retrying, not by refreshing again.
    this.generation = 0;
    this.inFlightRefresh = null; // the one refresh under way, shared by every caller
    this.timer = null;
  }

  get credentials() {
    return this.mode === "cookie" ? "include" : "omit";
  }

  url(path) {
    return /^https?:/.test(path) ? path : this.base + path;
  }

  async login(username, password) {
    const response = await send(this.url("/auth/token"), {
      method: "POST",
      body: { username, password },
      credentials: this.credentials,
    });
    this.accept(await response.json());
  }

  /** Cookie mode after a reload: the cookies may still hold a login; a refresh tells. */
  async resume() {
    if (this.mode !== "cookie" || !readCookie("csrf_refresh_token")) return false;
    try {
      await this.refresh();
      return true;
    } catch {
      return false;
    }
  }

  /** Rotate the tokens. Concurrent callers share one request: presenting one refresh token
   * twice would look like theft to the API and end the whole login. */
  refresh() {
    if (!this.inFlightRefresh) {
      this.inFlightRefresh = this.rotate().finally(() => {
        this.inFlightRefresh = null;
      });
    }
    return this.inFlightRefresh;
  }

  async rotate() {
    const generation = this.generation;
    const run = () => this.sendRefresh(generation);
    // Tabs of one browser share the cookies: the Web Locks API keeps their refreshes apart.
    if (this.mode === "cookie" && navigator.locks) {
      return navigator.locks.request("myproject-token-refresh", run);
    }
    return run();
  }

  async sendRefresh(generation) {
    if (generation !== this.generation) return; // fresh credentials arrived meanwhile
    const headers = {};
    if (this.mode === "cookie") {
      headers["X-CSRF-TOKEN"] = readCookie("csrf_refresh_token") || "";
    } else {
      headers.Authorization = `Bearer ${this.refreshToken}`;
    }
    try {
      const response = await send(this.url("/auth/token/refresh"), {
        method: "POST",
        headers,
        credentials: this.credentials,
      });
      const pair = await response.json();
      if (generation !== this.generation) return; // signed out while it was in flight
      this.refreshes += 1;
      this.accept(pair);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.clear("expired");
      throw error;
    }
  }

  accept(pair) {
    if (this.mode === "header") {
      this.accessToken = pair.access_token;
      this.refreshToken = pair.refresh_token;
    } // cookie mode: the cookies are the credentials; the body's copies are dropped.
    this.signedIn = true;
    this.generation += 1;
    this.expiresAt = Date.now() + pair.expires_in * 1000;
    clearTimeout(this.timer);
    const delay = (pair.expires_in - leadSeconds(pair.expires_in)) * 1000;
    this.timer = setTimeout(() => this.refresh().catch(() => {}), delay);
    this.dispatchEvent(new Event("change"));
  }

  clear(reason = "signed-out") {
    clearTimeout(this.timer);
    this.accessToken = this.refreshToken = null;
    this.signedIn = false;
    this.generation += 1;
    this.dispatchEvent(new CustomEvent("change", { detail: reason }));
  }

  authorize(headers, method) {
    if (this.mode === "header") {
      if (this.accessToken) headers.Authorization = `Bearer ${this.accessToken}`;
    } else if (WRITE_METHODS.has(method)) {
      headers["X-CSRF-TOKEN"] = readCookie("csrf_access_token") || "";
    }
  }

  /** An API request. With `auth`, it carries the login and survives one expired token. */
  async call(method, path, { body, headers = {}, auth = false } = {}) {
    if (auth && this.inFlightRefresh) await this.inFlightRefresh.catch(() => {});
    const generation = this.generation;
    const attempt = () => {
      const all = { ...headers };
      if (auth) this.authorize(all, method);
      return send(this.url(path), { method, body, headers: all, credentials: this.credentials });
    };
    try {
      return await attempt();
    } catch (error) {
      if (!(auth && error instanceof ApiError && error.status === 401 && this.signedIn)) throw error;
      if (generation === this.generation) await this.refresh();
      return attempt();
    }
  }

  async logout() {
    try {
      await this.call("POST", "/auth/logout", { auth: true });
    } finally {
      this.clear();
    }
  }
}
