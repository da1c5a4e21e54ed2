// @ts-check
import { api, ApiFailure } from '../api.js';
import { h, field, errorBox, busy } from '../dom.js';

/**
 * The login form.
 * @param {(session: import('../api.js').SessionInfo) => void} onLoggedIn
 */
export function loginView(onLoggedIn) {
  const user = field('login-username', 'Username', { autocomplete: 'username', required: true, autofocus: true });
  const pass = field('login-password', 'Password', { type: 'password', autocomplete: 'current-password', required: true });
  const err = errorBox();
  const form = /** @type {HTMLFormElement} */ (
    h('form', { class: 'card', id: 'login-form' },
      h('h1', {}, 'Sign in'),
      user.row, pass.row, err.box,
      h('button', { type: 'submit', class: 'primary' }, 'Sign in'))
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.show(null);
    busy(form, async () => {
      try {
        const session = await api('POST', '/session', { username: user.input.value, password: pass.input.value });
        onLoggedIn(session);
      } catch (e) {
        pass.input.value = '';
        if (e instanceof ApiFailure && e.code === 'invalid_credentials') err.show('Wrong username or password.');
        else err.show(e instanceof Error ? e.message : String(e));
      }
    });
  });
  return h('div', { class: 'centered' }, form);
}
