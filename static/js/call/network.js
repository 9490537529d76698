// Network changes (Wi-Fi ↔ cellular, back online): the call's path is gone with the old
// address, and aiortc has no ICE restart, so the page rejoins with a new connection instead.

/** Calls `onBack()` when the network comes back or changes, `onLost()` when the browser goes offline. */
export function watchNetwork({ onBack, onLost }) {
  window.addEventListener("online", onBack);
  window.addEventListener("offline", onLost);
  // Chrome on Android says when the connection type changes; Safari has no such event.
  navigator.connection?.addEventListener?.("change", () => {
    if (navigator.onLine) onBack();
  });
}
