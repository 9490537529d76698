// The microphone: what we ask for, and what to tell people when they can't have it.

import { gettext, gettext_noop, interpolate } from "../i18n.js";

// The translation plays from the loudspeaker: echo cancellation keeps it from being picked up
// and translated again; the other two make a phone's microphone usable in a normal room.
const CONSTRAINTS = { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } };

export function microphoneAvailable() {
  return window.isSecureContext && Boolean(navigator.mediaDevices?.getUserMedia);
}

export function getMicrophone() {
  return navigator.mediaDevices.getUserMedia(CONSTRAINTS);
}

/** A sentence for people about why getUserMedia failed. */
export function microphoneProblem(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return gettext("Microphone access was denied. Allow the microphone for this site (in Safari: the aA button → Website Settings; in Chrome: the icon left of the address), then press Join call again.");
    case "NotFoundError":
    case "OverconstrainedError":
      return gettext("No microphone was found. Connect or enable one, then press Join call again.");
    case "NotReadableError":
    case "AbortError":
      return gettext("Your microphone is busy or blocked by the system. Close other apps or tabs that use it (a phone call, another video call), then press Join call again.");
    default:
      return interpolate(gettext("The microphone could not be started (%(error)s). Press Join call to try again."), {
        error: error?.name || gettext("unknown error"),
      });
  }
}

export const INSECURE_CONTEXT = gettext_noop(
  "This page can't use your microphone because it was not opened over HTTPS. Browsers only allow the microphone on secure pages: open the site with an https:// address (from a phone, the development server must be reached over TLS — see docs/iphone.md).",
);

export const SYSTEM_MUTED = gettext_noop(
  "Your microphone has been paused by the system (another app may be using it). The others can't hear you until it comes back.",
);
