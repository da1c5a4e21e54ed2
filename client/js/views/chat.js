// @ts-check
import { api } from '../api.js';
import { h, errorBox, onDetach, formatBytes } from '../dom.js';
import { renderTransfers } from './transfers.js';

/** @typedef {import('../chat.js').ChatMessage} ChatMessage */
/** @typedef {import('../chat.js').Conversation} Conversation */

const URL_RE = /https?:\/\/[^\s<>"'`]+/g;

/**
 * Message text as DOM: plain text nodes, with http(s) URLs as links. Nothing is ever parsed
 * as HTML, so markup in a message shows literally.
 * @param {string} text
 */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const start = match.index ?? 0;
    // Trailing punctuation belongs to the sentence, not the link.
    const raw = match[0].replace(/[.,;:!?)\]]+$/, '');
    let url = null;
    try {
      const u = new URL(raw);
      if (u.protocol === 'http:' || u.protocol === 'https:') url = u.href;
    } catch {
      url = null;
    }
    if (!url) continue;
    frag.append(text.slice(last, start));
    frag.append(h('a', { href: url, target: '_blank', rel: 'noopener noreferrer nofollow' }, raw));
    last = start + raw.length;
  }
  frag.append(text.slice(last));
  return frag;
}

/** @param {number} t unix seconds */
function clock(t) {
  const d = new Date(t * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleString();
}

/**
 * Conversations next to the open conversation: list with unread counts, history with paging
 * back, composer with typing notice, receipts, edit and delete, group management, and files
 * (attach button, drag and drop, paste) with their progress.
 * @param {import('../chat.js').ChatStore} chat
 * @param {number} me
 * @param {import('../uploads.js').Uploads} uploads the uploads to show in a conversation
 * @param {(conv: number, files: File[]) => Promise<void>} send how files leave a conversation
 * @param {import('../rooms.js').RoomManager} rooms the group calls
 */
export function chatView(chat, me, uploads, send, rooms) {
  const err = errorBox();
  const list = h('ul', { class: 'list conv-list', id: 'conversation-list' });
  const title = h('h2', { id: 'conv-title' });
  const membersLine = h('p', { class: 'muted', id: 'conv-members' });
  const tools = h('div', { class: 'conv-tools', id: 'conv-tools' });
  const older = h('button', { id: 'load-older', class: 'link', hidden: true, onclick: () => loadOlder() }, 'Load older messages');
  const log = h('ol', { id: 'messages', class: 'messages', role: 'log', 'aria-live': 'polite' });
  const scroller = h('div', { class: 'scroller' }, older, log);
  const typing = h('p', { id: 'typing', class: 'muted typing' });
  const input = /** @type {HTMLTextAreaElement} */ (h('textarea', {
    id: 'message-input', rows: 2, maxlength: 16384, placeholder: 'Write a message… (Enter sends, Shift+Enter: new line)', 'aria-label': 'Message',
  }));
  const fileInput = /** @type {HTMLInputElement} */ (h('input', { type: 'file', multiple: true, hidden: true, id: 'file-input', 'aria-label': 'Files to send' }));
  const attach = h('button', { type: 'button', id: 'attach-file', title: 'Send files (or drop them here, or paste)', onclick: () => fileInput.click() }, 'Attach');
  const composer = /** @type {HTMLFormElement} */ (h('form', { id: 'composer', class: 'composer' }, attach, fileInput, input,
    h('button', { type: 'submit', class: 'primary', id: 'send' }, 'Send')));
  const transfers = h('ul', { id: 'transfers', class: 'transfers list', 'aria-live': 'polite' });
  const pane = h('section', { class: 'conv-pane', id: 'conversation', hidden: true },
    h('div', { class: 'conv-head' },
      h('button', { class: 'back', 'aria-label': 'Back to conversations', onclick: () => select(null) }, '←'),
      h('div', {}, title, membersLine), tools),
    scroller, typing, transfers, composer);
  const empty = h('p', { class: 'muted conv-empty', id: 'no-conversation' }, 'Choose a conversation, or start one from a contact.');
  /** Message being edited: id and draft. @type {{id:number, text:string}|null} */
  let editing = null;

  const groupForm = h('div', { class: 'new-group', hidden: true });
  const notifyButton = h('button', {
    id: 'enable-notifications',
    hidden: typeof Notification === 'undefined' || Notification.permission !== 'default',
    onclick: async () => { await Notification.requestPermission(); notifyButton.hidden = true; },
  }, 'Notify me of new messages');
  const side = h('aside', { class: 'conv-side' },
    h('div', { class: 'conv-side-tools' },
      h('button', { id: 'new-group', onclick: () => toggleGroupForm() }, 'New group'), notifyButton),
    groupForm, list);
  const view = h('div', { id: 'chat', class: 'chat' }, err.box, h('div', { class: 'chat-grid' }, side, pane, empty));

  /** @param {() => Promise<unknown>} work */
  async function act(work) {
    err.show(null);
    try {
      await work();
    } catch (e) {
      err.show(e instanceof Error ? e.message : String(e));
    }
  }

  /** @param {Conversation} c */
  function nameOf(c) {
    if (c.kind === 'group') return c.name;
    const other = c.members.find((m) => m.user !== me);
    return other ? other.display_name : 'Conversation';
  }

  /** @param {Conversation} c @param {number|null} user */
  function who(c, user) {
    if (user === me) return 'You';
    return c.members.find((m) => m.user === user)?.display_name || 'Former member';
  }

  /** @param {Conversation} c @param {ChatMessage} m */
  function describe(c, m) {
    switch (m.kind) {
      case 'created': return `${who(c, m.sender)} created the group “${m.text}”`;
      case 'renamed': return `${who(c, m.sender)} renamed the group to “${m.text}”`;
      case 'added': return `${who(c, m.sender)} added ${m.text}`;
      case 'removed': return `${who(c, m.sender)} removed ${m.text}`;
      case 'left': return `${who(c, m.sender)} left`;
      case 'file': return m.deleted ? 'File deleted' : `File: ${m.text}`;
      default: return m.deleted ? 'Message deleted' : m.text;
    }
  }

  function renderList() {
    const convs = [...chat.conversations.values()].sort((a, b) =>
      (b.last_message?.created_at ?? b.created_at) - (a.last_message?.created_at ?? a.created_at) || b.id - a.id);
    list.replaceChildren(...(convs.length ? convs.map((c) => {
      const preview = c.last_message ? describe(c, c.last_message) : 'No messages yet';
      return h('li', { class: `conv${c.id === chat.active ? ' active' : ''}`, 'data-conv-id': c.id },
        h('button', { class: 'conv-open', onclick: () => select(c.id) },
          h('strong', { class: 'conv-name' }, nameOf(c)),
          h('span', { class: 'muted conv-preview' }, preview.slice(0, 80))),
        c.unread ? h('span', { class: 'badge unread', 'aria-label': `${c.unread} unread` }, String(c.unread)) : null);
    }) : [h('li', { class: 'muted empty' }, 'No conversations yet.')]));
  }

  /**
   * Image previews shown so far in this view, by attachment: the message list is rebuilt on
   * every change (a receipt, a typing notice), and a new <img> each time would start its
   * download again, flicker, and under load never finish. The same element moves along.
   * @type {Map<string, HTMLElement>}
   */
  const previews = new Map();

  /**
   * A posted file: a preview for images, the name as a download link, the size.
   * @param {import('../chat.js').Attachment} a
   */
  function fileBody(a) {
    const url = `/api/v1/attachments/${encodeURIComponent(a.id)}`;
    let preview = previews.get(a.id);
    if (a.preview && !preview) {
      preview = h('img', { class: 'preview', src: url, alt: a.name, loading: 'lazy' });
      previews.set(a.id, preview);
    }
    return h('div', { class: 'file' },
      a.preview ? h('a', { href: url, download: a.name, class: 'preview-link' }, preview) : null,
      h('a', { href: url, download: a.name, class: 'file-link' }, a.name),
      h('span', { class: 'muted file-size' }, ` · ${formatBytes(a.size)}`));
  }

  /** @param {Conversation} c @param {ChatMessage} m */
  function messageItem(c, m) {
    const post = m.kind === 'text' || m.kind === 'file';
    const mine = m.sender === me && post;
    if (!post) return h('li', { class: 'msg system', 'data-msg-id': m.id }, describe(c, m));
    const state = mine ? chat.stateOf(m) : null;
    const body = h('div', { class: 'text' });
    if (m.deleted) body.append(h('em', { class: 'muted' }, m.kind === 'file' ? 'File deleted' : 'Message deleted'));
    else if (m.attachment) body.append(fileBody(m.attachment));
    else if (editing && editing.id === m.id) body.append(editForm(c, m));
    else body.append(linkify(m.text));
    return h('li', { class: `msg${mine ? ' mine' : ''}${m.deleted ? ' deleted' : ''}`, 'data-msg-id': m.id, 'data-client-id': m.client_id, 'data-state': state },
      h('div', { class: 'meta' },
        h('strong', { class: 'sender' }, who(c, m.sender)), ' ',
        h('time', { class: 'muted' }, clock(m.created_at)),
        m.edited_at && !m.deleted ? h('span', { class: 'muted edited' }, ' (edited)') : null,
        state ? h('span', { class: `state ${state}`, title: state }, ` · ${state}`) : null),
      body,
      mine && !m.deleted && !(editing && editing.id === m.id) ? h('div', { class: 'msg-actions' },
        m.kind === 'text' ? h('button', { class: 'link edit', onclick: () => { editing = { id: m.id, text: m.text }; renderMessages(); } }, 'Edit') : null,
        h('button', { class: 'link delete', onclick: () => act(() => chat.remove(c.id, m.id)) }, 'Delete')) : null);
  }

  /** @param {Conversation} c @param {ChatMessage} m */
  function editForm(c, m) {
    const box = /** @type {HTMLTextAreaElement} */ (h('textarea', { class: 'edit-input', rows: 2, 'aria-label': 'Edit message' }));
    box.value = editing ? editing.text : m.text;
    box.addEventListener('input', () => { if (editing) editing.text = box.value; });
    const save = async () => {
      const text = box.value;
      await act(async () => { await chat.edit(c.id, m.id, text); editing = null; });
      renderMessages();
    };
    return h('div', { class: 'edit-form' }, box,
      h('button', { class: 'primary save-edit', onclick: save }, 'Save'),
      h('button', { onclick: () => { editing = null; renderMessages(); } }, 'Cancel'));
  }

  function renderMessages() {
    const conv = chat.active;
    const c = conv === null ? undefined : chat.conversations.get(conv);
    if (!c || conv === null) return;
    const nearBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    const items = chat.messagesOf(conv).map((m) => messageItem(c, m));
    for (const o of chat.pendingOf(conv)) {
      items.push(h('li', { class: 'msg mine pending', 'data-client-id': o.client_id, 'data-state': o.error ? 'failed' : 'sending' },
        h('div', { class: 'meta' }, h('strong', {}, 'You'), h('span', { class: 'state' }, o.error ? ` · not sent: ${o.error}` : ' · sending…')),
        h('div', { class: 'text' }, linkify(o.text)),
        o.error ? h('button', { class: 'link', onclick: () => chat.discard(o.client_id) }, 'Discard') : null));
    }
    log.replaceChildren(...items);
    showUploads();
    older.hidden = !chat.histories.get(conv)?.more;
    const typists = chat.typingIn(conv).map((u) => who(c, u));
    typing.textContent = typists.length ? `${typists.join(', ')} ${typists.length > 1 ? 'are' : 'is'} typing…` : '';
    if (nearBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function showUploads() {
    const conv = chat.active;
    const list = conv === null ? [] : uploads.of(conv);
    renderTransfers(transfers, list.map((u) => ({
      row: { id: u.id, name: u.name, size: u.size, done: u.sent, rate: u.state === 'sending' ? u.rate : 0,
        status: u.state === 'queued' ? 'waiting…' : u.state === 'sending' ? 'uploading…' : u.state, error: u.error },
      shape: `${u.state}|${u.error}`,
      actions: [
        ...(u.state === 'failed' ? [{ label: 'Retry', cls: 'retry', run: () => uploads.retry(u.id) }] : []),
        { label: u.state === 'failed' ? 'Dismiss' : 'Cancel', cls: 'cancel', run: () => uploads.cancel(u.id) },
      ],
    })));
    transfers.hidden = list.length === 0;
  }

  /** Sends files to the open conversation. @param {File[]} files */
  function sendFiles(files) {
    const conv = chat.active;
    if (conv === null || files.length === 0) return;
    act(() => send(conv, files));
  }

  /** The conversation whose toolbar shows a picker of people, if any. @type {number|null} */
  let picking = null;
  function renderHead() {
    const c = chat.active === null ? undefined : chat.conversations.get(chat.active);
    pane.hidden = !c;
    empty.hidden = !!c;
    view.classList.toggle('has-active', !!c);
    if (!c) return;
    title.textContent = nameOf(c);
    membersLine.textContent = c.kind === 'group'
      ? c.members.map((m) => (m.user === me ? 'you' : m.display_name) + (m.owner ? ' (owner)' : '')).join(', ')
      : `@${c.members.find((m) => m.user !== me)?.username ?? ''}`;
    // A picker the user has open stays open while messages and receipts come in.
    if (picking === c.id) return;
    tools.replaceChildren();
    if (c.kind !== 'group') return;
    // The group's call: start it, or join it while it runs.
    const inCall = rooms.running.get(c.id) || [];
    const here = rooms.current?.conv === c.id;
    tools.append(here
      ? h('span', { id: 'room-here', class: 'muted' }, 'You are in this call')
      : inCall.length
        ? h('button', { id: 'join-room', class: 'primary', onclick: () => rooms.join(c.id, true) }, `Join call (${inCall.length} in it)`)
        : h('button', { id: 'start-room', class: 'primary', onclick: () => rooms.join(c.id, true) }, 'Start call'));
    const iOwn = c.members.some((m) => m.user === me && m.owner);
    tools.append(
      h('button', { id: 'rename-group', onclick: () => {
        const name = prompt('New group name', c.name);
        if (name) act(() => chat.rename(c.id, name));
      } }, 'Rename'),
      h('button', { id: 'add-member', onclick: () => act(() => addMemberForm(c)) }, 'Add people'));
    // (append() would show a null as the text "null": only the owner gets this button.)
    if (iOwn) tools.append(h('button', { id: 'remove-member', onclick: () => act(() => removeMemberForm(c)) }, 'Remove people'));
    tools.append(h('button', { id: 'leave-group', class: 'danger', onclick: () => act(() => chat.removeMember(c.id, me)) }, 'Leave'));
  }

  const closePicker = () => { picking = null; renderHead(); };

  /** A picker of people, shown in the toolbar. @param {{id:number, display_name:string}[]} people @param {string} label @param {(id:number) => Promise<unknown>} pick */
  function picker(people, label, pick) {
    picking = chat.active;
    const sel = /** @type {HTMLSelectElement} */ (h('select', { id: 'member-picker', 'aria-label': label },
      ...people.map((p) => h('option', { value: p.id }, p.display_name))));
    tools.replaceChildren(sel,
      h('button', { class: 'primary', id: 'member-picker-ok', onclick: () => act(async () => { await pick(Number(sel.value)); closePicker(); }) }, label),
      h('button', { onclick: closePicker }, 'Cancel'));
  }

  /** @param {Conversation} c */
  async function addMemberForm(c) {
    const contacts = (await api('GET', '/contacts')).contacts.filter((/** @type {any} */ u) => !c.members.some((m) => m.user === u.id));
    if (!contacts.length) throw new Error('All your contacts are already in this group.');
    picker(contacts, 'Add', (id) => chat.addMember(c.id, id));
  }

  /** @param {Conversation} c */
  async function removeMemberForm(c) {
    const others = c.members.filter((m) => m.user !== me).map((m) => ({ id: m.user, display_name: m.display_name }));
    if (!others.length) throw new Error('Nobody else is in this group.');
    picker(others, 'Remove', (id) => chat.removeMember(c.id, id));
  }

  async function toggleGroupForm() {
    if (!groupForm.hidden) { groupForm.hidden = true; return; }
    await act(async () => {
      const { contacts } = await api('GET', '/contacts');
      const name = /** @type {HTMLInputElement} */ (h('input', { id: 'group-name', placeholder: 'Group name', maxlength: 64, 'aria-label': 'Group name' }));
      const boxes = contacts.map((/** @type {any} */ u) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', value: u.id, 'data-username': u.username }), ` ${u.display_name}`));
      groupForm.replaceChildren(name, h('div', { class: 'group-members' }, ...boxes),
        h('button', { class: 'primary', id: 'create-group', onclick: () => act(async () => {
          const members = [...groupForm.querySelectorAll('input[type=checkbox]:checked')].map((b) => Number(/** @type {HTMLInputElement} */ (b).value));
          const id = await chat.createGroup(name.value, members);
          groupForm.hidden = true;
          await select(id);
        }) }, 'Create'));
      groupForm.hidden = false;
      name.focus();
    });
  }

  async function loadOlder() {
    const conv = chat.active;
    if (conv === null) return;
    const before = scroller.scrollHeight;
    await act(() => chat.loadOlder(conv));
    // Keep the message the user was looking at in place.
    scroller.scrollTop += scroller.scrollHeight - before;
  }

  /** @param {number|null} conv */
  async function select(conv) {
    chat.active = conv;
    editing = null;
    picking = null;
    previews.clear();
    renderList();
    renderHead();
    if (conv === null) return;
    await act(async () => {
      await chat.open(conv);
      renderMessages();
      scroller.scrollTop = scroller.scrollHeight;
      chat.markRead();
    });
    input.focus();
  }

  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text.trim() || chat.active === null) return;
    chat.send(chat.active, text);
    input.value = '';
    scroller.scrollTop = scroller.scrollHeight;
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  input.addEventListener('input', () => { if (chat.active !== null && input.value) chat.typingNow(chat.active); });
  fileInput.addEventListener('change', () => {
    sendFiles([...(fileInput.files || [])]);
    fileInput.value = '';
  });
  // Files pasted into the message box (a screenshot, a copied file) are sent; text pastes as text.
  input.addEventListener('paste', (ev) => {
    const files = [...(ev.clipboardData?.files || [])];
    if (files.length === 0) return;
    ev.preventDefault();
    sendFiles(files);
  });
  pane.addEventListener('dragover', (ev) => {
    if (!ev.dataTransfer?.types.includes('Files')) return;
    ev.preventDefault();
    pane.classList.add('dropping');
  });
  pane.addEventListener('dragleave', (ev) => { if (ev.target === pane) pane.classList.remove('dropping'); });
  pane.addEventListener('drop', (ev) => {
    pane.classList.remove('dropping');
    const files = [...(ev.dataTransfer?.files || [])];
    if (files.length === 0) return;
    ev.preventDefault();
    sendFiles(files);
  });
  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < 40 && chat.active !== null && chat.histories.get(chat.active)?.more) loadOlder();
  });

  const onChange = (/** @type {Event} */ e) => {
    const { conv } = /** @type {CustomEvent} */ (e).detail;
    renderList();
    if (conv === null || conv === chat.active) {
      renderHead();
      renderMessages();
    }
  };
  chat.addEventListener('change', onChange);
  rooms.addEventListener('change', () => { if (view.isConnected) renderHead(); });
  uploads.addEventListener('change', showUploads);
  onDetach(view, () => {
    chat.removeEventListener('change', onChange);
    uploads.removeEventListener('change', showUploads);
    chat.active = null;
  });

  renderList();
  if (!chat.loaded) chat.loadList().catch((e) => err.show(e instanceof Error ? e.message : String(e)));
  if (chat.active !== null) select(chat.active);
  else renderHead();
  return view;
}
