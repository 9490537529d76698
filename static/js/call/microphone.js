// The microphone: what we ask for, and what to tell people when they can't have it.

import { gettext, interpolate } from "../i18n.js";

// The translation plays from the loudspeaker: echo cancellation keeps it from being picked up
// and translated again; the other two make a phone's microphone usable in a normal room.
const CONSTRAINTS = { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } };

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
