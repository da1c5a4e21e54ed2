// @ts-check
import { api } from '../api.js';
import { h, field, errorBox, busy, formatTime } from '../dom.js';

/**
 * @typedef {{id: number, display_name: string, state: string, since: number}} GuestInfo
 * @typedef {{id: number, title: string, conv: number, link: string|null, code: string|null,
 *   access: 'members'|'lobby'|'locked', starts_at: number|null, ends_at: number, ended: boolean,
 *   by_code: boolean, role: string, hosts: string[], guests: GuestInfo[]}} MeetingInfo
 */

/** Who may come in, as hosts choose it. */
const ACCESS = /** @type {const} */ ([
  ['lobby', 'Guests wait in the lobby'],
  ['members', 'Members only'],
  ['locked', 'Locked: nobody new'],
]);

/** @param {string} value a `datetime-local` value @returns {number|undefined} */
function unixOf(value) {
  if (!value) return undefined;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? Math.floor(t / 1000) : undefined;
}

/**
 * The host's meetings: create one, copy its link and code, let guests in, lock, join, end.
 * Re-renders when a lobby changes (`meeting_lobby`).
 * @param {import('../signaling.js').Signaling} sig
 * @param {(conv: number) => Promise<void>} joinCall
 */
export async function meetingsView(sig, joinCall) {
  const list = h('div', { id: 'meeting-list' });
  const err = errorBox();
  const title = field('meeting-title', 'Title', { maxlength: 64, placeholder: 'Meeting' });
  const starts = field('meeting-starts', 'Starts (optional)', { type: 'datetime-local' });
  const ends = field('meeting-ends', 'Ends (optional)', { type: 'datetime-local' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'card', id: 'meeting-new' },
    h('h2', {}, 'New meeting'), title.row, starts.row, ends.row, err.box,
    h('button', { type: 'submit', class: 'primary', id: 'meeting-create' }, 'New meeting')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    err.show(null);
    busy(form, async () => {
      try {
        await api('POST', '/meetings', {
          title: title.input.value || undefined,
          starts_at: unixOf(starts.input.value),
          ends_at: unixOf(ends.input.value),
        });
        title.input.value = '';
        await refresh();
      } catch (e) {
        err.show(e instanceof Error ? e.message : String(e));
      }
    });
  });

  /** @param {() => Promise<any>} act */
  const run = (act) => act().then(refresh).catch((e) => err.show(e instanceof Error ? e.message : String(e)));

  /** @param {MeetingInfo} m */
  function card(m) {
    const url = `${location.origin}${m.link}`;
    const access = /** @type {HTMLSelectElement} */ (h('select', { class: 'meeting-access', 'aria-label': 'Who may come in' },
      ...ACCESS.map(([v, label]) => h('option', { value: v, selected: m.access === v }, label))));
    access.addEventListener('change', () => run(() => api('PATCH', `/meetings/${m.id}`, { access: access.value })));
    const waiting = m.guests.filter((g) => g.state === 'waiting');
    return h('article', { class: 'card meeting', 'data-meeting': m.id },
      h('h3', {}, m.title),
      h('p', { class: 'muted' }, m.starts_at ? `Starts ${formatTime(m.starts_at)} · ` : '', `Ends ${formatTime(m.ends_at)}`),
      h('p', {}, 'Link: ', h('a', { class: 'meeting-link', href: url }, url), ' ',
        h('button', { class: 'meeting-copy', onclick: () => navigator.clipboard?.writeText(url).catch(() => {}) }, 'Copy')),
      h('p', {}, 'Code: ', h('strong', { class: 'meeting-code' }, m.code || '')),
      access,
      h('h4', {}, waiting.length ? `Waiting in the lobby (${waiting.length})` : 'Nobody is waiting'),
      h('ul', { class: 'meeting-lobby' }, ...waiting.map((g) => h('li', { 'data-guest': g.id },
        h('span', {}, g.display_name, ' ', h('em', { class: 'guest-mark' }, 'guest')), ' ',
        h('button', { class: 'accept lobby-admit', onclick: () => run(() => api('POST', `/meetings/${m.id}/guests/${g.id}/admit`)) }, 'Admit'),
        h('button', { class: 'decline lobby-reject', onclick: () => run(() => api('POST', `/meetings/${m.id}/guests/${g.id}/reject`)) }, 'Reject')))),
      h('div', { class: 'call-buttons' },
        h('button', { class: 'accept meeting-join', onclick: () => joinCall(m.conv).catch((e) => err.show(String(e))) }, 'Join'),
        h('button', { class: 'decline meeting-end', onclick: () => run(() => api('POST', `/meetings/${m.id}/end`)) }, 'End for everyone')));
  }

  async function refresh() {
    /** @type {MeetingInfo[]} */
    const mine = await api('GET', '/meetings');
    list.replaceChildren(...(mine.length ? mine.map(card) : [h('p', { class: 'muted' }, 'No meetings yet.')]));
  }

  const view = h('div', { id: 'meetings' }, form, err.box, list);
  const onLobby = () => { if (view.isConnected) refresh().catch(() => {}); };
  sig.addEventListener('meeting_lobby', onLobby);
  await refresh();
  return view;
}

/**
 * Wherever the host is in the app: a guest arrived in the lobby of one of their meetings.
 * A short tone and a notice with Admit / Reject.
 * @param {import('../signaling.js').Signaling} sig
 */
export function lobbyNotices(sig) {
  const root = h('div', { id: 'lobby-notices', 'aria-live': 'assertive' });
  sig.addEventListener('meeting_lobby', (e) => {
    const m = /** @type {CustomEvent} */ (e).detail;
    // Someone left or was let in: drop notices for guests no longer waiting.
    const waiting = new Set(m.waiting.map((/** @type {GuestInfo} */ g) => g.id));
    root.querySelectorAll('[data-guest]').forEach((n) => { if (!waiting.has(Number(n.getAttribute('data-guest')))) n.remove(); });
    const g = m.waiting.find((/** @type {GuestInfo} */ x) => x.id === m.arrived);
    if (!g) return;
    chime();
    const note = h('div', { class: 'call-panel small lobby-notice', role: 'alert', 'data-guest': g.id },
      h('p', {}, `${g.display_name} (guest) is waiting to join ${m.title}`),
      h('div', { class: 'call-buttons' },
        h('button', { class: 'accept', onclick: () => { note.remove(); api('POST', `/meetings/${m.meeting}/guests/${g.id}/admit`).catch(() => {}); } }, 'Admit'),
        h('button', { class: 'decline', onclick: () => { note.remove(); api('POST', `/meetings/${m.meeting}/guests/${g.id}/reject`).catch(() => {}); } }, 'Reject')));
    root.append(note);
  });
  return root;
}

/** A short two-note tone (no audio file needed). */
function chime() {
  try {
    const ctx = new AudioContext();
    const gain = ctx.createGain();
    gain.gain.value = 0.08;
    gain.connect(ctx.destination);
    [660, 880].forEach((f, i) => {
      const o = ctx.createOscillator();
      o.frequency.value = f;
      o.connect(gain);
      o.start(ctx.currentTime + i * 0.18);
      o.stop(ctx.currentTime + i * 0.18 + 0.15);
    });
    setTimeout(() => ctx.close().catch(() => {}), 1000);
  } catch {
    // No audio output: the notice is enough.
  }
}
