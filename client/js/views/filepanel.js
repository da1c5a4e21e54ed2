// @ts-check
/**
 * The person-to-person transfers of this tab, wherever the user is in the app (also over
 * the call screen): offers to accept or decline, progress both ways, the verified file to
 * save, and what went wrong.
 */
import { h, formatBytes } from '../dom.js';
import { transferItem, renderTransfers } from './transfers.js';

const STATUS = /** @type {Record<string, string>} */ ({
  offering: 'waiting for them to accept…', connecting: 'connecting…', queued: 'waiting for the files before it…',
  sending: 'sending…', receiving: 'receiving…', interrupted: 'connection broken — resuming when possible…',
  verifying: 'checking (SHA-256)…', done: 'done', failed: 'failed', cancelled: 'cancelled', declined: 'declined',
});

/**
 * @param {import('../filetransfer.js').FileTransfers} files
 * @param {(id: number) => string} nameOf display name of a user
 */
export function filePanel(files, nameOf) {
  const list = h('ul', { class: 'list transfers' });
  const root = h('section', { id: 'file-transfers', class: 'file-panel', 'aria-label': 'File transfers', 'aria-live': 'polite', hidden: true },
    h('h2', {}, 'Files'), list);

  /**
   * @param {import('../filetransfer.js').Transfer} t
   * @returns {import('./transfers.js').ListEntry}
   */
  function entry(t) {
    const final = ['done', 'failed', 'cancelled', 'declined'].includes(t.state);
    const who = t.dir === 'out' ? `to ${nameOf(t.peer)}` : `from ${nameOf(t.peer)}`;
    const status = t.state === 'done'
      ? (t.dir === 'in' ? `received from ${nameOf(t.peer)}, verified (SHA-256)` : `sent to ${nameOf(t.peer)}, verified by the receiver`)
      : t.state === 'declined' ? `${nameOf(t.peer)} declined` : `${STATUS[t.state] || t.state} (${who})`;
    /** @type {import('./transfers.js').TransferAction[]} */
    const actions = final
      ? [{ label: 'Dismiss', cls: 'dismiss', run: () => files.dismiss(t.id) }]
      : [{ label: 'Cancel', cls: 'cancel', run: () => files.cancel(t.id) }];
    const row = { id: String(t.id), name: t.name, size: t.size, done: t.done,
      rate: ['sending', 'receiving'].includes(t.state) ? t.rate : 0, status, error: t.error };
    return { row, actions, shape: `${t.state}|${t.error}|${!!t.url}`, build: () => build(t, row, actions) };
  }

  /**
   * @param {import('../filetransfer.js').Transfer} t
   * @param {import('./transfers.js').TransferRow} row
   * @param {import('./transfers.js').TransferAction[]} actions
   */
  function build(t, row, actions) {
    if (t.dir === 'in' && t.state === 'offered') {
      return h('li', { class: 'transfer offer', 'data-transfer-id': t.id, 'data-status': 'offered' },
        h('div', { class: 'transfer-head' },
          h('strong', {}, nameOf(t.peer)), ' wants to send you ',
          h('strong', { class: 'transfer-name' }, t.name), ' ',
          h('span', { class: 'muted' }, `${formatBytes(t.size)}${t.mime ? ` · ${t.mime}` : ''}`)),
        h('div', { class: 'call-buttons' },
          h('button', { class: 'accept accept-file', onclick: () => files.accept(t.id) }, 'Accept'),
          h('button', { class: 'decline decline-file', onclick: () => files.decline(t.id) }, 'Decline')));
    }
    const item = transferItem(row, actions);
    if (t.state === 'done' && t.url) {
      item.querySelector('.transfer-foot')?.prepend(h('a', { class: 'save-file', href: t.url, download: t.name }, 'Save'));
    }
    return item;
  }

  const render = () => {
    const all = files.list();
    renderTransfers(list, all.map(entry));
    root.hidden = all.length === 0;
  };
  files.addEventListener('change', render);
  render();
  return root;
}
