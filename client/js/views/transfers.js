// @ts-check
/**
 * One row per file on its way: name, size, a progress bar with speed and time left, and
 * what can be done (cancel, retry). Used for uploads to the server and, with the same look,
 * for person-to-person transfers.
 */
import { h, formatBytes, formatDuration } from '../dom.js';

/**
 * @typedef {{id: string, name: string, size: number, done: number, rate: number,
 *   status: string, error: string|null}} TransferRow
 * @typedef {{label: string, cls: string, run: () => void}} TransferAction
 */

/**
 * @param {TransferRow} t
 * @param {TransferAction[]} actions
 */
export function transferItem(t, actions) {
  const bar = /** @type {HTMLProgressElement} */ (h('progress', { max: Math.max(t.size, 1), 'aria-label': `Progress of ${t.name}` }));
  bar.value = t.size ? t.done : 0;
  const pct = t.size ? Math.floor((100 * t.done) / t.size) : 0;
  const left = t.rate > 0 ? formatDuration((t.size - t.done) / t.rate) : '–';
  const detail = t.error
    ? t.error
    : t.rate > 0 ? `${pct}% · ${formatBytes(t.rate)}/s · ${left} left` : t.status;
  return h('li', { class: `transfer${t.error ? ' failed' : ''}`, 'data-transfer-id': t.id, 'data-status': t.status },
    h('div', { class: 'transfer-head' },
      h('strong', { class: 'transfer-name' }, t.name), ' ',
      h('span', { class: 'muted' }, formatBytes(t.size))),
    bar,
    h('div', { class: 'transfer-foot' },
      h('span', { class: 'muted transfer-detail', role: t.error ? 'alert' : null }, detail),
      ...actions.map((a) => h('button', { class: `link ${a.cls}`, onclick: a.run }, a.label))));
}
