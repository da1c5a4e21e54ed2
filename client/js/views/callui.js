// @ts-check
import { h } from '../dom.js';
import { listDevices } from '../media.js';

/**
 * The call overlay: incoming-call panel, outgoing "calling…" panel, in-call screen, and the
 * notice after a call ends. Lives outside the page content so it survives navigation.
 * @param {import('../calls.js').CallManager} calls
 * @param {(id: number) => string} nameOf
 */
export function callOverlay(calls, nameOf) {
  const root = h('div', { id: 'call-overlay', 'aria-live': 'assertive' });
  /** @type {number|undefined} */
  let tick;
  /** @type {number|undefined} */
  let noticeTimer;

  /** Ends the listeners the previous in-call screen put on its Call. */
  let screen = new AbortController();

  function render() {
    clearInterval(tick);
    screen.abort();
    screen = new AbortController();
    const cur = calls.current;
    if (calls.phase === 'incoming' && cur) {
      root.replaceChildren(h('section', { id: 'incoming-call', class: 'call-panel', role: 'dialog', 'aria-label': 'Incoming call' },
        h('p', { class: 'call-title' }, `${nameOf(cur.peer)} is calling`),
        h('p', { class: 'muted' }, cur.media === 'video' ? 'Video call' : 'Audio call'),
        h('div', { class: 'call-buttons' },
          cur.media === 'video' ? h('button', { id: 'accept-video', class: 'accept', onclick: () => calls.accept(true) }, 'Accept with video') : null,
          h('button', { id: 'accept-audio', class: 'accept', onclick: () => calls.accept(false) }, cur.media === 'video' ? 'Accept audio only' : 'Accept'),
          h('button', { id: 'decline-call', class: 'decline', onclick: () => calls.decline() }, 'Decline'))));
      return;
    }
    if (calls.phase === 'outgoing' && cur) {
      root.replaceChildren(h('section', { id: 'outgoing-call', class: 'call-panel' },
        h('p', { class: 'call-title' }, `Calling ${nameOf(cur.peer)}…`),
        calls.notice ? h('p', { class: 'muted', id: 'call-notice' }, calls.notice) : null,
        h('div', { class: 'call-buttons' }, h('button', { id: 'cancel-call', class: 'decline', onclick: () => calls.hangup() }, 'Cancel'))));
      return;
    }
    if (calls.phase === 'active' && cur && calls.call) {
      root.replaceChildren(inCall(cur));
      return;
    }
    if (calls.notice) {
      root.replaceChildren(h('section', { id: 'call-ended', class: 'call-panel small', role: 'status' }, calls.notice));
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(() => { if (calls.phase === 'idle') root.replaceChildren(); }, 4000);
      return;
    }
    root.replaceChildren();
  }

  /** @param {{callId: number, peer: number, media: 'audio'|'video'}} cur */
  function inCall(cur) {
    const call = /** @type {import('../call.js').Call} */ (calls.call);
    const remote = /** @type {HTMLVideoElement} */ (h('video', { id: 'remote-video', autoplay: true, playsinline: true }));
    remote.srcObject = call.remote;
    const localVideo = /** @type {HTMLVideoElement} */ (h('video', { id: 'local-video', autoplay: true, playsinline: true, muted: true }));
    localVideo.muted = true;
    // The callee's devices may still be starting: the screen is drawn again once they are.
    localVideo.srcObject = call.local?.stream || null;
    localVideo.hidden = !call.local?.video;
    const state = h('span', { id: 'call-state', 'data-state': call.pc?.connectionState || 'new' }, 'connecting…');
    const duration = h('span', { id: 'call-duration' }, '0:00');
    const quality = h('span', { id: 'call-quality', class: 'muted' }, '');
    const route = h('span', { id: 'call-route', class: 'muted' }, '');
    const remoteMute = h('span', { id: 'remote-muted', class: 'muted', hidden: true }, '');
    const mute = h('button', { id: 'toggle-mic', 'aria-pressed': 'false', disabled: !call.local?.audio }, 'Mute');
    const cam = h('button', { id: 'toggle-camera', 'aria-pressed': 'false', disabled: !call.local?.video }, 'Camera off');
    mute.addEventListener('click', () => {
      const on = !call.muted.audio;
      call.setMuted('audio', on);
      mute.setAttribute('aria-pressed', String(on));
      mute.textContent = on ? 'Unmute' : 'Mute';
    });
    cam.addEventListener('click', () => {
      const off = !call.muted.video;
      call.setMuted('video', off);
      cam.setAttribute('aria-pressed', String(off));
      cam.textContent = off ? 'Camera on' : 'Camera off';
    });
    const { signal } = screen;
    call.addEventListener('state', (e) => {
      const st = /** @type {CustomEvent} */ (e).detail;
      state.setAttribute('data-state', st);
      state.textContent = st === 'connected' ? 'connected' : st === 'failed' ? 'reconnecting…' : 'connecting…';
    }, { signal });
    call.addEventListener('remote', () => { remote.srcObject = call.remote; remote.play().catch(() => {}); }, { signal });
    call.addEventListener('stats', (e) => {
      const s = /** @type {CustomEvent} */ (e).detail;
      const rtt = Number.isFinite(s.rttMs) ? `${Math.round(s.rttMs)} ms` : '–';
      quality.textContent = `RTT ${rtt} · loss ${s.lossPct.toFixed(1)}% · ${Math.round(s.kbps)} kbit/s`;
      quality.setAttribute('data-level', s.lossPct > 5 || s.rttMs > 400 ? 'poor' : s.lossPct > 1 || s.rttMs > 150 ? 'fair' : 'good');
      route.textContent = s.relayed ? 'relayed' : 'direct';
      route.setAttribute('data-relayed', String(s.relayed));
    }, { signal });
    call.addEventListener('remote-mute', (e) => {
      const m = /** @type {CustomEvent} */ (e).detail;
      const parts = [m.audio ? 'microphone off' : '', m.video ? 'camera off' : ''].filter(Boolean);
      remoteMute.hidden = parts.length === 0;
      remoteMute.textContent = `${nameOf(cur.peer)}: ${parts.join(', ')}`;
    }, { signal });
    tick = setInterval(() => {
      if (!call.connectedAt) return;
      const s = Math.floor((Date.now() - call.connectedAt) / 1000);
      duration.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    }, 1000);

    const devices = h('div', { class: 'devices' });
    /** @param {'audioinput'|'videoinput'|'audiooutput'} kind @param {string} label */
    const picker = async (kind, label) => {
      const list = await listDevices(kind);
      if (list.length < 2) return;
      const sel = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': label },
        ...list.map((d, i) => h('option', { value: d.deviceId }, d.label || `${label} ${i + 1}`))));
      sel.addEventListener('change', () => {
        if (kind === 'audiooutput') /** @type {any} */ (remote).setSinkId?.(sel.value).catch(() => {});
        else call.switchDevice(kind === 'audioinput' ? 'audio' : 'video', sel.value).catch(() => {});
      });
      devices.append(sel);
    };
    if (call.local?.audio) picker('audioinput', 'Microphone');
    if (call.local?.video) picker('videoinput', 'Camera');
    picker('audiooutput', 'Speaker');

    return h('section', { id: 'in-call', class: `in-call ${cur.media}` },
      h('div', { class: 'stage' }, remote, localVideo),
      h('div', { class: 'call-info' },
        h('strong', {}, nameOf(cur.peer)), ' ', state, ' ', duration, ' ', route, ' ', quality, ' ', remoteMute,
        calls.notice ? h('p', { class: 'muted', id: 'call-notice' }, calls.notice) : null),
      h('div', { class: 'call-buttons' }, mute, cam, h('button', { id: 'hangup', class: 'decline', onclick: () => calls.hangup() }, 'Hang up')),
      devices);
  }

  calls.addEventListener('change', render);
  render();
  return root;
}
