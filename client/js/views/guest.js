// @ts-check
/**
 * Guests (no account): come in by a meeting's link or code, or meet someone by a shared
 * code. Name, camera and microphone preview, the lobby (or the meet-by-code wait and
 * accept), then the meeting's call and chat — nothing else of the app.
 */
import { api, ApiFailure, setCsrfToken } from '../api.js';
import { h, field, errorBox, busy, mount, onDetach } from '../dom.js';
import { getLocalMedia, stopAll } from '../media.js';
import { Signaling } from '../signaling.js';
import { IceConfig } from '../ice.js';
import { RoomManager } from '../rooms.js';
import { ChatStore } from '../chat.js';
import { roomOverlay } from './roomui.js';

/** What ends a guest's stay, as the server's close reason says it. */
const OVER_TEXT = /** @type {Record<string, string>} */ ({
  rejected: 'The host did not let you in.',
  removed: 'A host removed you from the meeting.',
  ended: 'The meeting has ended.',
  declined: 'The meeting was declined.',
  nobody_came: 'Nobody else typed this code in time. Agree on a new code and try again.',
  left: 'You left the meeting.',
});

/** sessionStorage key: the link this tab came into a meeting by, as a guest. */
export const GUEST_LINK = 'mywebrtc-guest-link';

/**
 * @typedef {{link?: string, code?: string, byCode?: string}} Target
 *   `link`/`code`: a meeting's; `byCode`: meet-by-code with this code.
 */

/**
 * Start-page cards: join a meeting by its code, or meet someone by a code you agreed on.
 * @param {(t: Target) => void} go
 */
export function startCards(go) {
  const code = field('meeting-code', 'Meeting code', { inputmode: 'numeric', autocomplete: 'off', placeholder: '1234-5678-9012', required: true });
  const joinForm = /** @type {HTMLFormElement} */ (h('form', { class: 'card', id: 'join-meeting-form' },
    h('h2', {}, 'Join a meeting'), code.row, h('button', { type: 'submit' }, 'Continue')));
  joinForm.addEventListener('submit', (ev) => { ev.preventDefault(); go({ code: code.input.value }); });
  const key = field('meet-code', 'Code you agreed on', { autocomplete: 'off', minlength: 6, maxlength: 64, required: true });
  const meetForm = /** @type {HTMLFormElement} */ (h('form', { class: 'card', id: 'meet-by-code-form' },
    h('h2', {}, 'Meet by code'),
    h('p', { class: 'muted' }, 'Both of you type the same code (at least 6 letters or digits) within 100 seconds.'),
    key.row, h('button', { type: 'submit' }, 'Continue')));
  meetForm.addEventListener('submit', (ev) => { ev.preventDefault(); go({ byCode: key.input.value }); });
  return [joinForm, meetForm];
}

/**
 * The preview: name, camera and microphone check, then "Ask to join".
 * @param {Target} target
 * @param {() => void} back
 */
export function guestPreview(target, back) {
  const name = field('guest-name', 'Your name', { maxlength: 64, required: true, autocomplete: 'name', autofocus: true });
  const err = errorBox();
  const video = /** @type {HTMLVideoElement} */ (h('video', { id: 'preview-video', autoplay: true, playsinline: true, muted: true }));
  const meter = h('meter', { id: 'preview-level', min: 0, max: 1, value: 0, 'aria-label': 'Microphone level' });
  const note = h('p', { id: 'preview-note', class: 'muted' }, 'Checking camera and microphone…');
  /** @type {import('../media.js').LocalMedia|null} */
  let media = null;
  let levelTimer = 0;
  /** @type {AudioContext|null} */
  let audioCtx = null;
  getLocalMedia({ audio: true, video: true }).then((m) => {
    media = m;
    video.srcObject = m.stream;
    note.textContent = m.problem || 'Camera and microphone work.';
    if (m.audio) {
      // The microphone level, so the guest sees it hears them.
      audioCtx = new AudioContext();
      const an = audioCtx.createAnalyser();
      audioCtx.createMediaStreamSource(m.stream).connect(an);
      const buf = new Float32Array(an.fftSize);
      levelTimer = window.setInterval(() => {
        an.getFloatTimeDomainData(buf);
        let peak = 0;
        for (const x of buf) peak = Math.max(peak, Math.abs(x));
        meter.setAttribute('value', String(Math.min(1, peak * 2)));
      }, 100);
    }
  });
  const stopPreview = () => { clearInterval(levelTimer); audioCtx?.close().catch(() => {}); };
  const heading = target.byCode ? 'Meet by code' : 'Join the meeting';
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'card', id: 'guest-form' },
    h('h1', {}, heading), name.row,
    h('div', { class: 'preview' }, video, meter, note),
    err.box,
    h('div', { class: 'call-buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'guest-join' }, target.byCode ? 'Continue' : 'Ask to join'),
      h('button', { type: 'button', onclick: () => { stopPreview(); stopAll(media?.stream); back(); } }, 'Cancel'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.show(null);
    busy(form, async () => {
      try {
        const joined = target.byCode
          ? await api('POST', '/meet/code', { code: target.byCode, name: name.input.value })
          : await api('POST', '/meet/join', { link: target.link, code: target.code, name: name.input.value });
        stopPreview();
        // A reload of this tab on the same link goes back into this meeting (main.js).
        if (target.link) sessionStorage.setItem(GUEST_LINK, target.link);
        guestSession(joined, media, back);
      } catch (e) {
        err.show(explain(e));
      }
    });
  });
  return h('div', { class: 'centered' }, form);
}

/**
 * A guest's page loaded again (a reload, a crash) while its session lives: back into the
 * meeting (or its lobby). `false` when the session has no meeting to go back to.
 * @param {import('../api.js').SessionInfo} session
 * @param {() => void} back
 */
export async function resumeGuest(session, back) {
  /** @type {any[]} */
  const list = await api('GET', '/meetings').catch(() => []);
  const m = list[0];
  if (!m || !['guest', 'waiting'].includes(m.role) || m.ended) return false;
  const media = await getLocalMedia({ audio: true, video: true });
  guestSession({ meeting: m, session, state: m.role === 'guest' ? 'joined' : 'waiting' }, media, back);
  return true;
}

/** @param {unknown} e */
function explain(e) {
  if (!(e instanceof ApiFailure)) return e instanceof Error ? e.message : String(e);
  switch (e.code) {
    case 'no_such_meeting': return 'There is no meeting with this link or code, or it is over.';
    case 'meeting_locked': return 'This meeting lets nobody new in.';
    case 'code_used': return 'This code was used already. Agree on another one.';
    case 'disabled': return 'This is turned off on this server.';
    default: return e.message;
  }
}

/**
 * From the lobby (or the meet-by-code wait) to the meeting's call, as a guest.
 * @param {any} joined the answer of /meet/join or /meet/code
 * @param {import('../media.js').LocalMedia|null} media from the preview
 * @param {() => void} done back to the start page
 */
function guestSession(joined, media, done) {
  setCsrfToken(joined.session.csrf_token);
  const me = joined.session.user.id;
  const meeting = joined.meeting.id;
  const sig = new Signaling();
  const status = h('p', { id: 'guest-status', role: 'status' });
  const actions = h('div', { class: 'call-buttons' });
  const leaveBtn = h('button', { id: 'guest-leave', class: 'decline', onclick: () => leave() }, 'Leave');
  const view = h('div', { class: 'centered' }, h('section', { class: 'card', id: 'guest-lobby' },
    h('h1', {}, joined.meeting.title), status, actions, leaveBtn));
  mount(view);
  /** @type {RoomManager|null} */
  let rooms = null;
  /** @type {HTMLElement|null} */
  let overlay = null;
  let over = false;

  /** @param {string} text */
  function finish(text) {
    if (over) return;
    over = true;
    sig.stop();
    rooms?.leave();
    overlay?.remove();
    stopAll(media?.stream);
    setCsrfToken(null);
    mount(h('div', { class: 'centered' }, h('section', { class: 'card', id: 'guest-over' },
      h('p', { role: 'status' }, text),
      h('button', { onclick: () => { history.replaceState(null, '', '/'); done(); } }, 'Back to the start page'))));
  }
  function leave() {
    api('POST', `/meetings/${meeting}/leave`).catch(() => {});
    finish(OVER_TEXT.left);
  }
  sig.addEventListener('meeting_over', (e) => finish(OVER_TEXT[/** @type {CustomEvent} */ (e).detail] || OVER_TEXT.ended));
  sig.addEventListener('session_ended', () => finish(OVER_TEXT.ended));

  /** Whether we asked to meet the other person of a meet-by-code meeting already. */
  let asked = false;
  /** @param {string} peer */
  function askAccept(peer) {
    if (asked) return;
    asked = true;
    status.textContent = `${peer} typed the same code. Do you want to meet them?`;
    actions.replaceChildren(
      h('button', { id: 'meet-accept', class: 'accept', onclick: () => {
        actions.replaceChildren();
        status.textContent = `Waiting for ${peer} to accept…`;
        api('POST', `/meetings/${meeting}/accept`).catch((e) => finish(explain(e)));
      } }, 'Accept'),
      h('button', { id: 'meet-decline', class: 'decline', onclick: () => {
        api('POST', `/meetings/${meeting}/decline`).catch(() => {});
        finish(OVER_TEXT.declined);
      } }, 'Decline'));
  }
  if (joined.state === 'matched') askAccept(joined.peer);
  else if (joined.state === 'joined') status.textContent = 'Coming back into the meeting…';
  else if (joined.meeting.by_code) {
    // Counts down the window the other person has to type the same code.
    let left = joined.window_secs || 100;
    status.textContent = `Waiting for the other person to type the same code… (${left} s)`;
    const t = setInterval(() => {
      left -= 1;
      if (over || rooms || actions.childElementCount) { clearInterval(t); return; }
      status.textContent = `Waiting for the other person to type the same code… (${Math.max(0, left)} s)`;
    }, 1000);
    onDetach(view, () => clearInterval(t));
  } else {
    status.textContent = 'Waiting for a host to let you in…';
  }
  sig.addEventListener('meeting_matched', (e) => askAccept(/** @type {CustomEvent} */ (e).detail.peer));
  sig.addEventListener('meeting_admitted', (e) => enter(/** @type {CustomEvent} */ (e).detail.conv));
  // What happened while the socket was not up yet (or away) is not replayed: ask.
  sig.addEventListener('resync', async () => {
    if (rooms || over) return;
    try {
      const m = await api('GET', `/meetings/${meeting}`);
      // Let in; in a meet-by-code meeting, once both accepted.
      const all = m.guests.every((/** @type {{state: string}} */ g) => g.state === 'admitted');
      if (m.role === 'guest' && (!m.by_code || all)) {
        enter(m.conv);
        return;
      }
      const other = m.by_code ? m.guests.find((/** @type {{id: number}} */ g) => g.id !== me) : undefined;
      if (other) askAccept(other.display_name);
    } catch {
      // Out already: the socket's close says why.
    }
  });
  /** Into the meeting's call, once let in. @param {number} conv */
  async function enter(conv) {
    if (rooms || over) return;
    const ice = new IceConfig();
    rooms = new RoomManager(sig, ice, me);
    // For diagnostics (and the browser tests), as in the members' app.
    /** @type {any} */ (window).mywebrtcRooms = rooms;
    const chat = new ChatStore(sig, me);
    await chat.loadList().catch(() => {});
    const nameIn = (/** @type {number} */ c, /** @type {number} */ u) => {
      const m = chat.conversations.get(c)?.members.find((x) => x.user === u);
      if (!m) return u === me ? 'You' : `user ${u}`;
      return m.username.startsWith('guest~') ? `${m.display_name} (guest)` : m.display_name;
    };
    overlay = roomOverlay(rooms, nameIn, () => joined.meeting.title, me, false, chat);
    document.body.append(overlay);
    status.textContent = 'You are in the meeting.';
    // Leaving the call (our Leave button) is leaving the meeting, for a guest. Calls that
    // end for other reasons (the media path broke) are taken up again by the manager.
    const seen = new WeakSet();
    rooms.addEventListener('change', () => {
      const c = rooms?.current;
      if (!c || seen.has(c)) return;
      seen.add(c);
      c.addEventListener('ended', (ev) => { if (/** @type {CustomEvent} */ (ev).detail === 'left') leave(); });
    });
    await rooms.join(conv, media?.video ?? true, media?.stream ?? null);
  }
  sig.start();
}
