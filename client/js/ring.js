// @ts-check
/** Ring tone (callee) and ringback (caller), synthesised with WebAudio: no sound files. */

export class Tone {
  constructor() {
    /**
     * One audio context for the page's life, suspended while silent: opening the audio
     * output for every call (and closing it at once when the call is answered) costs tens
     * of milliseconds of main-thread time right when the call is being connected.
     * @type {AudioContext|null}
     */
    this.ctx = null;
    /** @type {number|undefined} */
    this.timer = undefined;
    /** The gain nodes of the pattern now playing; disconnected to silence it at once. @type {GainNode[]} */
    this.playing = [];
    /** What is sounding now. @type {'ring'|'ringback'|null} */
    this.kind = null;
  }

  /** @param {'ring'|'ringback'} kind */
  start(kind) {
    this.stop();
    try {
      this.ctx ??= new AudioContext();
    } catch {
      return;
    }
    const ctx = this.ctx;
    ctx.resume().catch(() => {});
    this.kind = kind;
    // ring: two short bursts every 2 s; ringback: 1 s tone every 4 s (European pattern)
    const pattern = kind === 'ring'
      ? { every: 2000, bursts: [[0, 0.4], [0.5, 0.4]], freqs: [440, 480] }
      : { every: 4000, bursts: [[0, 1.0]], freqs: [425] };
    const play = () => {
      this.playing = [];
      for (const [at, dur] of pattern.bursts) {
        const gain = ctx.createGain();
        gain.gain.value = 0.08;
        gain.connect(ctx.destination);
        this.playing.push(gain);
        for (const f of pattern.freqs) {
          const osc = ctx.createOscillator();
          osc.frequency.value = f;
          osc.connect(gain);
          osc.start(ctx.currentTime + at);
          osc.stop(ctx.currentTime + at + dur);
        }
      }
    };
    play();
    this.timer = setInterval(play, pattern.every);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = undefined;
    this.kind = null;
    for (const gain of this.playing) gain.disconnect();
    this.playing = [];
    // Suspended, the context lets go of the audio device until the next tone.
    if (this.ctx?.state === 'running') this.ctx.suspend().catch(() => {});
  }
}
