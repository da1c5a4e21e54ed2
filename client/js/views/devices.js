// @ts-check
import { api } from '../api.js';
import { h, formatTime, errorBox } from '../dom.js';

/** The caller's logged-in devices, each with "Sign out". */
export async function devicesView() {
  const err = errorBox();
  const list = h('ul', { class: 'list', id: 'device-list' });
  const section = h('section', { class: 'card wide' }, h('h2', {}, 'My devices'), err.box, list);
  async function refresh() {
    /** @type {{id:number, user_agent:string, created_at:number, last_seen_at:number, current:boolean}[]} */
    const sessions = await api('GET', '/sessions');
    list.replaceChildren(...sessions.map((s) => h('li', { 'data-session-id': s.id },
      h('div', {},
        h('strong', {}, s.user_agent),
        s.current ? h('span', { class: 'badge' }, 'this device') : null,
        h('div', { class: 'muted' }, `signed in ${formatTime(s.created_at)} · last active ${formatTime(s.last_seen_at)}`)),
      s.current ? null : h('button', {
        class: 'danger',
        onclick: async () => {
          try {
            await api('DELETE', `/sessions/${s.id}`);
            await refresh();
          } catch (e) {
            err.show(e instanceof Error ? e.message : String(e));
          }
        },
      }, 'Sign out'))));
  }
  await refresh();
  return section;
}
