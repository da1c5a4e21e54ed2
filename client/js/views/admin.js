// @ts-check
import { api } from '../api.js';
import { h, field, errorBox, busy, formatTime } from '../dom.js';

/** @typedef {{id:number, username:string, display_name:string, is_admin:boolean, disabled:boolean, created_at:number, source:'local'|'directory'}} AdminUser */

/** Administration: accounts and invite links. */
export async function adminView() {
  const err = errorBox();
  const tbody = h('tbody', { id: 'user-rows' });

  async function act(/** @type {() => Promise<unknown>} */ work) {
    err.show(null);
    try {
      await work();
      await refreshUsers();
    } catch (e) {
      err.show(e instanceof Error ? e.message : String(e));
    }
  }

  async function refreshUsers() {
    /** @type {AdminUser[]} */
    const users = await api('GET', '/admin/users');
    tbody.replaceChildren(...users.map((u) => h('tr', { 'data-username': u.username },
      h('td', {}, u.username),
      h('td', {}, u.display_name),
      h('td', {}, u.is_admin ? 'admin' : 'member'),
      h('td', { class: 'source', title: u.source === 'directory' ? 'Signs in with the organisation\'s directory (LDAP); name and role follow it' : 'Created here, with its own password' },
        u.source === 'directory' ? 'directory' : 'local'),
      h('td', { class: 'state' }, u.disabled ? 'disabled' : 'active'),
      h('td', { class: 'actions' },
        h('button', { class: 'toggle', onclick: () => act(() => api('PATCH', `/admin/users/${u.id}`, { disabled: !u.disabled })) },
          u.disabled ? 'Enable' : 'Disable'),
        h('button', {
          class: 'danger',
          onclick: () => { if (confirm(`Delete ${u.username}? This cannot be undone.`)) act(() => api('DELETE', `/admin/users/${u.id}`)); },
        }, 'Delete')))));
  }

  const name = field('new-username', 'Username', { required: true, maxlength: 32, autocomplete: 'off' });
  const display = field('new-display', 'Display name', { maxlength: 64, autocomplete: 'off' });
  const pass = field('new-password', 'Initial password', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const adminBox = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'new-admin' }));
  const createForm = /** @type {HTMLFormElement} */ (
    h('form', { id: 'create-user-form', class: 'inline-form' },
      name.row, display.row, pass.row,
      h('div', { class: 'field check' }, adminBox, h('label', { for: 'new-admin' }, 'Administrator')),
      h('button', { type: 'submit', class: 'primary' }, 'Create user'))
  );
  createForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    busy(createForm, () => act(async () => {
      await api('POST', '/admin/users', {
        username: name.input.value,
        display_name: display.input.value || null,
        password: pass.input.value,
        is_admin: adminBox.checked,
      });
      createForm.reset();
    }));
  });

  const inviteOut = h('div', { id: 'invite-result' });
  const hours = field('invite-hours', 'Valid for (hours)', { type: 'number', min: 1, max: 720, value: 72 });
  const inviteForm = /** @type {HTMLFormElement} */ (
    h('form', { id: 'invite-form', class: 'inline-form' }, hours.row,
      h('button', { type: 'submit', class: 'primary' }, 'Create invite link'))
  );
  inviteForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.show(null);
    busy(inviteForm, async () => {
      try {
        /** @type {{url:string, expires_at:number}} */
        const inv = await api('POST', '/admin/invites', { expires_in_hours: Number(hours.input.value) });
        const out = /** @type {HTMLInputElement} */ (h('input', { id: 'invite-url', readonly: true, value: inv.url }));
        inviteOut.replaceChildren(
          h('p', {}, `One-time link, valid until ${formatTime(inv.expires_at)}. It is shown only now:`),
          out,
          h('button', { type: 'button', onclick: () => { out.select(); navigator.clipboard?.writeText(inv.url).catch(() => {}); } }, 'Copy'));
      } catch (e) {
        err.show(e instanceof Error ? e.message : String(e));
      }
    });
  });

  await refreshUsers();
  return h('div', { id: 'admin' },
    err.box,
    h('section', { class: 'card wide' }, h('h2', {}, 'Users'),
      h('div', { class: 'table-wrap' },
        h('table', {}, h('thead', {}, h('tr', {}, ...['Username', 'Name', 'Role', 'Source', 'State', ''].map((t) => h('th', {}, t)))), tbody)),
      h('h3', {}, 'Create user'), createForm),
    h('section', { class: 'card wide' }, h('h2', {}, 'Invite links'), inviteForm, inviteOut));
}
