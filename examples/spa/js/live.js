// Live item events (Socket.IO `item.created` / `item.updated` / `item.deleted`).
//
// The Socket.IO client is not vendored yet (the server side lands separately): until
// vendor/socket.io.esm.min.js exists, connectLive() resolves to null and the page works
// without live updates. To turn them on, vendor the ESM build of `socket.io-client` from the
// npm registry (dist/socket.io.esm.min.js and its LICENSE) into vendor/.
const CLIENT = new URL("../vendor/socket.io.esm.min.js", import.meta.url);
const EVENTS = ["item.created", "item.updated", "item.deleted"];

/** Join the `items` room and call onEvent(name, data) for each item event; null when the
 * client library is absent. Header mode only: the API authenticates sockets with
 * `auth: {token}`, and cookie mode keeps the token out of reach of this page. */
export async function connectLive({ session, onEvent }) {
  if (session.mode !== "header") return null;
  let io;
  try {
    ({ io } = await import(CLIENT.href));
  } catch {
    return null;
  }
  const socket = io(session.base, {
    transports: ["websocket"],
    // A function, so each reconnect presents the newest access token.
    auth: (callback) => callback({ token: session.accessToken }),
  });
  socket.on("connect", () => socket.emit("join", { room: "items" }, () => {}));
  for (const name of EVENTS) socket.on(name, (data) => onEvent(name, data));
  return { close: () => socket.close() };
}
