// @ts-check
/**
 * One row per file on its way: name, size, a progress bar with speed and time left, and
 * what can be done (cancel, retry). Used for uploads to the server and, with the same look,
 * for person-to-person transfers.
 *
 * Rows are kept while only their progress moves, and updated in place: a transfer reports
 * progress many times a second, and a row rebuilt each time would swallow clicks on its
 * buttons (pressed on one element, released on its replacement).
 */
import { h, formatBytes, formatDuration } from '../dom.js';

/**
 * @typedef {{id: string, name: string, size: number, done: number, rate: number,
 *   status: string, error: string|null}} TransferRow
 * @typedef {{label: string, cls: string, run: () => void}} TransferAction
 * @typedef {{row: TransferRow, actions: TransferAction[], shape: string, build?: () => HTMLElement}} ListEntry
 */

/** @param {TransferRow} t */
function detailOf(t) {
  if (t.error) return t.error;
  if (!(t.rate > 0)) return t.status;
  const pct = t.size ? Math.floor((100 * t.done) / t.size) : 0;
  return `${pct}% · ${formatBytes(t.rate)}/s · ${formatDuration((t.size - t.done) / t.rate)} left`;
}

/**
 * @param {TransferRow} t
 * @param {TransferAction[]} actions
 */
export function transferItem(t, actions) {
  const bar = /** @type {HTMLProgressElement} */ (h('progress', { max: Math.max(t.size, 1), 'aria-label': `Progress of ${t.name}` }));
  bar.value = t.size ? t.done : 0;
  return h('li', { class: `transfer${t.error ? ' failed' : ''}`, 'data-transfer-id': t.id, 'data-status': t.status },
    h('div', { class: 'transfer-head' },
      h('strong', { class: 'transfer-name' }, t.name), ' ',
      h('span', { class: 'muted' }, formatBytes(t.size))),
    bar,
    h('div', { class: 'transfer-foot' },
      h('span', { class: 'muted transfer-detail', role: t.error ? 'alert' : null }, detailOf(t)),
      ...actions.map((a) => h('button', { class: `link ${a.cls}`, onclick: a.run }, a.label))));
}

/** Moves a row's progress and detail line without rebuilding it. @param {HTMLElement} el @param {TransferRow} t */
function updateItem(el, t) {
  const bar = /** @type {HTMLProgressElement|null} */ (el.querySelector('progress'));
  if (bar) bar.value = t.size ? t.done : 0;
  const detail = el.querySelector('.transfer-detail');
  if (detail) detail.textContent = detailOf(t);
}

/**
 * Renders rows into `list`, reusing the element of a row whose `shape` (its state and what
 * it offers to do) did not change.
 * @param {HTMLElement} list
 * @param {ListEntry[]} entries
 */
export function renderTransfers(list, entries) {
  /** @type {Map<string, HTMLElement>} */
  const old = new Map();
  for (const el of /** @type {HTMLElement[]} */ ([...list.children])) old.set(el.dataset.transferId || '', el);
  const next = entries.map((e) => {
    const el = old.get(e.row.id);
    if (el && el.dataset.shape === e.shape) {
      updateItem(el, e.row);
      return el;
    }
    const fresh = e.build ? e.build() : transferItem(e.row, e.actions);
    fresh.dataset.shape = e.shape;
    return fresh;
  });
  const same = next.length === list.children.length && next.every((el, i) => list.children[i] === el);
  if (!same) list.replaceChildren(...next);
}
