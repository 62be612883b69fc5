import { fileURLToPath } from "node:url";

/**
 * Where `npm start` writes what runs where (and the admin token) for `npm run demo` to find; git-ignored, readable
 * only by its owner. `ROOM_WARDEN_HANDSHAKE_FILE` moves it (the tests keep theirs in a temporary directory).
 */
export const HANDSHAKE_FILE =
  process.env.ROOM_WARDEN_HANDSHAKE_FILE || fileURLToPath(new URL("../.room-warden-local.json", import.meta.url));
