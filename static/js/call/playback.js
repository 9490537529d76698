// What the person hears: the call's remote stream played through the one AudioContext, via a
// gain stage (the volume boost) and a limiter. iOS Safari may play an <audio> element's WebRTC
// stream quietly or from the earpiece once the microphone is open; Web Audio output goes to the
// loudspeaker at full media volume, so the call is loud by default.

// A limiter: inaudible at normal volume, it keeps a boosted voice from clipping.
const LIMITER = { threshold: -3, knee: 0, ratio: 20, attack: 0.003, release: 0.25 };

export class Playback {
  /**
   * @param {HTMLAudioElement} audio keeps the remote stream flowing (Chrome feeds Web Audio from a
   *   WebRTC stream only while a media element plays it); muted, since Web Audio plays it
   * @param {{onNeedsTap: (needed: boolean) => void}} handlers told whether a tap is needed to start sound
   */
  constructor(audio, { onNeedsTap }) {
    this.audio = audio;
    this.onNeedsTap = onNeedsTap;
    this.context = null;
    this.gain = null;
    this.source = null;
    this.stream = null;
    this.boost = 1;
  }

  /** Plays through `context` from now on (the call's one AudioContext, created in a tap). */
  use(context) {
    if (this.context === context) return;
    this.context = context;
    this.gain = context.createGain();
    this.gain.gain.value = this.boost;
    // createDynamicsCompressor, not the constructor: Safari before 14.1 has only the factory.
    const limiter = context.createDynamicsCompressor();
    for (const [name, value] of Object.entries(LIMITER)) limiter[name].value = value;
    this.gain.connect(limiter).connect(context.destination);
    context.addEventListener("statechange", () => this.report());
  }

  /** Starts playing `stream` (the mix the media worker sends), or shows the tap it needs. */
  play(stream) {
    if (this.stream !== stream) {
      this.stream = stream;
      this.audio.muted = true;
      this.audio.srcObject = stream;
      this.source?.disconnect();
      this.source = this.context.createMediaStreamSource(stream);
      this.source.connect(this.gain);
    }
    this.unlock();
  }

  /** Resumes sound; from a tap this always works, outside one iOS may keep it waiting for a tap. */
  unlock() {
    this.audio.play().catch(() => {});
    this.context?.resume().then(
      () => this.report(),
      () => this.report(),
    );
    this.report();
  }

  get running() {
    return this.context?.state === "running";
  }

  report() {
    this.onNeedsTap(Boolean(this.stream) && !this.running);
  }

  /** 1 is the stream as sent; up to 4 for a quiet phone speaker or a noisy room. */
  setBoost(boost) {
    this.boost = boost;
    if (this.gain) this.gain.gain.value = boost;
  }

  /** Whether people can pick the output device here (desktop Chrome and Edge; not Safari). */
  static get canChooseOutput() {
    return typeof AudioContext !== "undefined" && "setSinkId" in AudioContext.prototype;
  }

  async setOutput(deviceId) {
    await this.context?.setSinkId(deviceId);
  }

  stop() {
    this.source?.disconnect();
    this.source = null;
    this.stream = null;
    this.audio.srcObject = null;
    this.report();
  }
}
