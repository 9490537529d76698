// The signalling websocket (docs/signalling.md): JSON messages in and out, reconnecting by itself.

import { Backoff } from "./backoff.js";

// Close codes after which connecting again would be refused the same way (or would take the call
// back from the tab that replaced this one): the page says why and waits for the person.
export const FINAL_CLOSE_CODES = new Set([4401, 4403, 4409, 4410, 4429]);

// Proxies close websockets that stay quiet for a minute or so; a ping keeps the socket in use.
const KEEPALIVE_MS = 25_000;

export class Signalling {
  /**
   * @param {string} url ws(s):// address of the room's socket
   * @param {{onMessage: (message: object) => void,
   *          onClose: (info: {code: number, final: boolean, wasOpen: boolean, retryInMs: number}) => void}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.backoff = new Backoff();
    this.socket = null;
    this.retryTimer = null;
    this.keepalive = null;
  }

  get isOpen() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.retryTimer);
    if (this.socket) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    let wasOpen = false;
    socket.addEventListener("open", () => {
      wasOpen = true;
      this.backoff.reset();
      this.keepalive = setInterval(() => this.send({ type: "ping" }), KEEPALIVE_MS);
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message && typeof message.type === "string") this.handlers.onMessage(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearInterval(this.keepalive);
      const final = FINAL_CLOSE_CODES.has(event.code);
      const retryInMs = final ? 0 : this.backoff.next();
      if (!final) this.retryTimer = setTimeout(() => this.connect(), retryInMs);
      this.handlers.onClose({ code: event.code, final, wasOpen, retryInMs });
    });
  }

  /** Sends a message if the socket is open; returns whether it was sent. */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /** Closes the socket for good (until connect() is called again). */
  close() {
    clearTimeout(this.retryTimer);
    clearInterval(this.keepalive);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "page closed");
  }
}
