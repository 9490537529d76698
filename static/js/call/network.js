// Network changes (Wi-Fi ↔ cellular, back online): the call's path is gone with the old
// address, and aiortc has no ICE restart, so the page rejoins with a new connection instead.

/** Calls `onBack()` when the network comes back or changes, `onLost()` when the browser goes offline. */
export function watchNetwork({ onBack, onLost }) {
  window.addEventListener("online", onBack);
  window.addEventListener("offline", onLost);
  // Chrome on Android says which kind of network it is on. Its "change" event also fires for
  // new speed estimates, which keep the same path: only a new kind of network means a new one.
  const connection = navigator.connection;
  let kind = connection?.type;
  connection?.addEventListener?.("change", () => {
    if (connection.type === kind) return;
    kind = connection.type;
    if (navigator.onLine) onBack();
  });
}
