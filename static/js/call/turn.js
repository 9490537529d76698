// Short-lived TURN credentials (TURN_TTL_SECONDS): the page asks for fresh ones over its socket
// before they expire (docs/signalling.md, `renew_ice_servers`), so a long call keeps TURN and
// someone removed from the room stops getting them.

// Ask when this share of the credentials' lifetime has passed.
const RENEW_AT = 0.8;

export class TurnRenewal {
  /** @param {(message: object) => boolean} send sends a signalling message */
  constructor(send) {
    this.send = send;
    this.timer = null;
    this.iceServers = [];
  }

  /** New servers from `hello` or `ice_servers`: apply them to the live connection, renew before expiry. */
  update({ ice_servers: iceServers, ice_servers_ttl: ttlSeconds }, pc) {
    this.iceServers = iceServers;
    if (pc) {
      try {
        pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
      } catch {
        // A closed connection refuses it; the next one is made with these servers anyway.
      }
    }
    clearTimeout(this.timer);
    // Only TURN servers have credentials that expire.
    if (ttlSeconds > 0 && iceServers.some((server) => server.credential)) {
      this.timer = setTimeout(() => this.send({ type: "renew_ice_servers" }), ttlSeconds * 1000 * RENEW_AT);
    }
  }

  stop() {
    clearTimeout(this.timer);
  }
}
