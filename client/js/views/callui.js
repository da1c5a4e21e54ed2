// @ts-check
import { h } from '../dom.js';
import { listDevices } from '../media.js';
import { api } from '../api.js';

/**
 * The call overlay: incoming-call panel, outgoing "calling…" panel, in-call screen, and the
 * notice after a call ends. Lives outside the page content so it survives navigation.
 * @param {import('../calls.js').CallManager} calls
 * @param {(id: number) => string} nameOf
 * @param {(peer: number, files: File[]) => Promise<void>} sendFiles sends files to a user
 * @param {(contact: number) => Promise<void>} addPerson turns the call into a group call with this contact
 */
export function callOverlay(calls, nameOf, sendFiles, addPerson) {
  const root = h('div', { id: 'call-overlay', 'aria-live': 'assertive' });
  /** @type {number|undefined} */
  let noticeTimer;

  /**
   * The in-call screen of the current call, kept while the call lasts: a `change` during the
   * call (the callee's devices starting, a notice) updates it in place, so the videos keep
   * playing and the quality and remote-mute lines keep what they show.
   * @type {{call: import('../call.js').Call, node: HTMLElement, update: () => void, end: () => void}|null}
   */
  let screen = null;

  function render() {
    const cur = calls.current;
    if (calls.phase === 'active' && cur && calls.call) {
      if (screen?.call !== calls.call) {
        screen?.end();
        screen = inCall(cur, calls.call);
        root.replaceChildren(screen.node);
      }
      screen.update();
      return;
    }
    screen?.end();
    screen = null;
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
    if (calls.notice) {
      root.replaceChildren(h('section', { id: 'call-ended', class: 'call-panel small', role: 'status' }, calls.notice));
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(() => { if (calls.phase === 'idle') root.replaceChildren(); }, 4000);
      return;
    }
    root.replaceChildren();
  }

  /**
   * Builds the in-call screen for one call.
   * @param {{callId: number, peer: number, media: 'audio'|'video'}} cur
   * @param {import('../call.js').Call} call
   */
  function inCall(cur, call) {
    const listening = new AbortController();
    const { signal } = listening;
    const remote = /** @type {HTMLVideoElement} */ (h('video', { id: 'remote-video', autoplay: true, playsinline: true }));
    // The other side's shared screen: shown large, with its camera small beside it.
    const screenVideo = /** @type {HTMLVideoElement} */ (h('video', { id: 'remote-screen', autoplay: true, playsinline: true, hidden: true }));
    const fit = /** @type {HTMLButtonElement} */ (h('button', { id: 'screen-fit', 'aria-pressed': 'false', hidden: true }, 'Fill'));
    const full = /** @type {HTMLButtonElement} */ (h('button', { id: 'screen-full', hidden: true }, 'Full screen'));
    const share = /** @type {HTMLButtonElement} */ (h('button', { id: 'share-screen', 'aria-pressed': 'false' }, 'Share screen'));
    const sharing = h('span', { id: 'sharing-notice', hidden: true }, 'You are sharing your screen');
    // Files to the person in the call, without leaving it.
    const fileInput = /** @type {HTMLInputElement} */ (h('input', { type: 'file', multiple: true, hidden: true, id: 'call-file-input', 'aria-label': 'Files to send' }));
    fileInput.addEventListener('change', () => {
      const list = [...(fileInput.files || [])];
      fileInput.value = '';
      if (list.length) sendFiles(cur.peer, list).catch((err) => { notice.textContent = String(err?.message || err); notice.hidden = false; });
    });
    const sendFile = h('button', { id: 'call-send-file', onclick: () => fileInput.click() }, 'Send file');
    // Phones and some browsers cannot capture a screen at all.
    share.hidden = !navigator.mediaDevices?.getDisplayMedia;
    const localVideo = /** @type {HTMLVideoElement} */ (h('video', { id: 'local-video', autoplay: true, playsinline: true, muted: true }));
    localVideo.muted = true;
    localVideo.hidden = true;
    const state = h('span', { id: 'call-state', 'data-state': call.pc?.connectionState || 'new' }, 'connecting…');
    const duration = h('span', { id: 'call-duration' }, '0:00');
    const quality = h('span', { id: 'call-quality', class: 'muted' }, '');
    const route = h('span', { id: 'call-route', class: 'muted' }, '');
    const remoteMute = h('span', { id: 'remote-muted', class: 'muted', hidden: true }, '');
    const notice = h('p', { class: 'muted', id: 'call-notice', hidden: true }, '');
    // A third person: the call becomes a group call (both move to the conference server).
    const adding = h('div', { id: 'add-person', class: 'devices', hidden: true });
    const add = h('button', { id: 'add-to-call', onclick: async () => {
      if (!adding.hidden) { adding.hidden = true; return; }
      const { contacts } = await api('GET', '/contacts');
      const others = contacts.filter((/** @type {any} */ c) => c.id !== cur.peer);
      const sel = /** @type {HTMLSelectElement} */ (h('select', { id: 'add-person-pick', 'aria-label': 'Person to add' },
        ...others.map((/** @type {any} */ c) => h('option', { value: String(c.id) }, c.display_name))));
      const ok = h('button', { id: 'add-person-ok', class: 'primary', onclick: () => {
        adding.hidden = true;
        addPerson(Number(sel.value)).catch((err) => { notice.textContent = `Could not add: ${err?.message || err}`; notice.hidden = false; });
      } }, 'Add to call');
      if (others.length) adding.replaceChildren(sel, ok);
      else adding.replaceChildren(h('span', { class: 'muted' }, 'No other contacts'));
      adding.hidden = false;
    } }, 'Add person');
    const mute = /** @type {HTMLButtonElement} */ (h('button', { id: 'toggle-mic', 'aria-pressed': 'false', disabled: true }, 'Mute'));
    const cam = /** @type {HTMLButtonElement} */ (h('button', { id: 'toggle-camera', 'aria-pressed': 'false', disabled: true }, 'Camera off'));
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
    call.addEventListener('state', (e) => {
      const st = /** @type {CustomEvent} */ (e).detail;
      state.setAttribute('data-state', st);
      // Once up, any other state means the path broke and is being restored (ICE restart).
      state.textContent = st === 'connected' ? 'connected' : call.connectedAt ? 'reconnecting…' : 'connecting…';
    }, { signal });
    // The remote stream goes into the element once the media path is up (later tracks join the
    // same stream, which the element follows): no media can arrive before, and setting up the
    // player and the audio output then would only compete with the connection's own setup.
    const showRemote = () => {
      if (remote.srcObject === call.remote || !call.connectedAt || call.remote.getTracks().length === 0) return;
      remote.srcObject = call.remote;
      remote.play().catch(() => {});
    };
    call.addEventListener('remote', showRemote, { signal });
    call.addEventListener('state', showRemote, { signal });
    showRemote();
    const stage = h('div', { class: 'stage' }, screenVideo, remote, localVideo);
    call.addEventListener('screen', (e) => {
      const stream = /** @type {CustomEvent<MediaStream|null>} */ (e).detail;
      stage.classList.toggle('sharing', !!stream);
      screenVideo.hidden = !stream;
      fit.hidden = !stream;
      full.hidden = !stream;
      if (stream) {
        if (screenVideo.srcObject !== stream) screenVideo.srcObject = stream;
        screenVideo.play().catch(() => {});
      } else {
        screenVideo.srcObject = null;
        if (document.fullscreenElement === screenVideo) document.exitFullscreen().catch(() => {});
      }
    }, { signal });
    fit.addEventListener('click', () => {
      // Fit shows the whole screen (letterboxed); fill uses the whole tile (cropping edges).
      const fill = !screenVideo.classList.contains('fill');
      screenVideo.classList.toggle('fill', fill);
      fit.setAttribute('aria-pressed', String(fill));
      fit.textContent = fill ? 'Fit' : 'Fill';
    });
    full.addEventListener('click', () => { screenVideo.requestFullscreen().catch(() => {}); });
    share.addEventListener('click', () => {
      if (call.screen) call.stopScreen();
      else call.shareScreen().catch((err) => {
        // Cancelling the browser's picker is a NotAllowedError: nothing to say then.
        if (err?.name !== 'NotAllowedError') {
          notice.textContent = `Screen sharing failed: ${err?.message || err}`;
          notice.hidden = false;
        }
      });
    });
    call.addEventListener('local-screen', (e) => {
      const on = !!(/** @type {CustomEvent<MediaStream|null>} */ (e).detail);
      share.setAttribute('aria-pressed', String(on));
      share.textContent = on ? 'Stop sharing' : 'Share screen';
      sharing.hidden = !on;
    }, { signal });
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
    const tick = setInterval(() => {
      if (!call.connectedAt) return;
      const s = Math.floor((Date.now() - call.connectedAt) / 1000);
      duration.textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
    }, 1000);

    // The self-view and the device pickers wait until the call is up (or a moment, if that
    // takes long): a video player being set up and the browser's media device manager being
    // asked for its device list while the connection is negotiated delay it by tens of
    // milliseconds on a busy machine, and neither is needed in the first instant of a call.
    // One device list per call.
    const devices = h('div', { class: 'devices' });
    let listed = false;
    const showPickers = () => {
      if (listed || !call.local || signal.aborted) return;
      listed = true;
      const local = call.local;
      listDevices().then((all) => {
        if (signal.aborted) return;
        /** @type {[MediaDeviceKind, string, boolean][]} */
        const kinds = [['audioinput', 'Microphone', local.audio], ['videoinput', 'Camera', local.video], ['audiooutput', 'Speaker', true]];
        for (const [kind, label, wanted] of kinds) {
          const list = all.filter((d) => d.kind === kind);
          if (!wanted || list.length < 2) continue;
          const sel = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': label },
            ...list.map((d, i) => h('option', { value: d.deviceId }, d.label || `${label} ${i + 1}`))));
          sel.addEventListener('change', () => {
            if (kind === 'audiooutput') /** @type {any} */ (remote).setSinkId?.(sel.value).catch(() => {});
            else call.switchDevice(kind === 'audioinput' ? 'audio' : 'video', sel.value).catch(() => {});
          });
          devices.append(sel);
        }
      });
    };
    const showSelf = () => {
      const local = call.local;
      if (!local || localVideo.srcObject === local.stream) return;
      localVideo.srcObject = local.stream;
      localVideo.hidden = !local.video;
    };
    let settled = false;
    const settle = () => {
      settled = true;
      showSelf();
      showPickers();
    };
    call.addEventListener('state', (e) => { if (/** @type {CustomEvent} */ (e).detail === 'connected') settle(); }, { signal });
    const settleTimer = setTimeout(settle, 1000);

    /** The local devices seen so far: the callee's start after the screen appears. */
    let shownLocal = /** @type {import('../media.js').LocalMedia|null} */ (null);
    const update = () => {
      notice.textContent = calls.notice || '';
      notice.hidden = !calls.notice;
      const local = call.local;
      if (!local || local === shownLocal) return;
      shownLocal = local;
      mute.disabled = !local.audio;
      cam.disabled = !local.video;
      if (settled) settle();
    };
    const node = h('section', { id: 'in-call', class: `in-call ${cur.media}` },
      stage,
      h('div', { class: 'call-info' },
        h('strong', {}, nameOf(cur.peer)), ' ', state, ' ', duration, ' ', route, ' ', quality, ' ', remoteMute, ' ', sharing, notice),
      h('div', { class: 'call-buttons' }, mute, cam, share, sendFile, fileInput, fit, full, add,
        h('button', { id: 'hangup', class: 'decline', onclick: () => calls.hangup() }, 'Hang up')),
      adding, devices);
    const end = () => {
      listening.abort();
      clearInterval(tick);
      clearTimeout(settleTimer);
    };
    return { call, node, update, end };
  }

  calls.addEventListener('change', render);
  render();
  return root;
}
