// The items page: sign up, sign in, list (pages, filters, sort), create, edit, delete.
import { API_BASE, MODE } from "./config.js";
import { ApiError, NetworkError, parseLinks } from "./http.js";
import { connectLive } from "./live.js";
import { Session } from "./session.js";
import { $, banner, clearErrors, formData, showError } from "./ui.js";

export const session = new Session({ base: API_BASE, mode: MODE });
let me = null; // the signed-in user (GET /api/users/me)
// The list page wanted last: a URL built from the filters, or one from a Link header. Only
// its answer is shown (answers can arrive out of order); a refused one falls back to shownUrl.
let listUrl = null;
let shownUrl = null;
let listRequests = 0;
let live = null;

// --- settings --------------------------------------------------------------------------------

$("#api-base").textContent = API_BASE;
const modeSelect = $("#mode");
modeSelect.value = MODE;
modeSelect.addEventListener("change", () => {
  // Switching mode starts over: the two modes keep the login in different places.
  const url = new URL(window.location.href);
  url.searchParams.set("mode", modeSelect.value);
  window.location.assign(url);
});

// --- signing in and out ----------------------------------------------------------------------

session.addEventListener("change", async (event) => {
  if (session.signedIn) {
    renderTokenStatus();
    if (!me) await loadMe();
  } else {
    me = null;
    live?.close();
    live = null;
    renderLiveStatus(MODE === "cookie" ? "cookie" : "signed-out");
    if (event.detail === "expired") banner("Your login has ended; please sign in again.", "error");
  }
  document.body.classList.toggle("signed-in", session.signedIn);
  renderRows();
});

async function loadMe() {
  try {
    me = await (await session.call("GET", "/api/users/me", { auth: true })).json();
    $("#username").textContent = me.username;
    renderRows();
    live ??= await connectLive({ session, onEvent: onLiveEvent, onStatus: renderLiveStatus });
  } catch (error) {
    banner(`Could not load your profile: ${error.message}`, "error");
  }
}

function renderTokenStatus() {
  const expires = new Date(session.expiresAt).toLocaleTimeString();
  $("#token-status").textContent =
    `${MODE === "cookie" ? "cookies" : "tokens in memory"}; access token until ${expires}; ` +
    `refreshed ${session.refreshes}×`;
  $("#token-status").dataset.refreshes = String(session.refreshes);
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const { username = "", password = "" } = formData(form);
  try {
    await session.login(username, password);
    form.reset();
    banner(`Signed in as ${username}.`);
  } catch (error) {
    showError(form, error);
  }
});

$("#logout").addEventListener("click", async () => {
  try {
    await session.logout();
    banner("Signed out.");
  } catch (error) {
    banner(`Signed out here; the API answered: ${error.message}`, "error");
  }
});

// Registration accepts an Idempotency-Key too: one key per distinct submission.
const registerKeys = submitKeys();

$("#register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = formData(form);
  try {
    const response = await session.call("POST", "/api/users", {
      body,
      headers: { "Idempotency-Key": registerKeys.keyFor(body) },
    });
    registerKeys.done();
    const user = await response.json();
    form.reset();
    $("#login-form").elements.username.value = user.username;
    banner(`Account ${user.username} created; sign in below.`);
  } catch (error) {
    registerKeys.failed(error);
    showError(form, error);
  }
});

$("#forgot-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  try {
    const response = await session.call("POST", "/auth/password-reset", { body: formData(form) });
    const answer = await response.json().catch(() => ({}));
    $(".form-ok", form).textContent =
      answer.message || "If that address has an account, a reset link is on its way.";
  } catch (error) {
    showError(form, error);
  }
});

// --- the list --------------------------------------------------------------------------------

function filteredUrl() {
  const url = new URL(`${API_BASE}/api/items`);
  for (const [name, value] of Object.entries(formData($("#filter-form")))) {
    url.searchParams.set(name, value);
  }
  return url.toString();
}

let rows = [];

async function loadList(url = listUrl || filteredUrl()) {
  const form = $("#filter-form");
  const request = ++listRequests;
  listUrl = url;
  try {
    const response = await session.call("GET", url);
    const page = await response.json();
    if (request !== listRequests) return; // a later list request supersedes this answer
    clearErrors(form);
    shownUrl = url;
    rows = page;
    const total = Number(response.headers.get("X-Total-Count"));
    const links = parseLinks(response.headers.get("Link"));
    const number = Number(new URL(url).searchParams.get("page") || 1);
    const last = Number(new URL(links.last || url).searchParams.get("page") || 1);
    $("#total").textContent = `${total} item${total === 1 ? "" : "s"}`;
    $("#total").dataset.total = String(total);
    $("#page-info").textContent = `page ${number} of ${last}`;
    for (const button of document.querySelectorAll("#pager button")) {
      button.disabled = !links[button.dataset.rel];
      button.dataset.url = links[button.dataset.rel] || "";
    }
    renderRows();
  } catch (error) {
    if (request !== listRequests) return;
    listUrl = shownUrl;
    showError(form, error);
  }
}

function renderRows() {
  const body = $("#item-table tbody");
  body.replaceChildren();
  for (const item of rows) {
    const row = document.createElement("tr");
    row.dataset.id = String(item.id);
    if (liveMarks.has(item.id)) row.dataset.live = liveMarks.get(item.id);
    const updated = new Date(item.updated_at).toLocaleString();
    for (const text of [item.name, item.category ?? "", item.owner.username, updated]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const actions = document.createElement("td");
    if (me && (me.is_admin || me.id === item.owner.id)) {
      const edit = document.createElement("button");
      edit.type = "button";
      edit.textContent = "Edit";
      edit.addEventListener("click", () => openEditor(item.id));
      actions.append(edit);
    }
    row.append(actions);
    body.append(row);
  }
  $("#empty").hidden = rows.length > 0;
}

$("#filter-form").addEventListener("submit", (event) => {
  event.preventDefault();
  loadList(filteredUrl());
});

for (const button of document.querySelectorAll("#pager button")) {
  button.addEventListener("click", () => loadList(button.dataset.url));
}

// --- create ----------------------------------------------------------------------------------

/** Idempotency keys for a form: a resubmission of the same body after an answer that may not
 * have been applied (network error, 409 in progress, 5xx) reuses the key, so the API replays
 * the first answer instead of creating twice; a changed body or a final answer gets a new key. */
function submitKeys() {
  let pending = null;
  return {
    keyFor(body) {
      const text = JSON.stringify(body);
      if (!pending || pending.text !== text) pending = { text, key: crypto.randomUUID() };
      return pending.key;
    },
    done() {
      pending = null;
    },
    failed(error) {
      // 409: the first attempt is still running; 429 and 5xx: try again later.
      const maybeApplied =
        error instanceof NetworkError ||
        (error instanceof ApiError && (error.status === 409 || error.status === 429 || error.status >= 500));
      if (!maybeApplied) pending = null;
    },
    get retrying() {
      return pending !== null;
    },
  };
}

const createKeys = submitKeys();

$("#create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const body = formData(form);
  const key = createKeys.keyFor(body);
  form.dataset.idempotencyKey = key;
  try {
    const response = await session.call("POST", "/api/items", {
      body,
      auth: true,
      headers: { "Idempotency-Key": key },
    });
    createKeys.done();
    const item = await response.json();
    form.reset();
    banner(`Created “${item.name}” (${response.headers.get("Location")}).`);
    await loadList();
  } catch (error) {
    createKeys.failed(error);
    showError(form, error);
    if (createKeys.retrying) {
      $(".form-error", form).textContent +=
        " — Submit again to retry safely: the same Idempotency-Key is sent, so it is created once.";
    }
  }
});

// --- edit and delete with If-Match -----------------------------------------------------------

const editor = $("#edit-form");
let editing = null; // {id, etag}

async function openEditor(id) {
  clearErrors(editor);
  $("#conflict").hidden = true;
  $("#changed-elsewhere").hidden = true;
  try {
    const response = await session.call("GET", `/api/items/${id}`);
    const item = await response.json();
    // `item`: the version this editor holds, to tell a live event of our own write from
    // someone else's; `writing`/`heard`: events that arrive while our write is in flight.
    editing = { id, etag: response.headers.get("ETag"), item, writing: false, heard: [] };
    editor.elements.name.value = item.name;
    editor.elements.description.value = item.description ?? "";
    editor.elements.category.value = item.category ?? "";
    editor.dataset.id = String(id);
    editor.dataset.etag = editing.etag;
    $("#edit-title").textContent = `Edit item ${id}`;
    editor.hidden = false;
  } catch (error) {
    banner(`Could not open item ${id}: ${error.message}`, "error");
  }
}

async function writeItem(method) {
  clearErrors(editor);
  const body = method === "PUT" ? formData(editor, { nullBlank: ["description", "category"] }) : undefined;
  const current = editing;
  current.writing = true;
  current.heard = [];
  try {
    const response = await session.call(method, `/api/items/${current.id}`, {
      body,
      auth: true,
      headers: { "If-Match": current.etag },
    });
    if (method === "DELETE") {
      editor.hidden = true;
      banner(`Deleted item ${current.id}.`);
      if (editing === current) editing = null;
    } else {
      current.etag = response.headers.get("ETag");
      current.item = await response.json();
      editor.dataset.etag = current.etag;
      $("#changed-elsewhere").hidden = true;
      banner(`Saved item ${current.id}.`);
    }
    await loadList();
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
      // Someone changed (or deleted and re-made) the item since we read it: nothing was written.
      $("#changed-elsewhere").hidden = true;
      $("#conflict").hidden = false;
      return;
    }
    showError(editor, error);
  } finally {
    current.writing = false;
    // Events heard meanwhile: our own write's (same representation) or someone else's.
    if (editing === current) for (const [name, data] of current.heard) judgeEditorEvent(name, data);
  }
}

editor.addEventListener("submit", (event) => {
  event.preventDefault();
  writeItem("PUT");
});
$("#delete").addEventListener("click", () => writeItem("DELETE"));
$("#cancel").addEventListener("click", () => {
  editor.hidden = true;
  editing = null;
});
$("#reload").addEventListener("click", () => openEditor(editing.id));

// --- live updates (header mode; see live.js) ------------------------------------------------

const LIVE_TEXT = {
  "signed-out": "Live updates start when you sign in.",
  cookie:
    "Live updates are off in cookie mode: sockets authenticate with the access token, which " +
    "this mode keeps out of the page's reach. Switch to bearer tokens for live updates.",
  unavailable: "Live updates are unavailable (the Socket.IO client did not load).",
  connecting: "Live updates: connecting…",
  live: "Live updates: on.",
  reconnecting: "Live updates: reconnecting…",
  refused: "Live updates: refused by the API; reload the list to see changes.",
};
const LIVE_MARK_MS = 4000;
const liveMarks = new Map(); // item id -> "created" | "updated", for a few seconds
let liveReload = null;

function renderLiveStatus(state, detail) {
  const status = $("#live-status");
  status.dataset.state = state;
  status.textContent = LIVE_TEXT[state] || state;
  status.title = detail || "";
}

function onLiveEvent(name, data) {
  if (name === "resync") {
    loadList(); // events sent while the socket was away are lost
    return;
  }
  // The rows on screen change at once. The page is fetched again too: an event cannot say
  // whether a new or changed item belongs on this page of this filter and sort.
  if (name === "item.updated") rows = rows.map((item) => (item.id === data.id ? data : item));
  if (name === "item.deleted") rows = rows.filter((item) => item.id !== data.id);
  if (name !== "item.deleted") {
    liveMarks.set(data.id, name.slice("item.".length));
    setTimeout(() => liveMarks.delete(data.id) && renderRows(), LIVE_MARK_MS);
  }
  renderRows();
  clearTimeout(liveReload);
  liveReload = setTimeout(() => loadList(), 150); // one reload for a burst of events
  if (editing && data.id === editing.id && name !== "item.created") {
    if (editing.writing) editing.heard.push([name, data]);
    else judgeEditorEvent(name, data);
  }
}

/** An event about the item in the editor: flag it unless it is our own write's. */
function judgeEditorEvent(name, data) {
  if (name === "item.updated" && canonical(data) === canonical(editing.item)) return;
  const notice = $("#changed-elsewhere");
  $(".what", notice).textContent =
    name === "item.deleted"
      ? "Someone else deleted this item while you had it open: saving it will fail."
      : `Someone else changed this item while you had it open (now “${data.name}”, ` +
        `${new Date(data.updated_at).toLocaleTimeString()}): saving your version will be refused.`;
  $("#reload-changed").hidden = name === "item.deleted";
  notice.dataset.event = name;
  notice.hidden = false;
}

/** JSON with sorted keys: the socket and the HTTP answer may order an item's keys differently. */
function canonical(value) {
  return JSON.stringify(value, (_key, field) =>
    field && typeof field === "object" && !Array.isArray(field)
      ? Object.fromEntries(Object.entries(field).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : field,
  );
}

$("#reload-changed").addEventListener("click", () => openEditor(editing.id));

/** For the browser tests and the curious: the live connection ({socket, close}) or null. */
export function liveConnection() {
  return live;
}

// --- start -----------------------------------------------------------------------------------

$("#forgot-link").href = "#forgot-form";
renderLiveStatus(MODE === "cookie" ? "cookie" : "signed-out");
document.body.dataset.mode = MODE;
await Promise.all([loadList(), session.resume()]);
document.body.dataset.ready = "true";
