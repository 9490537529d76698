// The microphone check before joining: the person speaks and sees the meter move, or is told we
// can't hear them before anyone else in the call notices.

import { gettext, gettext_noop } from "../i18n.js";

import { LevelMeter } from "./meter.js";

// The meter level (0..1 over -60..0 dBFS) that counts as hearing a voice: about -36 dBFS,
// well above a quiet room's noise after noise suppression.
const HEARD_LEVEL = 0.4;
const LISTEN_MS = 6000;
const TICK_MS = 100;

export const CHECK_LISTENING = gettext_noop("Say something: the bar moves when we hear you.");
export const CHECK_HEARD = gettext_noop("We can hear you. Your microphone works.");
export const CHECK_NOT_HEARD = gettext_noop(
  "We can't hear your microphone. Check that it isn't muted (a switch or headset button), or choose another microphone in your system settings, then check again.",
);

export class MicrophoneCheck {
  /** @param {{bar: HTMLElement, status: HTMLElement}} elements the check's meter bar and sentence */
  constructor({ bar, status }) {
    this.meter = new LevelMeter(bar);
    this.status = status;
    this.timer = null;
  }

  /** Listens to `stream` in `context` until a voice moves the meter or LISTEN_MS pass. */
  start(context, stream) {
    this.stop();
    this.meter.start(context, stream);
    this.say(CHECK_LISTENING);
    const started = performance.now();
    this.timer = setInterval(() => {
      if (this.meter.level >= HEARD_LEVEL) {
        clearInterval(this.timer);
        this.say(CHECK_HEARD);
      } else if (performance.now() - started >= LISTEN_MS) {
        clearInterval(this.timer);
        this.say(CHECK_NOT_HEARD);
      }
    }, TICK_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.meter.stop();
  }

  say(text) {
    this.status.textContent = gettext(text);
    this.status.hidden = false;
  }
}
