// iOS's audio session (Safari 16.4+): declaring the page's audio as a call, and noticing when the
// system interrupts it (a phone call, Siri, an alarm).

/**
 * Declares a two-way call, so iOS plays through the loudspeaker at call volume instead of the
 * earpiece. Must run before the microphone is opened: iOS picks the route when capture starts.
 */
export function declareCallAudio() {
  if (navigator.audioSession) navigator.audioSession.type = "play-and-record";
}

/** Whether the system has taken the audio away: iOS says so on the session and on the AudioContext. */
export function audioInterrupted(context) {
  return navigator.audioSession?.state === "interrupted" || context?.state === "interrupted";
}

/** Calls `onChange()` whenever the audio session's or `context`'s state changes. */
export function watchAudioState(context, onChange) {
  navigator.audioSession?.addEventListener("statechange", onChange);
  context.addEventListener("statechange", onChange);
}
