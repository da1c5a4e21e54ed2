// @ts-check
import { api, ApiFailure } from '../api.js';
import { h, field, errorBox, busy } from '../dom.js';

/**
 * Change password; other devices are signed out by the server. A directory account's
 * password belongs to the organisation's directory, so it gets an explanation instead.
 * @param {boolean} [managedByDirectory]
 */
export function passwordView(managedByDirectory = false) {
  if (managedByDirectory) {
    return h('section', { class: 'card', id: 'password-form' },
      h('h2', {}, 'Password'),
      h('p', { id: 'password-managed' },
        'You sign in with your organisation\'s account. Its password is managed by your organisation\'s directory: change it there (or ask your IT department).'));
  }
  const cur = field('pw-current', 'Current password', { type: 'password', autocomplete: 'current-password', required: true });
  const next = field('pw-new', 'New password (at least 8 characters)', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8 });
  const again = field('pw-new2', 'Repeat new password', { type: 'password', autocomplete: 'new-password', required: true });
  const err = errorBox();
  const ok = h('p', { class: 'ok', role: 'status', hidden: true }, 'Password changed. Your other devices have been signed out.');
  const form = /** @type {HTMLFormElement} */ (
    h('form', { class: 'card', id: 'password-form' },
      h('h2', {}, 'Change password'), cur.row, next.row, again.row, err.box, ok,
      h('button', { type: 'submit', class: 'primary' }, 'Change password'))
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.show(null);
    ok.hidden = true;
    if (next.input.value !== again.input.value) {
      err.show('The new passwords do not match.');
      return;
    }
    busy(form, async () => {
      try {
        await api('POST', '/me/password', { current_password: cur.input.value, new_password: next.input.value });
        form.reset();
        ok.hidden = false;
      } catch (e) {
        if (e instanceof ApiFailure && e.code === 'wrong_password') err.show('The current password is wrong.');
        else if (e instanceof ApiFailure && e.code === 'managed_by_directory') err.show(e.message);
        else err.show(e instanceof Error ? e.message : String(e));
      }
    });
  });
  return form;
}
