// Keeps the screen on during a call. iOS locks the screen after 30 s without a touch, and a
// locked phone suspends the page and its microphone. The system drops the lock whenever the
// page is hidden, so it is asked for again each time the page comes back.

import { gettext, gettext_noop } from "../i18n.js";

const HINT_SHOWN_KEY = "call.wakeLockHintShown";

export const NO_WAKE_LOCK_HINT = gettext_noop(
  "This browser can't keep your screen on during the call: touch the screen now and then, or set Auto-Lock to Never (Settings → Display & Brightness) while you talk.",
);

export class ScreenAwake {
  /** @param {{onHint: (text: string) => void}} handlers `onHint` is called at most once per device */
  constructor({ onHint }) {
    this.onHint = onHint;
    this.wanted = false;
    this.sentinel = null;
    this.onVisibility = () => this.request();
  }

  start() {
    this.wanted = true;
    if (!navigator.wakeLock) {
      this.hintOnce();
      return;
    }
    document.addEventListener("visibilitychange", this.onVisibility);
    this.request();
  }

  stop() {
    this.wanted = false;
    document.removeEventListener("visibilitychange", this.onVisibility);
    this.sentinel?.release().catch(() => {});
    this.sentinel = null;
  }

  async request() {
    if (!this.wanted || this.sentinel || document.visibilityState !== "visible") return;
    try {
      const sentinel = await navigator.wakeLock.request("screen");
      if (!this.wanted) {
        sentinel.release().catch(() => {});
        return;
      }
      this.sentinel = sentinel;
      sentinel.addEventListener("release", () => {
        if (this.sentinel === sentinel) this.sentinel = null;
      });
    } catch {
      // Refused (low battery mode, a policy): the call goes on, the screen may lock.
    }
  }

  hintOnce() {
    try {
      if (localStorage.getItem(HINT_SHOWN_KEY)) return;
      localStorage.setItem(HINT_SHOWN_KEY, "1");
    } catch {
      // No storage (private browsing in old Safari): the hint shows in every call instead.
    }
    this.onHint(gettext(NO_WAKE_LOCK_HINT));
  }
}
