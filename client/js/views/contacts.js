// @ts-check
import { api } from '../api.js';
import { h, errorBox, onDetach } from '../dom.js';
import { dot, LABELS } from '../presence.js';

/** @typedef {import('../api.js').UserInfo} UserInfo */
/** @typedef {{contacts: UserInfo[], incoming: UserInfo[], outgoing: UserInfo[], blocked: UserInfo[]}} ContactList */

/**
 * Contacts with live presence, contact requests, directory search and blocking.
 * The list reloads whenever the server says it changed; presence updates in place.
 * @param {import('../signaling.js').Signaling} sig
 * @param {import('../presence.js').PresenceBook} book
 * @param {import('../calls.js').CallManager} calls
 * @param {Map<number, string>} names  filled with contacts' display names, for the call screens
 * @param {(user: number) => Promise<void>} openChat  opens the conversation with a contact
 */
export function contactsView(sig, book, calls, names, openChat) {
  const err = errorBox();
  const incoming = h('ul', { class: 'list', id: 'incoming-requests' });
  const outgoing = h('ul', { class: 'list', id: 'outgoing-requests' });
  const contacts = h('ul', { class: 'list contacts', id: 'contact-list' });
  const blocked = h('ul', { class: 'list', id: 'blocked-list' });
  const results = h('ul', { class: 'list', id: 'search-results' });
  const incomingSection = h('section', { class: 'card wide', hidden: true }, h('h2', {}, 'Contact requests'), incoming);
  const outgoingSection = h('section', { class: 'card wide', hidden: true }, h('h3', {}, 'Waiting for an answer'), outgoing);
  const blockedSection = h('section', { class: 'card wide', hidden: true }, h('h3', {}, 'Blocked'), blocked);

  /** @param {() => Promise<unknown>} work */
  async function act(work) {
    err.show(null);
    try {
      await work();
      await reload();
    } catch (e) {
      err.show(e instanceof Error ? e.message : String(e));
    }
  }

  /** @param {UserInfo} u @param {...Node} actions */
  function row(u, ...actions) {
    return h('li', { 'data-user-id': u.id, 'data-username': u.username },
      h('div', { class: 'who' }, h('strong', {}, u.display_name), h('span', { class: 'muted' }, ` @${u.username}`)),
      h('div', { class: 'actions' }, ...actions));
  }

  /** @param {string} label @param {() => Promise<unknown>} work @param {string} [cls] */
  const button = (label, work, cls) => h('button', { class: cls, onclick: () => act(work) }, label);

  /** @param {UserInfo} u */
  function contactRow(u) {
    const status = book.of(u.id);
    return h('li', { 'data-user-id': u.id, 'data-username': u.username, class: 'contact' },
      dot(status),
      h('div', { class: 'who' }, h('strong', {}, u.display_name),
        h('span', { class: 'muted status-text' }, ` ${LABELS[status]}`)),
      h('div', { class: 'actions' },
        h('button', { class: 'chat-with', title: `Chat with ${u.display_name}`, onclick: () => act(() => openChat(u.id)) }, 'Chat'),
        h('button', { class: 'call call-audio', title: `Audio call with ${u.display_name}`, disabled: status === 'offline',
          onclick: () => calls.start(u.id, 'audio') }, 'Call'),
        h('button', { class: 'call call-video', title: `Video call with ${u.display_name}`, disabled: status === 'offline',
          onclick: () => calls.start(u.id, 'video') }, 'Video'),
        button('Remove', () => api('DELETE', `/contacts/${u.id}`)),
        button('Block', () => api('PUT', `/blocks/${u.id}`), 'danger')));
  }

  /** @type {ContactList} */
  let current = { contacts: [], incoming: [], outgoing: [], blocked: [] };

  function render() {
    contacts.replaceChildren(...(current.contacts.length
      ? current.contacts.map(contactRow)
      : [h('li', { class: 'muted empty' }, 'No contacts yet. Search the directory below to add people.')]));
    incoming.replaceChildren(...current.incoming.map((u) => row(u,
      button('Accept', () => api('POST', `/contacts/requests/${u.id}/accept`), 'primary'),
      button('Decline', () => api('POST', `/contacts/requests/${u.id}/decline`)))));
    outgoing.replaceChildren(...current.outgoing.map((u) => row(u,
      button('Withdraw', () => api('DELETE', `/contacts/requests/${u.id}`)))));
    blocked.replaceChildren(...current.blocked.map((u) => row(u, button('Unblock', () => api('DELETE', `/blocks/${u.id}`)))));
    incomingSection.hidden = current.incoming.length === 0;
    outgoingSection.hidden = current.outgoing.length === 0;
    blockedSection.hidden = current.blocked.length === 0;
  }

  async function reload() {
    current = await api('GET', '/contacts');
    for (const u of [...current.contacts, ...current.incoming, ...current.outgoing]) names.set(u.id, u.display_name);
    render();
  }

  const search = /** @type {HTMLInputElement} */ (h('input', {
    id: 'directory-search', type: 'search', placeholder: 'Name or username', autocomplete: 'off', 'aria-label': 'Search people',
  }));
  /** @type {number|undefined} */
  let searchTimer;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = search.value.trim();
      if (!q) { results.replaceChildren(); return; }
      try {
        /** @type {UserInfo[]} */
        const found = await api('GET', `/directory?q=${encodeURIComponent(q)}`);
        const known = new Set([...current.contacts, ...current.outgoing, ...current.incoming].map((u) => u.id));
        results.replaceChildren(...found.map((u) => row(u, known.has(u.id)
          ? h('span', { class: 'muted' }, 'in your list')
          : button('Add', async () => { await api('POST', '/contacts/requests', { user_id: u.id }); results.replaceChildren(); search.value = ''; }, 'primary'))));
      } catch (e) {
        err.show(e instanceof Error ? e.message : String(e));
      }
    }, 200);
  });

  // Live updates. The listeners are removed when the view leaves the page.
  const onPresence = () => render();
  const onContacts = () => { reload().catch(() => {}); };
  book.addEventListener('change', onPresence);
  sig.addEventListener('contacts_changed', onContacts);
  sig.addEventListener('resync', onContacts);
  const view = h('div', { id: 'contacts' },
    err.box,
    incomingSection,
    h('section', { class: 'card wide' }, h('h2', {}, 'Contacts'), contacts),
    outgoingSection,
    h('section', { class: 'card wide' }, h('h3', {}, 'Add people'), search, results),
    blockedSection);
  onDetach(view, () => {
    book.removeEventListener('change', onPresence);
    sig.removeEventListener('contacts_changed', onContacts);
    sig.removeEventListener('resync', onContacts);
  });
  reload().catch((e) => err.show(e instanceof Error ? e.message : String(e)));
  return view;
}
