// The account page: the signed-in devices (GET /auth/sessions, DELETE /auth/sessions/<id>)
// and the account's recent security events (GET /api/users/me/security-events).
//
// Everything the API sends is shown with textContent: a User-Agent is whatever a client
// chose to send, so it is never HTML.
import { ApiError } from "./http.js";
import { session } from "./app.js";
import { $, banner } from "./ui.js";

const RECENT = 20; // events shown: the newest page
const LABELS = {
  login: "Signed in",
  login_failed: "Failed sign-in",
  logout: "Signed out",
  logout_all: "Signed out everywhere",
  token_reuse_detected: "A used refresh token came back: that login was ended",
  session_revoked: "A device was signed out",
  password_changed: "Password changed",
  password_reset_requested: "Password reset requested",
  password_reset: "Password reset",
  email_changed: "Email address changed",
  email_verified: "Email address verified",
  api_key_created: "API key created",
  api_key_revoked: "API key revoked",
  user_updated_by_admin: "Changed by an admin",
  user_deactivated: "Account deactivated",
  user_deleted: "Account deleted",
};

let shown = false; // the account is on screen for the current login
let loads = 0; // only the newest load's answers are shown

session.addEventListener("change", () => {
  // "change" also fires on every token refresh: load once per login, not per refresh.
  if (session.signedIn && !shown) {
    shown = true;
    loadAccount();
  } else if (!session.signedIn) {
    shown = false;
    loads += 1;
    $("#device-table tbody").replaceChildren();
    $("#event-table tbody").replaceChildren();
  }
});

$("#account-refresh").addEventListener("click", () => loadAccount());

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

function cells(row, texts) {
  for (const text of texts) {
    const cell = document.createElement("td");
    cell.textContent = text ?? "";
    row.append(cell);
  }
}

async function loadAccount() {
  const load = ++loads;
  await Promise.all([loadDevices(load), loadEvents(load)]);
}

async function loadDevices(load) {
  const note = $("#devices-note");
  try {
    const devices = await (await session.call("GET", "/auth/sessions", { auth: true })).json();
    if (load !== loads) return;
    note.textContent = `${devices.length} signed-in device${devices.length === 1 ? "" : "s"}`;
    $("#device-table tbody").replaceChildren(...devices.map(deviceRow));
  } catch (error) {
    if (load !== loads) return;
    $("#device-table tbody").replaceChildren();
    note.textContent =
      error instanceof ApiError && error.status === 404
        ? "This API does not list signed-in devices."
        : `Could not load the signed-in devices: ${error.message}`;
  }
}

function deviceRow(device) {
  const row = document.createElement("tr");
  row.dataset.id = String(device.id);
  if (device.current) row.dataset.current = "true";
  const agent = (device.user_agent || "unknown device") + (device.current ? " (this device)" : "");
  cells(row, [agent, device.ip, when(device.created_at), when(device.last_used_at)]);
  const actions = document.createElement("td");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "danger";
  button.textContent = device.current ? "Sign out" : "Revoke";
  button.addEventListener("click", () => revoke(device, button));
  actions.append(button);
  row.append(actions);
  return row;
}

async function revoke(device, button) {
  button.disabled = true;
  try {
    if (device.current) {
      await session.logout(); // this login: the same as the header's "Log out"
      banner("Signed out.");
      return;
    }
    await session.call("DELETE", `/auth/sessions/${device.id}`, { auth: true });
    banner("That device is signed out.");
  } catch (error) {
    banner(`Could not sign that device out: ${error.message}`, "error");
  }
  if (session.signedIn) await loadAccount();
}

async function loadEvents(load) {
  const note = $("#events-note");
  try {
    const path = `/api/users/me/security-events?per_page=${RECENT}`;
    const response = await session.call("GET", path, { auth: true });
    const events = await response.json();
    if (load !== loads) return;
    const total = Number(response.headers.get("X-Total-Count"));
    note.textContent = `The newest ${Math.min(total, RECENT)} of ${total}`;
    $("#event-table tbody").replaceChildren(...events.map(eventRow));
  } catch (error) {
    if (load !== loads) return;
    note.textContent = `Could not load the security events: ${error.message}`;
  }
}

function eventRow(event) {
  const row = document.createElement("tr");
  row.dataset.type = event.type;
  const details = [];
  if (event.detail.reason) details.push(event.detail.reason.replace("_", " "));
  if (event.detail.fields) details.push(`fields: ${event.detail.fields.join(", ")}`);
  if (event.actor_id !== null && event.actor_id !== event.user_id) details.push("by an admin");
  cells(row, [
    when(event.created_at),
    LABELS[event.type] || event.type,
    event.ip,
    event.user_agent,
    details.join("; "),
  ]);
  return row;
}
