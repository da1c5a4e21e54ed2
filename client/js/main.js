// @ts-check
/** Entry point: decides between sign-in, registration link and the app. */
import { api, ApiFailure, setCsrfToken } from './api.js';
import { h, mount } from './dom.js';
import { loginView } from './views/login.js';
import { registerView } from './views/register.js';
import { shellView } from './views/shell.js';

/** @param {import('./api.js').SessionInfo} session */
function enterApp(session) {
  setCsrfToken(session.csrf_token);
  if (location.pathname === '/setup' || location.pathname === '/invite') history.replaceState(null, '', '/');
  mount(shellView(session, showLogin));
}

function showLogin() {
  setCsrfToken(null);
  if (location.pathname !== '/') history.replaceState(null, '', '/');
  mount(loginView(enterApp));
}

async function start() {
  if (location.pathname === '/setup' || location.pathname === '/invite') {
    mount(await registerView(enterApp));
    return;
  }
  try {
    enterApp(await api('GET', '/session'));
  } catch (e) {
    if (e instanceof ApiFailure && e.status === 401) showLogin();
    else mount(h('p', { class: 'error', role: 'alert' }, e instanceof Error ? e.message : String(e)));
  }
}

start();
