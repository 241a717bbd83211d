// An AudioWorklet that cuts what the page plays into 20 ms windows and, for
// each, measures the tones the test listens for the way the media crate's
// ToneDetector does (crates/media/src/tone.rs): the Goertzel power at the
// tone over the window's energy, and the window's RMS. A window "hears" a
// tone when its RMS is at least 0.01 of full scale and the tone holds at
// least `minRatio` of the energy (0.3, as tests/support/agent.rs uses).
//
// Every window is posted to the page as [rms, ratio per tone...]; the page
// keeps them in order, so a window's index is a time (20 ms each, from the
// moment the listener started), whether anything was received or not.

class Listener extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { tones, windowMs } = options.processorOptions;
    this.tones = tones;
    // `sampleRate` is the AudioWorkletGlobalScope's rate (48 kHz here).
    this.size = Math.round((sampleRate * windowMs) / 1000);
    this.buffer = new Float32Array(this.size);
    this.fill = 0;
    this.coeffs = tones.map((hz) => 2 * Math.cos((2 * Math.PI * hz) / sampleRate));
  }

  measure() {
    const x = this.buffer;
    const n = x.length;
    let energy = 0;
    for (let i = 0; i < n; i++) energy += x[i] * x[i];
    const out = [Math.sqrt(energy / n)];
    for (const coeff of this.coeffs) {
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const s0 = x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
      out.push(energy > 0 ? Math.min(1, (2 * power) / (n * energy)) : 0);
    }
    return out;
  }

  process(inputs) {
    const input = inputs[0];
    // No input connected yet: a render quantum of silence.
    const channel = input && input.length > 0 ? input[0] : null;
    const frames = channel ? channel.length : 128;
    for (let i = 0; i < frames; i++) {
      this.buffer[this.fill++] = channel ? channel[i] : 0;
      if (this.fill === this.size) {
        this.port.postMessage(this.measure());
        this.fill = 0;
      }
    }
    return true;
  }
}

registerProcessor("listener", Listener);
