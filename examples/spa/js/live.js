// Live item events over Socket.IO (docs/realtime.md, docs/API.md): `item.created`,
// `item.updated` (the item as GET /api/items/<id> answers it) and `item.deleted` ({id}).
//
// Header mode only: the API authenticates a socket by the access token in its `auth` payload,
// and a cookie-mode page never holds that token (it lives in an HttpOnly cookie).
//
// The client is vendor/socket.io.esm.min.js (socket.io-client 4, see vendor/README.md),
// loaded on demand: if it cannot be loaded the page works as before, without live updates.
const CLIENT = new URL("../vendor/socket.io.esm.min.js", import.meta.url);
const EVENTS = ["item.created", "item.updated", "item.deleted"];
const JOIN_TIMEOUT_MS = 5000;
// Refusals in a row (each after a refresh) before giving up: a token the API refuses even
// fresh from /auth/token/refresh will not be accepted by trying again.
const MAX_REFUSALS = 3;

/** Connect, join the `items` room, and call onEvent(name, data) for each item event, plus
 * onEvent("resync") after a reconnection (events sent while away are lost: reload what is
 * shown). onStatus(state, detail) follows the connection: "cookie" (not available in cookie
 * mode), "unavailable" (no client library), "connecting", "live", "reconnecting", "refused".
 * Resolves to {socket, close()} or null. */
export async function connectLive({ session, onEvent, onStatus = () => {} }) {
  if (session.mode !== "header") {
    onStatus("cookie");
    return null;
  }
  let io;
  try {
    ({ io } = await import(CLIENT.href));
  } catch (error) {
    onStatus("unavailable", error.message);
    return null;
  }
  let closed = false;
  let joinedBefore = false;
  let refusals = 0;
  let sentToken = null; // the access token the last connection attempt presented

  onStatus("connecting");
  const socket = io(session.base, {
    // No HTTP long-polling: it needs sticky sessions across workers; a websocket does not.
    transports: ["websocket"],
    // A function, so that every (re)connection presents the newest access token.
    auth: (send) => {
      sentToken = session.accessToken;
      send({ token: sentToken });
    },
  });

  socket.on("connect", () => {
    // Rooms belong to one connection: join again after every reconnection.
    socket.timeout(JOIN_TIMEOUT_MS).emit("join", { room: "items" }, (error, ack) => {
      if (error || !ack?.ok) {
        onStatus("refused", ack?.error || "the server did not answer the join");
        return;
      }
      refusals = 0;
      onStatus("live");
      if (joinedBefore) onEvent("resync", null);
      joinedBefore = true;
    });
  });

  socket.on("connect_error", async (error) => {
    if (closed) return;
    onStatus("reconnecting", error.message);
    // socket.active: a transport problem, the client retries by itself (with backoff).
    if (socket.active) return;
    // Refused by the server: the token expired or its login ended. Refresh (unless a newer
    // token arrived meanwhile), then connect again with the new token. A refresh that fails
    // with 401 signs the session out, and the page closes this connection.
    if (++refusals > MAX_REFUSALS) {
      onStatus("refused", error.message);
      return;
    }
    try {
      if (session.accessToken === sentToken) await session.refresh();
    } catch {
      return;
    }
    if (!closed && session.signedIn) socket.connect();
  });

  socket.on("disconnect", async (reason) => {
    if (closed) return;
    onStatus("reconnecting", reason);
    // "io server disconnect": the server ended it (this login was logged out, the password
    // changed, the account deactivated); the client does not reconnect by itself. A refresh
    // tells whether the login still lives; if it does, connect again with the new token.
    if (reason !== "io server disconnect") return;
    try {
      await session.refresh();
    } catch {
      return;
    }
    if (!closed && session.signedIn) socket.connect();
  });

  for (const name of EVENTS) socket.on(name, (data) => onEvent(name, data));

  return {
    socket,
    close() {
      closed = true;
      socket.close();
    },
  };
}
