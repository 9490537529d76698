// Stand-ins for what Chromium can't be made to do on command, installed before the room page
// runs (Playwright init script): the tests drive the page through the same events and APIs iOS
// Safari uses, and read back what the page did with them.
(() => {
  const NativeAudioContext = window.AudioContext;

  // Every microphone the page opens, so a test can end or mute one; `__silentMics` makes the
  // next that many a live track of pure silence (Safari's microphone of a page in the background).
  window.__mics = [];
  window.__silentMics = 0;
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    window.__sessionTypeAtGetUserMedia = navigator.audioSession.type;
    let stream;
    if (window.__silentMics > 0) {
      window.__silentMics -= 1;
      stream = new NativeAudioContext().createMediaStreamDestination().stream;
    } else {
      stream = await getUserMedia(constraints);
    }
    window.__mics.push(stream);
    return stream;
  };

  // iOS's audio session (Safari 16.4+): `__audioSession("interrupted")` is a phone call arriving.
  const session = new EventTarget();
  session.type = "auto";
  session.state = "active";
  Object.defineProperty(navigator, "audioSession", { value: session, configurable: true });
  window.__audioSession = (state) => {
    session.state = state;
    session.dispatchEvent(new Event("statechange"));
  };

  // Page visibility: `__setVisibility("hidden")` is another app opened, or the screen locked.
  let visibility = "visible";
  Object.defineProperty(Document.prototype, "visibilityState", { get: () => visibility, configurable: true });
  Object.defineProperty(Document.prototype, "hidden", { get: () => visibility === "hidden", configurable: true });
  window.__setVisibility = (state) => {
    visibility = state;
    document.dispatchEvent(new Event("visibilitychange"));
  };

  // Screen Wake Lock: headless Chromium refuses it, so a lock that remembers every request.
  window.__wakeLocks = [];
  Object.defineProperty(navigator, "wakeLock", {
    configurable: true,
    value: {
      async request(type) {
        const sentinel = new EventTarget();
        Object.assign(sentinel, { type, released: false });
        sentinel.release = async () => {
          if (sentinel.released) return;
          sentinel.released = true;
          sentinel.dispatchEvent(new Event("release"));
        };
        window.__wakeLocks.push(sentinel);
        return sentinel;
      },
    },
  });

  // How many peer connections the page made (a replaced microphone must not need a new one),
  // and the page's audio contexts and gain stages (to hear what it plays).
  window.__peers = 0;
  const NativePeerConnection = window.RTCPeerConnection;
  if (NativePeerConnection) {
    window.RTCPeerConnection = class extends NativePeerConnection {
      constructor(...args) {
        super(...args);
        window.__peers += 1;
      }
    };
  }
  window.__contexts = [];
  window.__gains = [];
  window.AudioContext = class extends NativeAudioContext {
    constructor(...args) {
      super(...args);
      window.__contexts.push(this);
    }

    createGain() {
      const gain = super.createGain();
      window.__gains.push(gain);
      return gain;
    }
  };
})();
