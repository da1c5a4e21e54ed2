// @ts-check
import { api } from '../api.js';
import { h, formatTime } from '../dom.js';
import { END_TEXT } from '../calls.js';

/** Call history; opening it marks missed calls as seen. */
export async function historyView() {
  /** @type {any[]} */
  const calls = await api('GET', '/calls');
  await api('POST', '/calls/missed/seen').catch(() => {});
  const fmt = (/** @type {number} */ s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return h('section', { class: 'card wide', id: 'call-history' },
    h('h2', {}, 'Calls'),
    calls.length === 0 ? h('p', { class: 'muted' }, 'No calls yet.') : h('ul', { class: 'list' }, ...calls.map((c) => h('li', {
      class: c.missed ? 'missed' : '', 'data-direction': c.direction, 'data-reason': c.reason,
    },
    h('div', { class: 'who' },
      h('strong', {}, c.conv ? (c.conv_name || 'A group') : c.other ? c.other.display_name : 'deleted user'),
      h('div', { class: 'muted' }, `${kind(c)} · ${formatTime(c.started_at)}`)),
    h('span', { class: 'muted' }, outcome(c))))));

  /** "Missed video call", "Declined group call from Ann", ... @param {any} c */
  function kind(c) {
    if (c.conv) return `${c.missed ? 'Missed' : 'Declined'} group call from ${c.other ? c.other.display_name : 'a deleted user'}`;
    return `${c.direction === 'placed' ? 'Outgoing' : c.missed ? 'Missed' : 'Incoming'} ${c.media} call`;
  }

  /** The talk time of an answered call, or why it did not happen or ended badly. @param {any} c */
  function outcome(c) {
    if (c.conv) return c.missed ? 'Not answered' : 'Declined';
    const why = END_TEXT[c.reason] || c.reason;
    if (!c.answered || c.reason === 'connect_failed') return why;
    return c.reason === 'media_lost' ? `${fmt(c.talk_secs)} · ${why}` : fmt(c.talk_secs);
  }
}

/**
 * A banner saying how many calls were missed while away; links to the history.
 * @param {(path: string) => void} go
 */
export async function missedBanner(go) {
  /** @type {any[]} */
  const calls = await api('GET', '/calls?limit=100').catch(() => []);
  const missed = calls.filter((c) => c.missed && !c.seen);
  if (missed.length === 0) return null;
  const who = (/** @type {any} */ c) => {
    const name = c.other?.display_name || 'someone';
    return c.conv_name ? `${name} (${c.conv_name})` : name;
  };
  const names = [...new Set(missed.map(who))].join(', ');
  const banner = h('div', { id: 'missed-calls', class: 'banner', role: 'status' },
    `You missed ${missed.length} call${missed.length > 1 ? 's' : ''} from ${names}. `,
    h('a', { href: '/calls', onclick: (/** @type {Event} */ ev) => { ev.preventDefault(); banner.remove(); go('/calls'); } }, 'Show calls'));
  return banner;
}
