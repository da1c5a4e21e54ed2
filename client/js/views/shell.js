// @ts-check
import { api } from '../api.js';
import { h, errorBox } from '../dom.js';
import { devicesView } from './devices.js';
import { passwordView } from './password.js';
import { adminView } from './admin.js';

/**
 * The logged-in app: header, navigation and the current page. Contacts, chat and calls
 * will live on the home page.
 * @param {import('../api.js').SessionInfo} session
 * @param {() => void} onLoggedOut
 */
export function shellView(session, onLoggedOut) {
  const { user } = session;
  /** @type {Record<string, {label: string, render: () => Promise<Node>|Node}>} */
  const pages = {
    '/': { label: 'Home', render: () => homeView(user) },
    '/devices': { label: 'Devices', render: devicesView },
    '/password': { label: 'Password', render: passwordView },
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
    nav.append(h('a', { href: path, onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); show(path); } }, p.label));
  }
  window.onpopstate = () => show(location.pathname, false);

  const logout = h('button', {
    id: 'logout',
    onclick: async () => {
      try {
        await api('DELETE', '/session');
      } finally {
        onLoggedOut();
      }
    },
  }, 'Sign out');

  const view = h('div', { class: 'shell' },
    h('header', {},
      h('span', { class: 'brand' }, 'mywebrtc'),
      nav,
      h('span', { class: 'whoami', id: 'whoami' }, user.display_name),
      logout),
    err.box,
    content);
  show(location.pathname, false);
  return view;
}

/** @param {import('../api.js').UserInfo} user */
function homeView(user) {
  return h('section', { class: 'card wide', id: 'home' },
    h('h2', {}, `Welcome, ${user.display_name}`),
    h('p', { class: 'muted' }, 'Your contacts, conversations and calls will appear here.'));
}
