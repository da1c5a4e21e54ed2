// @ts-check
/** Ring tone (callee) and ringback (caller), synthesised with WebAudio: no sound files. */

export class Tone {
  constructor() {
    /** @type {AudioContext|null} */
    this.ctx = null;
    /** @type {number|undefined} */
    this.timer = undefined;
  }

  /** @param {'ring'|'ringback'} kind */
  start(kind) {
    this.stop();
    try {
      this.ctx = new AudioContext();
    } catch {
      return;
    }
    const ctx = this.ctx;
    // ring: two short bursts every 2 s; ringback: 1 s tone every 4 s (European pattern)
    const pattern = kind === 'ring'
      ? { every: 2000, bursts: [[0, 0.4], [0.5, 0.4]], freqs: [440, 480] }
      : { every: 4000, bursts: [[0, 1.0]], freqs: [425] };
    const play = () => {
      if (ctx.state === 'closed') return;
      for (const [at, dur] of pattern.bursts) {
        const gain = ctx.createGain();
        gain.gain.value = 0.08;
        gain.connect(ctx.destination);
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
    this.ctx?.close().catch(() => {});
    this.ctx = null;
  }
}
