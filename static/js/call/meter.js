// The microphone level meter: an AnalyserNode on the local microphone, drawn once per frame.

export class LevelMeter {
  /** @param {HTMLElement} bar the element whose width shows the level */
  constructor(bar) {
    this.bar = bar;
    this.source = null;
    this.analyser = null;
    this.frame = 0;
    this.level = 0;
    // The raw RMS (0..1): what the silent-microphone watch reads.
    this.rms = 0;
  }

  /** Starts measuring `stream` in `context` (an AudioContext the caller resumed in a tap). */
  start(context, stream) {
    this.stop();
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.source = context.createMediaStreamSource(stream);
    this.source.connect(this.analyser);
    const samples = new Float32Array(this.analyser.fftSize);
    const draw = () => {
      this.analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      this.rms = Math.sqrt(sum / samples.length);
      // -60 dBFS (a quiet room) to 0 dBFS, on the scale people read loudness in.
      this.level = Math.max(0, Math.min(1, (20 * Math.log10(this.rms + 1e-9) + 60) / 60));
      this.bar.style.transform = `scaleX(${this.level.toFixed(3)})`;
      this.frame = requestAnimationFrame(draw);
    };
    draw();
  }

  stop() {
    cancelAnimationFrame(this.frame);
    this.source?.disconnect();
    this.source = null;
    this.analyser = null;
    this.level = 0;
    this.rms = 0;
    this.bar.style.transform = "scaleX(0)";
  }
}
