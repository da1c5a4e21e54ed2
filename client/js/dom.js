// @ts-check
/** Small DOM helpers. Text is always set as text, never parsed as HTML. */

/**
 * Creates an element. `attrs` keys starting with "on" add event listeners; `class`, `for`
 * and other keys become attributes. Children may be nodes, strings or null.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** @param {Node} view */
export function mount(view) {
  const app = document.getElementById('app');
  if (app) app.replaceChildren(view);
}

/** @param {number} unixSeconds */
export function formatTime(unixSeconds) {
  return new Date(unixSeconds * 1000).toLocaleString();
}

/**
 * A form field with its label; returns the wrapper and the input.
 * @param {string} id
 * @param {string} label
 * @param {Record<string, any>} attrs
 */
export function field(id, label, attrs) {
  const input = /** @type {HTMLInputElement} */ (h('input', { id, name: id, ...attrs }));
  return { row: h('div', { class: 'field' }, h('label', { for: id }, label), input), input };
}

/** An element that shows an error message (role=alert) or nothing. */
export function errorBox() {
  const box = h('p', { class: 'error', role: 'alert', hidden: true });
  return {
    box,
    /** @param {string|null} msg */
    show(msg) {
      box.textContent = msg || '';
      box.hidden = !msg;
    },
  };
}

/**
 * Disables a form's controls while `work` runs.
 * @param {HTMLFormElement} form
 * @param {() => Promise<void>} work
 */
export async function busy(form, work) {
  const controls = form.querySelectorAll('button, input');
  controls.forEach((c) => c.setAttribute('disabled', ''));
  try {
    await work();
  } finally {
    controls.forEach((c) => c.removeAttribute('disabled'));
  }
}

/**
 * Runs `cleanup` once `view`, after having been shown, leaves the document (a page changes):
 * views use it to drop their listeners on long-lived objects.
 * @param {Node} view
 * @param {() => void} cleanup
 */
export function onDetach(view, cleanup) {
  let shown = false;
  const observer = new MutationObserver(() => {
    if (view.isConnected) {
      shown = true;
    } else if (shown) {
      observer.disconnect();
      cleanup();
    }
  });
  observer.observe(document.body, { childList: true, subtree: true });
}

/** A size for people: "0 B", "512 KB", "1.4 GB". @param {number} bytes */
export function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** "1:05" or "1:02:05" for a number of seconds. @param {number} secs */
export function formatDuration(secs) {
  const s = Math.max(0, Math.round(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor(s / 60) % 60;
  const two = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}
