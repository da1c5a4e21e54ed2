// @ts-check
/** Entry point: decides between sign-in, registration link and the app. */
import { api, ApiFailure, setCsrfToken } from './api.js';
import { h, mount } from './dom.js';
import { loginView } from './views/login.js';
import { registerView } from './views/register.js';
import { shellView } from './views/shell.js';
import { guestPreview, resumeGuest, startCards, GUEST_LINK } from './views/guest.js';

/**
 * @param {import('./api.js').SessionInfo} session
 * @param {number} [joinConv] a meeting's conversation whose call to join at once
 */
function enterApp(session, joinConv) {
  setCsrfToken(session.csrf_token);
  if (['/setup', '/invite'].includes(location.pathname) || location.pathname.startsWith('/m/')) {
    history.replaceState(null, '', joinConv === undefined ? '/' : '/meetings');
  }
  mount(shellView(session, showLogin, joinConv));
}

/** The start page: sign in, or join a meeting as a guest, or meet someone by a code. */
function showLogin() {
  setCsrfToken(null);
  if (location.pathname !== '/') history.replaceState(null, '', '/');
  mount(h('div', { class: 'start-page' }, loginView(enterApp),
    h('div', { class: 'centered start-guest' }, ...startCards((t) => mount(guestPreview(t, showLogin))))));
}

/** `/m/<token>`: a member comes into the meeting at once; anyone else as a guest. */
async function openMeetingLink(/** @type {string} */ token) {
  /** @type {import('./api.js').SessionInfo|null} */
  let session = null;
  try {
    session = await api('GET', '/session');
  } catch {
    session = null;
  }
  if (session?.account_source === 'guest' && sessionStorage.getItem(GUEST_LINK) === token) {
    // A guest's page reloaded on the link: back into that meeting if the session still has it.
    setCsrfToken(session.csrf_token);
    if (await resumeGuest(session, showLogin)) return;
  }
  if (!session || session.account_source === 'guest') {
    mount(guestPreview({ link: token }, showLogin));
    return;
  }
  setCsrfToken(session.csrf_token);
  try {
    const joined = await api('POST', '/meet/join', { link: token });
    enterApp(session, joined.meeting.conv);
  } catch {
    // Locked, over or unknown: the app opens on the meetings page without a call.
    enterApp(session, undefined);
  }
}

async function start() {
  if (location.pathname === '/setup' || location.pathname === '/invite') {
    mount(await registerView(enterApp));
    return;
  }
  const link = location.pathname.match(/^\/m\/([A-Za-z0-9_-]{1,64})$/);
  if (link) {
    await openMeetingLink(link[1]);
    return;
  }
  try {
    const session = await api('GET', '/session');
    // A guest's page came back (a reload): back into their meeting, or start afresh.
    if (session.account_source === 'guest') {
      setCsrfToken(session.csrf_token);
      if (await resumeGuest(session, showLogin)) return;
      await api('DELETE', '/session').catch(() => {});
      showLogin();
      return;
    }
    enterApp(session);
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 401) showLogin();
    else mount(h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e)));
  }
}

start();
