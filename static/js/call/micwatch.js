// Notices a microphone that stopped reaching the call: the track ended (the device went away, or
// the system took it), the system muted it, or it sends only silence (what Safari sends from a
// page in the background or while another app holds the microphone).

import { gettext_noop } from "../i18n.js";

// Below this RMS (-80 dBFS) a microphone is silent: even a quiet room after noise suppression is
// louder, and Safari's substitute silence is exact zeros.
const SILENT_RMS = 1e-4;
const SILENT_FOR_MS = 4000;
const TICK_MS = 250;

export const MICROPHONE_ENDED = gettext_noop(
  "Your microphone stopped (another app may have taken it). The others can't hear you.",
);
export const MICROPHONE_SYSTEM_MUTED = gettext_noop(
  "Your microphone has been paused by the system (another app may be using it). The others can't hear you until it comes back.",
);
export const MICROPHONE_SILENT = gettext_noop(
  "We can't hear your microphone: it has sent only silence for a few seconds. The others can't hear you.",
);

export class MicrophoneWatch {
  /**
   * @param {{level: () => number, isMuted: () => boolean,
   *          onProblem: (problem: "ended" | "muted" | "silent" | null) => void}} options
   *   `level` is the microphone's current RMS; `isMuted` whether the person muted themselves
   */
  constructor({ level, isMuted, onProblem }) {
    this.level = level;
    this.isMuted = isMuted;
    this.onProblem = onProblem;
    this.track = null;
    this.problem = null;
    this.silentSince = null;
    this.timer = null;
    this.listeners = {
      ended: () => this.set("ended"),
      mute: () => this.set("muted"),
      unmute: () => {
        if (this.problem === "muted") this.set(null);
      },
    };
  }

  watch(track) {
    this.unwatch();
    this.track = track;
    for (const [type, listener] of Object.entries(this.listeners)) track.addEventListener(type, listener);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.set(track.readyState === "ended" ? "ended" : track.muted ? "muted" : null);
  }

  stop() {
    this.unwatch();
    this.set(null);
  }

  unwatch() {
    clearInterval(this.timer);
    for (const [type, listener] of Object.entries(this.listeners)) {
      this.track?.removeEventListener(type, listener);
    }
    this.track = null;
    this.silentSince = null;
  }

  tick() {
    // Hidden pages measure nothing useful (no animation frames), and muted ones are silent on purpose.
    if (this.problem === "ended" || this.problem === "muted") return;
    const visible = document.visibilityState === "visible";
    // A track iOS ended while the page was suspended may never have said so.
    if (visible && this.track.readyState === "ended") {
      this.set("ended");
      return;
    }
    if (!visible || this.isMuted() || this.level() >= SILENT_RMS) {
      this.silentSince = null;
      if (this.problem === "silent") this.set(null);
      return;
    }
    const now = performance.now();
    this.silentSince ??= now;
    if (now - this.silentSince >= SILENT_FOR_MS && this.problem !== "silent") this.set("silent");
  }

  set(problem) {
    if (problem === this.problem) return;
    this.problem = problem;
    this.silentSince = null;
    this.onProblem(problem);
  }
}
