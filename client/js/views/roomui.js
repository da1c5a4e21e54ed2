// @ts-check
import { h } from '../dom.js';
import { api } from '../api.js';

/**
 * The group call overlay: the "call started" ring, and the room screen (tile grid with the
 * active speaker highlighted, a speaker view, the shared screen as the main tile, mute,
 * camera, hand, screen sharing, the people list, leave). Lives outside the page content so
 * it survives navigation.
 * @param {import('../rooms.js').RoomManager} rooms
 * @param {(conv: number, user: number) => string} nameIn display name of a member
 * @param {(conv: number) => string} convName
 * @param {number} me our user id
 * @param {boolean} isAdmin administrators moderate every call
 * @param {import('../chat.js').ChatStore} chat the conversation's chat, shown beside the call
 */
export function roomOverlay(rooms, nameIn, convName, me, isAdmin, chat) {
  const root = h('div', { id: 'room-overlay', 'aria-live': 'polite' });
  /** @type {{call: import('../room.js').RoomCall, node: HTMLElement, update: () => void, end: () => void}|null} */
  let screen = null;
  /** When the conversation list was last reloaded for someone we had no name for. */
  let namesLoadedAt = 0;

  /**
   * Someone joined who is not in our copy of the conversation (a member or guest who came
   * into a meeting after we loaded it): reload the list, at most every 2 s, and show names.
   * @param {import('../room.js').RoomCall} call
   */
  function learnNames(call) {
    const known = new Set((chat.conversations.get(call.conv)?.members || []).map((m) => m.user));
    const unknown = [...call.members.values()].some((m) => !known.has(m.user));
    if (!unknown || performance.now() - namesLoadedAt < 2000) return;
    namesLoadedAt = performance.now();
    chat.loadList().then(render).catch(() => {});
  }

  function render() {
    const call = rooms.current;
    if (call) {
      learnNames(call);
      if (screen?.call !== call) {
        screen?.end();
        screen = roomScreen(call);
        root.replaceChildren(screen.node);
      }
      screen.update();
      return;
    }
    screen?.end();
    screen = null;
    const ring = rooms.ringing;
    if (ring) {
      root.replaceChildren(h('section', { id: 'room-incoming', class: 'call-panel', role: 'dialog', 'aria-label': 'Group call' },
        h('p', { class: 'call-title' }, `${nameIn(ring.conv, ring.by)} started a call in ${convName(ring.conv)}`),
        h('div', { class: 'call-buttons' },
          h('button', { id: 'room-join-video', class: 'accept', onclick: () => rooms.join(ring.conv, true) }, 'Join with video'),
          h('button', { id: 'room-join-audio', class: 'accept', onclick: () => rooms.join(ring.conv, false) }, 'Join audio only'),
          h('button', { id: 'room-decline', class: 'decline', onclick: () => rooms.decline() }, 'Decline'))));
      return;
    }
    if (rooms.notice) {
      root.replaceChildren(h('section', { id: 'room-ended', class: 'call-panel small', role: 'status' }, rooms.notice));
      return;
    }
    root.replaceChildren();
  }

  /** @param {import('../room.js').RoomCall} call */
  function roomScreen(call) {
    const conv = call.conv;
    const listening = new AbortController();
    const { signal } = listening;
    const grid = h('div', { id: 'room-grid', class: 'room-grid' });
    const names = h('ul', { id: 'room-names', class: 'room-names' });
    const stage = /** @type {HTMLVideoElement} */ (h('video', { id: 'room-screen-view', autoplay: true, playsinline: true, muted: true, hidden: true }));
    const people = h('ul', { id: 'room-people', class: 'room-people', hidden: true });
    const status = h('p', { id: 'room-status', class: 'muted' });
    const mute = h('button', { id: 'room-mute', 'aria-pressed': 'false', onclick: () => call.setMuted(!call.muted) }, 'Mute');
    const camera = h('button', { id: 'room-camera', 'aria-pressed': 'false', onclick: () => call.setCameraOff(!call.cameraOff) }, 'Camera off');
    const hand = h('button', { id: 'room-hand', 'aria-pressed': 'false', onclick: () => call.setHand(!call.hand) }, 'Raise hand');
    const share = h('button', { id: 'room-share', 'aria-pressed': 'false', onclick: () => {
      (call.screenTx ? call.stopScreen() : call.shareScreen()).catch((e) => call.fail(e));
    } }, 'Share screen');
    let speakerView = false;
    const view = h('button', { id: 'room-view', 'aria-pressed': 'false', onclick: () => { speakerView = !speakerView; update(); } }, 'Speaker view');
    const list = h('button', { id: 'room-people-toggle', onclick: () => { people.hidden = !people.hidden; } }, 'People');
    const leave = h('button', { id: 'room-leave', class: 'decline', onclick: () => rooms.leave() }, 'Leave');
    // In a meeting we host: lock it, end it, and take guests out of the meeting itself.
    /** @type {{id: number, access: string}|null} */
    let hosted = null;
    const lock = h('button', { id: 'meeting-lock', 'aria-pressed': 'false', hidden: true, onclick: () => {
      if (!hosted) return;
      const access = hosted.access === 'locked' ? 'lobby' : 'locked';
      api('PATCH', `/meetings/${hosted.id}`, { access }).then((m) => { hosted = m; update(); }).catch((e) => call.fail(e));
    } }, 'Lock meeting');
    const endMeeting = h('button', { id: 'meeting-end-all', class: 'decline', hidden: true, onclick: () => {
      if (hosted) api('POST', `/meetings/${hosted.id}/end`).catch((e) => call.fail(e));
    } }, 'End for everyone');
    if (chat.conversations.get(conv)?.kind === 'meeting') {
      api('GET', '/meetings').then((/** @type {{id: number, conv: number, access: string}[]} */ list) => {
        hosted = list.find((m) => m.conv === conv) || null;
        lock.hidden = endMeeting.hidden = !hosted;
        update();
      }).catch(() => {});
    }
    /** Whether a user is a meeting guest (their username says so). @param {number} user */
    const isGuest = (user) => !!chat.conversations.get(conv)?.members.find((m) => m.user === user)?.username.startsWith('guest~');
    // The conversation's chat beside the call.
    const log = h('ol', { id: 'room-chat-log', class: 'room-chat-log', 'aria-live': 'polite' });
    const input = /** @type {HTMLInputElement} */ (h('input', { id: 'room-chat-input', maxlength: 16384, placeholder: 'Message', 'aria-label': 'Message to the group' }));
    const form = /** @type {HTMLFormElement} */ (h('form', { class: 'room-chat-form' }, input, h('button', { type: 'submit', id: 'room-chat-send' }, 'Send')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!input.value.trim()) return;
      chat.send(conv, input.value);
      input.value = '';
    });
    const chatPanel = h('aside', { id: 'room-chat', class: 'room-chat', hidden: true, 'aria-label': 'Chat' }, log, form);
    const chatToggle = h('button', { id: 'room-chat-toggle', 'aria-pressed': 'false', onclick: () => {
      chatPanel.hidden = !chatPanel.hidden;
      chatToggle.setAttribute('aria-pressed', String(!chatPanel.hidden));
      if (!chatPanel.hidden) chat.open(conv).then(renderChat).catch(() => {});
    } }, 'Chat');
    /** The latest messages of the conversation, our unsent ones last. */
    function renderChat() {
      if (chatPanel.hidden) return;
      const hist = chat.histories.get(conv);
      const msgs = hist ? [...hist.messages.values()].filter((m) => m.kind === 'text' && !m.deleted).sort((x, y) => x.seq - y.seq).slice(-50) : [];
      const pending = chat.outbox.filter((o) => o.conv === conv);
      log.replaceChildren(...msgs.map((m) => h('li', { class: m.sender === me ? 'mine' : '' }, h('strong', {}, m.sender === me ? 'You' : nameIn(conv, m.sender ?? 0)), ' ', m.text)),
        ...pending.map((o) => h('li', { class: 'mine pending' }, h('strong', {}, 'You'), ' ', o.text)));
      log.scrollTop = log.scrollHeight;
    }
    chat.addEventListener('change', (e) => {
      const c = /** @type {CustomEvent} */ (e).detail?.conv;
      if (c === conv || c === null) renderChat();
    }, { signal });
    const self = tile(0, 'You', call.local, true);
    const title = h('h2', {}, convName(conv));
    const node = h('section', { id: 'room', class: 'room', 'aria-label': `Call in ${convName(conv)}` },
      h('div', { class: 'room-head' }, title, status),
      h('div', { class: 'room-body' }, h('div', { class: 'room-main' }, stage, grid, names, people), chatPanel),
      h('div', { class: 'call-buttons room-controls' }, mute, camera, share, hand, view, list, chatToggle, lock, endMeeting, leave));
    /** @type {Map<number, {node: HTMLElement, video: HTMLVideoElement, audio: HTMLAudioElement, label: HTMLElement, quality: HTMLElement}>} */
    const tiles = new Map();
    let lastPrefs = '';

    /**
     * @param {number} participant @param {string} name @param {MediaStream|null} stream @param {boolean} mine
     */
    function tile(participant, name, stream, mine) {
      const video = /** @type {HTMLVideoElement} */ (h('video', { autoplay: true, playsinline: true, muted: true }));
      if (stream) video.srcObject = stream;
      const audio = /** @type {HTMLAudioElement} */ (h('audio', { autoplay: true }));
      const label = h('span', { class: 'tile-name' }, name);
      const quality = h('span', { class: 'tile-quality', 'data-level': 'unknown', title: 'connection quality' });
      const node = h('div', { class: `tile${mine ? ' mine' : ''}`, 'data-participant': String(participant) }, video, label, quality, mine ? null : audio);
      return { node, video, audio, label, quality };
    }

    function update() {
      const members = [...call.members.values()];
      for (const [id, t] of tiles) {
        if (!call.members.has(id)) { t.node.remove(); tiles.delete(id); }
      }
      // Most recent speakers first; the rest keep the order they joined in.
      const ordered = members.slice().sort((a, b) => b.lastSpoke - a.lastSpoke);
      // The server says how many video tiles to show (ours among them); the others show as
      // names, and their video is not sent to us.
      const max = call.maxVideoTiles;
      const withVideo = new Set(ordered.slice(0, Math.max(0, max - 1)).map((p) => p.participant));
      grid.classList.toggle('speaker-view', speakerView);
      grid.dataset.count = String(Math.min(members.length + 1, max));
      for (const p of ordered) {
        let t = tiles.get(p.participant);
        if (!t) {
          t = tile(p.participant, nameIn(conv, p.user), p.camera, false);
          t.audio.srcObject = p.audio;
          tiles.set(p.participant, t);
        }
        t.node.hidden = !withVideo.has(p.participant);
        t.node.classList.toggle('speaking', call.speaker === p.participant);
        t.node.classList.toggle('camera-off', p.camera_off);
        t.label.textContent = `${nameIn(conv, p.user)}${p.muted ? ' · muted' : ''}${p.hand ? ' · hand raised' : ''}`;
        if (p.quality) {
          t.quality.setAttribute('data-level', p.quality.level);
          t.quality.title = `connection ${p.quality.level}: ${p.quality.lossPct.toFixed(1)}% loss, jitter ${Math.round(p.quality.jitterMs)} ms`;
        }
        grid.append(t.node);
        // Audio plays for everyone, shown or not (hidden tiles' audio moves to the name list).
        if (!t.node.hidden) t.node.append(t.audio);
      }
      // Our own camera (the self-view), once the devices are up.
      if (call.local && self.video.srcObject !== call.local) self.video.srcObject = call.local;
      self.node.classList.toggle('camera-off', call.cameraOff || !call.local?.getVideoTracks().length);
      grid.prepend(self.node);
      names.replaceChildren(...ordered.filter((p) => !withVideo.has(p.participant)).map((p) =>
        h('li', { 'data-participant': String(p.participant) }, nameIn(conv, p.user), tiles.get(p.participant)?.audio || null)));
      const sharer = members.find((p) => p.screen);
      stage.hidden = !sharer;
      if (sharer && stage.srcObject !== sharer.screen) stage.srcObject = sharer.screen;
      if (!sharer) stage.srcObject = null;
      // The starter of the call, a meeting's hosts and administrators mute and remove others.
      const moderator = isAdmin || call.starter === me || !!hosted;
      /** @param {number} who @param {'mute'|'remove'} action */
      const act = (who, action) => {
        const user = call.members.get(who)?.user;
        // A guest removed from a meeting is out of the meeting, not only of its call.
        if (action === 'remove' && hosted && user !== undefined && isGuest(user)) {
          api('DELETE', `/meetings/${hosted.id}/guests/${user}`).catch((e) => call.fail(e));
          return;
        }
        call.moderate(who, action).catch((e) => call.fail(e));
      };
      if (hosted) press(lock, hosted.access === 'locked', 'Unlock meeting', 'Lock meeting');
      people.replaceChildren(h('li', {}, 'You'), ...members.map((p) => h('li', { 'data-participant': String(p.participant) },
        nameIn(conv, p.user), p.hand ? ' (hand raised)' : '', p.muted ? ' (muted)' : '',
        moderator && !p.muted ? h('button', { class: 'link moderate-mute', onclick: () => act(p.participant, 'mute') }, 'Mute') : null,
        moderator ? h('button', { class: 'link moderate-remove', onclick: () => act(p.participant, 'remove') }, 'Remove') : null)));
      // The conversation list may load after the call screen opened.
      title.textContent = convName(conv);
      const rtt = Number.isFinite(call.rttMs) ? ` · ${Math.round(call.rttMs)} ms to the server` : '';
      status.textContent = `${members.length + 1} in the call${rtt}${call.problem ? ` — ${call.problem}` : ''}`;
      press(mute, call.muted, 'Unmute', 'Mute');
      press(camera, call.cameraOff, 'Camera on', 'Camera off');
      press(hand, call.hand, 'Lower hand', 'Raise hand');
      press(share, !!call.screenTx, 'Stop sharing', 'Share screen');
      press(view, speakerView, 'Grid view', 'Speaker view');
      sendPrefs(withVideo);
    }

    /** Tells the server which tiles show video and how large, when that changed. @param {Set<number>} withVideo */
    function sendPrefs(withVideo) {
      const prefs = [...call.members.keys()].map((id) => {
        const t = tiles.get(id);
        const height = Math.round(t?.video.clientHeight || 0);
        return { participant: id, visible: withVideo.has(id), height: height || 360 };
      });
      const key = JSON.stringify(prefs);
      if (key === lastPrefs) return;
      lastPrefs = key;
      call.setTiles(prefs);
    }

    // Tile sizes change with the window.
    window.addEventListener('resize', update, { signal });
    // The screen's listeners on longer-lived objects go with it.
    return { call, node, update, end: () => listening.abort() };
  }

  /** @param {HTMLElement} b @param {boolean} on @param {string} onText @param {string} offText */
  function press(b, on, onText, offText) {
    b.setAttribute('aria-pressed', String(on));
    b.textContent = on ? onText : offText;
  }

  rooms.addEventListener('change', render);
  render();
  return root;
}
