// @ts-check
import { api, ApiFailure } from '../api.js';
import { h, field, errorBox, busy, formatTime } from '../dom.js';

/**
 * Account creation from a one-time link: /setup#TOKEN (first admin) or /invite#TOKEN.
 * The token is in the URL fragment, which browsers never send to a server.
 * @param {(session: import('../api.js').SessionInfo) => void} onRegistered
 */
export async function registerView(onRegistered) {
  const token = decodeURIComponent(location.hash.slice(1));
  const err = errorBox();
  /** @type {{kind: string, is_admin: boolean, expires_at: number} | null} */
  let check = null;
  try {
    if (!token) throw new ApiFailure(410, { code: 'invite_invalid', message: 'This link is incomplete.' });
    check = await api('POST', '/invites/check', { token });
  } catch (e) {
    const msg = e instanceof ApiFailure && e.code === 'invite_invalid'
      ? 'This link is not valid: it has expired, was already used, or is incomplete. Ask an administrator for a new one.'
      : (e instanceof Error ? e.message : String(e));
    return h('div', { class: 'centered' },
      h('div', { class: 'card', id: 'invite-invalid' },
        h('h1', {}, 'Link not valid'),
        h('p', { class: 'error', role: 'alert' }, msg),
        h('a', { href: '/' }, 'Go to sign in')));
  }
  const setup = check?.kind === 'setup';
  const user = field('reg-username', 'Username', { autocomplete: 'username', required: true, autofocus: true, maxlength: 32 });
  const display = field('reg-display', 'Display name (optional)', { autocomplete: 'name', maxlength: 64 });
  const pass = field('reg-password', 'Password (at least 8 characters)', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const again = field('reg-password2', 'Repeat password', { type: 'password', autocomplete: 'new-password', required: true });
  const form = /** @type {HTMLFormElement} */ (
    h('form', { class: 'card', id: 'register-form' },
      h('h1', {}, setup ? 'Create the first administrator' : 'Create your account'),
      h('p', { class: 'muted' }, `This link works once and expires ${formatTime(check?.expires_at || 0)}.`,
        check?.is_admin ? ' The account will have administrator rights.' : ''),
      user.row, display.row, pass.row, again.row, err.box,
      h('button', { type: 'submit', class: 'primary' }, 'Create account'))
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.show(null);
    if (pass.input.value !== again.input.value) {
      err.show('The passwords do not match.');
      return;
    }
    busy(form, async () => {
      try {
        const session = await api('POST', '/register', {
          token,
          username: user.input.value,
          display_name: display.input.value || null,
          password: pass.input.value,
        });
        history.replaceState(null, '', '/');
        onRegistered(session);
      } catch (e) {
        err.show(e instanceof Error ? e.message : String(e));
      }
    });
  });
  return h('div', { class: 'centered' }, form);
}
