// @ts-check
import { api } from '../api.js';
import { h, errorBox } from '../dom.js';
import { devicesView } from './devices.js';
import { passwordView } from './password.js';
import { adminView } from './admin.js';
import { contactsView } from './contacts.js';
import { Signaling } from '../signaling.js';
import { PresenceBook } from '../presence.js';
import { CallManager } from '../calls.js';
import { callOverlay } from './callui.js';
import { historyView, missedBanner } from './history.js';
import { ChatStore } from '../chat.js';
import { chatView } from './chat.js';
import { Uploads } from '../uploads.js';
import { FileTransfers } from '../filetransfer.js';
import { filePanel } from './filepanel.js';
import { RoomManager } from '../rooms.js';
import { roomOverlay } from './roomui.js';
import { meetingsView, lobbyNotices } from './meetings.js';

/**
 * The logged-in app: header, navigation and the current page. Contacts, chat and calls
 * will live on the home page.
 * @param {import('../api.js').SessionInfo} session
 * @param {() => void} onLoggedOut
 * @param {number} [joinConv] a meeting's conversation to join the call of at once (opened by link)
 */
export function shellView(session, onLoggedOut, joinConv) {
  const { user } = session;
  const sig = new Signaling();
  const book = new PresenceBook(sig);
  const calls = new CallManager(sig);
  const chat = new ChatStore(sig, user.id);
  /** Display names of contacts, for the call screens. @type {Map<number, string>} */
  const names = new Map();
  const nameOf = (/** @type {number} */ id) => names.get(id) || `user ${id}`;
  const files = new FileTransfers(sig, calls.iceConfig);
  /**
   * Sends files to a contact: person to person while a device of theirs is online, else
   * (and for what could not be offered) as an attachment of our conversation.
   * @param {number} peer @param {File[]} list
   */
  const sendTo = async (peer, list) => {
    const unreachable = await files.offer(peer, list);
    if (unreachable.length) await uploads.add(await chat.direct(peer), unreachable);
  };
  /**
   * Moves the 1:1 call into the group call of `conv`: joins it, and hangs up the 1:1 call
   * once the group call carries the media (or could not), so nobody hears a gap.
   * @param {number} conv
   */
  const moveToRoom = async (conv) => {
    const video = calls.current?.media === 'video';
    await rooms.join(conv, video);
    const room = rooms.current;
    const done = () => {
      if (room && !room.ended && room.pc?.connectionState !== 'connected') return;
      room?.removeEventListener('change', done);
      calls.hangup().catch(() => {});
    };
    room?.addEventListener('change', done);
    done();
  };
  /**
   * A third person joins the 1:1 call: a group with the three of us, the other side is asked
   * to move to its call, and so are we; the new person is rung by the group call.
   * @param {number} contact
   */
  const addPerson = async (contact) => {
    const cur = calls.current;
    if (!cur) return;
    const title = [user.display_name, nameOf(cur.peer), nameOf(contact)].join(', ').slice(0, 64);
    const conv = await chat.createGroup(title, [cur.peer, contact]);
    calls.moveToRoom(conv);
    await moveToRoom(conv);
  };
  calls.addEventListener('move', (e) => {
    const conv = /** @type {CustomEvent} */ (e).detail;
    // Only into a conversation we are in (the list is loaded, or loads now).
    chat.loadList().catch(() => {}).finally(() => {
      if (chat.conversations.has(conv)) moveToRoom(conv).catch(() => {});
    });
  });
  const overlay = callOverlay(calls, nameOf, sendTo, addPerson);
  const panel = filePanel(files, nameOf);
  const rooms = new RoomManager(sig, calls.iceConfig, user.id);
  /** A member's name in a conversation; meeting guests are marked as such. */
  const memberName = (/** @type {number} */ conv, /** @type {number} */ u) => {
    const m = chat.conversations.get(conv)?.members.find((x) => x.user === u);
    if (m) return m.username.startsWith('guest~') ? `${m.display_name} (guest)` : m.display_name;
    return names.get(u) || `user ${u}`;
  };
  const convName = (/** @type {number} */ conv) => chat.conversations.get(conv)?.name || 'a conversation';
  const roomUi = roomOverlay(rooms, memberName, convName, user.id, user.is_admin, chat);
  const notices = lobbyNotices(sig);
  document.body.append(overlay, panel, roomUi, notices);
  /** Joins the call of a meeting (its conversation must be in the list first, for names). */
  const joinMeeting = async (/** @type {number} */ conv) => {
    await chat.loadList();
    await rooms.join(conv, true);
  };
  // For diagnostics (and the browser tests): the group calls.
  /** @type {any} */ (window).mywebrtcRooms = rooms;
  /** @type {any} */ (window).mywebrtcFiles = files;
  // For diagnostics (and the browser tests): the current call manager.
  /** @type {any} */ (window).mywebrtcCalls = calls;
  const uploads = new Uploads();
  /**
   * From a conversation: a direct one goes person to person when possible, a group's
   * always through the server.
   * @param {number} conv @param {File[]} list
   */
  const sendFiles = async (conv, list) => {
    const c = chat.conversations.get(conv);
    const other = c?.kind === 'direct' ? c.members.find((m) => m.user !== user.id) : undefined;
    if (other) await sendTo(other.user, list);
    else await uploads.add(conv, list);
  };
  /** @param {number} contact */
  const openChat = async (contact) => {
    chat.active = await chat.direct(contact);
    await show('/chat');
  };
  /** @type {Record<string, {label: string, render: () => Promise<Node>|Node}>} */
  const pages = {
    '/': { label: 'Contacts', render: () => contactsView(sig, book, calls, names, openChat) },
    '/chat': { label: 'Chat', render: () => chatView(chat, user.id, uploads, sendFiles, rooms) },
    '/calls': { label: 'Calls', render: historyView },
    '/meetings': { label: 'Meetings', render: () => meetingsView(sig, joinMeeting) },
    '/devices': { label: 'Devices', render: devicesView },
    '/password': { label: 'Password', render: () => passwordView(session.account_source === 'directory') },
  };
  if (user.is_admin) pages['/admin'] = { label: 'Admin', render: adminView };

  const content = h('div', { id: 'content' });
  const err = errorBox();
  const nav = h('nav', { 'aria-label': 'Main' });

  async function show(/** @type {string} */ path, push = true) {
    const page = pages[path] ? path : '/';
    if (push && location.pathname !== page) history.pushState(null, '', page);
    nav.querySelectorAll('a').forEach((a) => a.setAttribute('aria-current', a.getAttribute('href') === page ? 'page' : 'false'));
    err.show(null);
    try {
      content.replaceChildren(await pages[page].render());
    } catch (e) {
      err.show(e instanceof Error ? e.message : String(e));
    }
  }

  for (const [path, p] of Object.entries(pages)) {
    nav.append(h('a', { href: path, id: `nav-${path.slice(1) || 'home'}`, onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); show(path); } }, p.label));
  }
  // Unread messages: a badge on "Chat" and a count in the tab title, on every page.
  const unreadBadge = h('span', { class: 'badge', id: 'unread-total', hidden: true });
  nav.querySelector('#nav-chat')?.append(unreadBadge);
  chat.addEventListener('change', (e) => {
    // A full reload of the list also says which group calls run.
    if (/** @type {CustomEvent} */ (e).detail?.conv === null) rooms.seed(chat.conversations.values());
    const n = chat.totalUnread();
    unreadBadge.textContent = String(n);
    unreadBadge.hidden = n === 0;
    document.title = n ? `(${n}) mywebrtc` : 'mywebrtc';
  });
  window.onpopstate = () => show(location.pathname, false);

  const leave = () => {
    calls.hangup().catch(() => {});
    rooms.leave();
    calls.iceConfig.stop();
    overlay.remove();
    roomUi.remove();
    notices.remove();
    panel.remove();
    sig.stop();
    window.onpopstate = null;
    onLoggedOut();
  };
  const logout = h('button', {
    id: 'logout',
    onclick: async () => {
      try {
        sig.stop();
        await api('DELETE', '/session');
      } finally {
        leave();
      }
    },
  }, 'Sign out');
  sig.addEventListener('session_ended', leave);

  const mine = /** @type {HTMLSelectElement} */ (h('select', { id: 'my-status', 'aria-label': 'My status' },
    h('option', { value: 'online' }, 'Online'),
    h('option', { value: 'away' }, 'Away'),
    h('option', { value: 'dnd' }, 'Do not disturb')));
  mine.addEventListener('change', () => book.choose(/** @type {'online'|'away'|'dnd'} */ (mine.value)));
  const link = h('span', { id: 'connection', class: 'conn connecting', 'data-state': 'connecting' }, 'connecting…');
  sig.addEventListener('state', (e) => {
    const st = /** @type {CustomEvent} */ (e).detail;
    link.className = `conn ${st}`;
    link.setAttribute('data-state', st);
    link.textContent = st === 'open' ? '' : st === 'connecting' ? 'connecting…' : 'offline — reconnecting';
  });
  sig.start();

  const view = h('div', { class: 'shell' },
    h('header', {},
      h('span', { class: 'brand' }, 'mywebrtc'),
      nav,
      link,
      mine,
      h('span', { class: 'whoami', id: 'whoami' }, user.display_name),
      logout),
    err.box,
    content);
  show(location.pathname, false);
  if (joinConv !== undefined) joinMeeting(joinConv).catch(() => {});
  // Missed calls while away: shown once per fresh connection, and when a group call rang
  // out here.
  const refreshMissed = async () => {
    const banner = await missedBanner((p) => show(p));
    document.getElementById('missed-calls')?.remove();
    if (banner) view.insertBefore(banner, content);
  };
  sig.addEventListener('resync', refreshMissed);
  rooms.addEventListener('missed', refreshMissed);
  return view;
}
