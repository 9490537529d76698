// Whether this page is in the foreground: the others see "in the background" next to a person
// whose page is hidden (on a phone: another app is open, or the screen is off), since such a
// page may send silence or nothing (docs/signalling.md, `presence`).

/** Tells the server now and on every change; `send` returns whether the message went out. */
export function watchPresence(send) {
  document.addEventListener("visibilitychange", () => sendPresence(send));
}

export function sendPresence(send) {
  return send({ type: "presence", background: document.visibilityState === "hidden" });
}
