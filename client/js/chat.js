// @ts-check
/**
 * Chat state and synchronisation, without UI. Holds the conversation list, the loaded part of
 * each conversation's history and an outbox of messages not yet acknowledged.
 *
 * Guarantees it keeps: a message stays in the outbox (also in localStorage, so a reload keeps
 * it) until the server's `chat_ack` says it is stored; it is retried with the same client id
 * after every reconnect, and the server deduplicates by that id. Events are merged by message
 * id, so a message seen twice (event and catch-up) shows once; each conversation remembers the
 * highest `rev` it has and, after a fresh connection, asks for everything changed since.
 */
import { api } from './api.js';

/** @typedef {{id:string, name:string, size:number, mime:string, sha256:string, preview:boolean}} Attachment */
/** @typedef {{id:number, conv:number, seq:number, rev:number, sender:number|null, client_id:string,
 *   kind:'text'|'file'|'created'|'renamed'|'added'|'removed'|'left', text:string, created_at:number,
 *   edited_at:number|null, deleted:boolean, attachment?: Attachment}} ChatMessage */
/** @typedef {{user:number, username:string, display_name:string, owner:boolean, delivered_seq:number, read_seq:number}} Member */
/** @typedef {{id:number, kind:'direct'|'group'|'meeting', name:string, created_at:number, last_seq:number,
 *   members: Member[], unread:number, last_message: ChatMessage|null, call?: number[]}} Conversation */
/** @typedef {{conv:number, client_id:string, text:string, created:number, error?:string}} Outgoing */
/** @typedef {{messages: Map<number, ChatMessage>, rev: number, oldestSeq: number, more: boolean,
 *   loading: Promise<void>|null}} History  loading: the first page's fetch, while it runs */

const PAGE = 50;

/** A member's own message (text or file), not a record of a membership change. @param {ChatMessage} m */
export function isPost(m) {
  return m.kind === 'text' || m.kind === 'file';
}
/** How long a typing notice shows without a new one. */
const TYPING_MS = 5000;

/** A client id: random, URL-safe, unique per message (or upload). */
export function newClientId() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export class ChatStore extends EventTarget {
  /**
   * @param {import('./signaling.js').Signaling} sig
   * @param {number} me  my user id
   */
  constructor(sig, me) {
    super();
    this.sig = sig;
    this.me = me;
    /** @type {Map<number, Conversation>} */
    this.conversations = new Map();
    /** @type {Map<number, History>} */
    this.histories = new Map();
    /** Who is typing where: conv → (user → until). @type {Map<number, Map<number, number>>} */
    this.typing = new Map();
    this.outboxKey = `mywebrtc.outbox.${me}`;
    /** @type {Outgoing[]} */
    this.outbox = this.loadOutbox();
    /** The conversation on screen, if any (its messages count as read while the tab is visible). */
    /** @type {number|null} */
    this.active = null;
    this.loaded = false;
    /** @type {Map<number, number>} conv → highest seq to report as delivered */
    this.deliveredDue = new Map();
    /** @type {number|undefined} */
    this.receiptTimer = undefined;
    this.lastTypingSent = 0;
    /** Counts changes (see {@link ChatStore#changed}): a list read meanwhile may predate one. */
    this.generation = 0;

    // Every welcome (fresh or resumed) catches up from the store, which also covers a
    // `resync`: chat never depends on the replay buffer.
    sig.addEventListener('welcome', () => this.onConnected());
    sig.addEventListener('chat_message', (e) => this.onMessage(/** @type {CustomEvent} */ (e).detail.message));
    sig.addEventListener('chat_receipt', (e) => this.onReceipt(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('chat_typing', (e) => this.onTyping(/** @type {CustomEvent} */ (e).detail));
    sig.addEventListener('chat_removed', (e) => this.forget(/** @type {CustomEvent} */ (e).detail.conv));
    document.addEventListener('visibilitychange', () => this.markRead());
    window.addEventListener('focus', () => this.markRead());
  }

  /** @returns {Outgoing[]} */
  loadOutbox() {
    try {
      const v = JSON.parse(localStorage.getItem(this.outboxKey) || '[]');
      return Array.isArray(v) ? v : [];
    } catch {
      return [];
    }
  }

  saveOutbox() {
    try {
      localStorage.setItem(this.outboxKey, JSON.stringify(this.outbox));
    } catch {
      // Storage full or disabled: the outbox still lives in memory for this tab.
    }
  }

  /** @param {number|null} conv */
  changed(conv = null) {
    this.generation += 1;
    this.dispatchEvent(new CustomEvent('change', { detail: { conv } }));
  }

  /** Unread messages over all conversations. */
  totalUnread() {
    let n = 0;
    for (const c of this.conversations.values()) n += c.unread;
    return n;
  }

  // --- loading

  async loadList() {
    /** @type {Conversation[]} */
    let list = [];
    // A list read while something changed here (a message merged, a conversation created)
    // may predate the change, and taking it would undo it: read again, a few times at most.
    for (let tries = 0; tries < 3; tries++) {
      const at = this.generation;
      list = await api('GET', '/conversations');
      if (this.generation === at) break;
    }
    this.conversations = new Map(list.map((c) => [c.id, c]));
    for (const id of [...this.histories.keys()]) if (!this.conversations.has(id)) this.histories.delete(id);
    // What arrived while this device was away has now reached it: say so.
    for (const c of list) {
      const mine = c.members.find((m) => m.user === this.me);
      const last = c.last_message;
      if (mine && last && last.sender !== this.me && last.seq > mine.delivered_seq) this.dueDelivered(c.id, last.seq);
    }
    this.loaded = true;
    this.changed();
  }

  /** After a fresh connection: reload the list, catch up loaded histories, resend the outbox. */
  async onConnected() {
    try {
      await this.loadList();
      for (const id of this.histories.keys()) await this.catchUp(id);
    } catch {
      // The next reconnect tries again.
    }
    this.flushOutbox();
    this.markRead();
  }

  /**
   * Loads the newest page of a conversation (once) and returns its history.
   * @param {number} conv
   */
  async open(conv) {
    const known = this.histories.get(conv);
    if (known) {
      await known.loading;
      return known;
    }
    // The history exists from now on, so what arrives while its page loads (my own message
    // acknowledged, another's pushed) is merged into it rather than lost: the page was read
    // before it, and nothing would bring it in again.
    /** @type {History} */
    const hist = { messages: new Map(), rev: 0, oldestSeq: Infinity, more: false, loading: null };
    this.histories.set(conv, hist);
    hist.loading = (async () => {
      try {
        const page = await api('GET', `/conversations/${conv}/messages?limit=${PAGE}`);
        hist.more = page.more;
        for (const m of page.messages) this.merge(m, false);
      } catch (e) {
        // Loaded again on the next open.
        if (this.histories.get(conv) === hist) this.histories.delete(conv);
        throw e;
      } finally {
        hist.loading = null;
      }
      this.changed(conv);
    })();
    await hist.loading;
    return hist;
  }

  /**
   * Loads the page before the oldest loaded message. Returns how many arrived.
   * @param {number} conv
   */
  async loadOlder(conv) {
    const hist = this.histories.get(conv);
    if (!hist || !hist.more) return 0;
    const before = Number.isFinite(hist.oldestSeq) ? `&before=${hist.oldestSeq}` : '';
    const page = await api('GET', `/conversations/${conv}/messages?limit=${PAGE}${before}`);
    hist.more = page.more;
    for (const m of page.messages) this.merge(m, false);
    this.changed(conv);
    return page.messages.length;
  }

  /**
   * Fetches everything changed since the highest rev we have.
   * @param {number} conv
   */
  async catchUp(conv) {
    const hist = this.histories.get(conv);
    if (!hist) return;
    // After the first page: from rev 0 it would fetch the whole conversation.
    await hist.loading?.catch(() => {});
    if (this.histories.get(conv) !== hist) return;
    for (let guard = 0; guard < 50; guard++) {
      const page = await api('GET', `/conversations/${conv}/messages?after=${hist.rev}&limit=200`);
      for (const m of page.messages) this.merge(m);
      if (!page.more) break;
    }
  }

  /**
   * Adds or updates a message in its history (if loaded) and the conversation summary.
   * @param {ChatMessage} m
   * @param {boolean} [notify]
   */
  merge(m, notify = true) {
    const hist = this.histories.get(m.conv);
    if (hist) {
      const old = hist.messages.get(m.id);
      if (!old || old.rev <= m.rev) hist.messages.set(m.id, m);
      hist.rev = Math.max(hist.rev, m.rev);
      hist.oldestSeq = Math.min(hist.oldestSeq, m.seq);
    }
    const c = this.conversations.get(m.conv);
    if (c) {
      c.last_seq = Math.max(c.last_seq, m.rev);
      if (!c.last_message || c.last_message.seq <= m.seq) c.last_message = m;
    }
    if (notify) this.changed(m.conv);
  }

  /** @param {number} conv */
  messagesOf(conv) {
    const hist = this.histories.get(conv);
    if (!hist) return [];
    return [...hist.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /** @param {number} conv */
  pendingOf(conv) {
    return this.outbox.filter((o) => o.conv === conv);
  }

  // --- events from the server

  /** @param {ChatMessage} m */
  onMessage(m) {
    const c = this.conversations.get(m.conv);
    if (!c || !isPost(m)) {
      // A conversation we do not know yet (added to a group), or a membership change.
      this.loadList().then(() => this.merge(m)).catch(() => {});
      if (!c) return;
    }
    const fresh = !this.histories.get(m.conv)?.messages.has(m.id) && m.rev === m.seq;
    this.merge(m);
    if (m.sender !== this.me && isPost(m) && fresh) {
      c.unread += 1;
      this.typing.get(m.conv)?.delete(/** @type {number} */ (m.sender));
      this.dueDelivered(m.conv, m.seq);
      this.notify(c, m);
    }
    this.markRead();
    this.changed(m.conv);
  }

  /** @param {{conv:number, user:number, delivered_seq:number, read_seq:number}} r */
  onReceipt(r) {
    const c = this.conversations.get(r.conv);
    const m = c?.members.find((x) => x.user === r.user);
    if (!c || !m) return;
    m.delivered_seq = Math.max(m.delivered_seq, r.delivered_seq);
    m.read_seq = Math.max(m.read_seq, r.read_seq);
    if (r.user === this.me) c.unread = this.countUnread(c);
    this.changed(r.conv);
  }

  /** @param {{conv:number, user:number}} t */
  onTyping(t) {
    if (!this.typing.has(t.conv)) this.typing.set(t.conv, new Map());
    this.typing.get(t.conv)?.set(t.user, Date.now() + TYPING_MS);
    this.changed(t.conv);
    setTimeout(() => this.changed(t.conv), TYPING_MS + 50);
  }

  /** @param {number} conv */
  typingIn(conv) {
    const now = Date.now();
    const users = [];
    for (const [u, until] of this.typing.get(conv) || []) if (until > now) users.push(u);
    return users;
  }

  /** @param {number} conv */
  forget(conv) {
    this.conversations.delete(conv);
    this.histories.delete(conv);
    if (this.active === conv) this.active = null;
    this.changed();
  }

  /**
   * Unread count from loaded history (the server's count is used until history is loaded).
   * @param {Conversation} c
   */
  countUnread(c) {
    const mine = c.members.find((x) => x.user === this.me);
    const hist = this.histories.get(c.id);
    if (!mine || !hist || hist.loading) return c.unread;
    let n = 0;
    for (const m of hist.messages.values()) {
      if (isPost(m) && !m.deleted && m.sender !== this.me && m.seq > mine.read_seq) n++;
    }
    return n;
  }

  // --- receipts

  /** @param {number} conv @param {number} seq */
  dueDelivered(conv, seq) {
    this.deliveredDue.set(conv, Math.max(this.deliveredDue.get(conv) || 0, seq));
    clearTimeout(this.receiptTimer);
    this.receiptTimer = setTimeout(() => {
      for (const [c, s] of this.deliveredDue) this.sig.send({ type: 'chat_receipt', conv: c, delivered: s });
      this.deliveredDue.clear();
    }, 150);
  }

  /** Marks the active conversation read up to its newest message, if the user can see it. */
  markRead() {
    const conv = this.active;
    if (conv === null || document.hidden) return;
    const c = this.conversations.get(conv);
    const mine = c?.members.find((x) => x.user === this.me);
    const newest = this.messagesOf(conv).filter((m) => m.sender !== this.me).pop();
    if (!c || !mine || !newest || newest.seq <= mine.read_seq) {
      if (c && c.unread) { c.unread = 0; this.changed(conv); }
      return;
    }
    mine.read_seq = newest.seq;
    mine.delivered_seq = Math.max(mine.delivered_seq, newest.seq);
    c.unread = 0;
    this.sig.send({ type: 'chat_receipt', conv, read: newest.seq });
    this.changed(conv);
  }

  /**
   * Where one of my messages stands, as WhatsApp-style ticks would say it.
   * @param {ChatMessage} m
   * @returns {'stored'|'delivered'|'read'}
   */
  stateOf(m) {
    const c = this.conversations.get(m.conv);
    const others = (c?.members || []).filter((x) => x.user !== this.me);
    if (others.length && others.every((x) => x.read_seq >= m.seq)) return 'read';
    if (others.length && others.every((x) => x.delivered_seq >= m.seq)) return 'delivered';
    return 'stored';
  }

  // --- notifications

  /** @param {Conversation} c @param {ChatMessage} m */
  notify(c, m) {
    if (!document.hidden || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const who = c.members.find((x) => x.user === m.sender)?.display_name || 'New message';
    const title = c.kind === 'group' ? `${who} in ${c.name}` : who;
    try {
      new Notification(title, { body: m.text.slice(0, 140), tag: `conv-${c.id}` });
    } catch {
      // Some browsers only allow notifications from a service worker.
    }
  }

  // --- writing

  /**
   * Queues a message and sends it; it stays queued until stored.
   * @param {number} conv
   * @param {string} text
   */
  send(conv, text) {
    const out = { conv, client_id: newClientId(), text, created: Date.now() };
    // The others stop showing "typing" when the message arrives; the next keystroke says so again.
    this.lastTypingSent = 0;
    this.outbox.push(out);
    this.saveOutbox();
    this.changed(conv);
    this.transmit(out);
  }

  flushOutbox() {
    for (const o of this.outbox) if (!o.error) this.transmit(o);
  }

  /** @param {Outgoing} o */
  async transmit(o) {
    if (this.sig.state !== 'open') return;
    try {
      const ack = await this.sig.request({ type: 'chat_send', conv: o.conv, client_id: o.client_id, text: o.text });
      this.outbox = this.outbox.filter((x) => x.client_id !== o.client_id);
      this.saveOutbox();
      this.merge(ack.message);
    } catch (e) {
      const code = /** @type {any} */ (e).code;
      if (code === 'rate_limited' || code === 'unavailable' || !code) {
        // Retried on reconnect, or shortly.
        if (code) setTimeout(() => this.transmit(o), 1500);
        return;
      }
      o.error = e instanceof Error ? e.message : String(e);
      this.saveOutbox();
      this.changed(o.conv);
    }
  }

  /** Drops a failed message from the outbox. @param {string} clientId */
  discard(clientId) {
    const o = this.outbox.find((x) => x.client_id === clientId);
    this.outbox = this.outbox.filter((x) => x.client_id !== clientId);
    this.saveOutbox();
    if (o) this.changed(o.conv);
  }

  /** @param {number} conv @param {number} message @param {string} text */
  async edit(conv, message, text) {
    const ack = await this.sig.request({ type: 'chat_edit', conv, message, text });
    this.merge(ack.message);
  }

  /** @param {number} conv @param {number} message */
  async remove(conv, message) {
    const ack = await this.sig.request({ type: 'chat_delete', conv, message });
    this.merge(ack.message);
  }

  /** Tells the others I am typing, at most every 3 s. @param {number} conv */
  typingNow(conv) {
    const now = Date.now();
    if (now - this.lastTypingSent < 3000) return;
    this.lastTypingSent = now;
    this.sig.send({ type: 'chat_typing', conv });
  }

  // --- conversations

  /** Opens (creating if needed) the direct conversation with a contact. @param {number} user */
  async direct(user) {
    /** @type {Conversation} */
    const c = await api('POST', '/conversations', { kind: 'direct', user });
    this.conversations.set(c.id, c);
    this.changed();
    return c.id;
  }

  /** @param {string} name @param {number[]} members */
  async createGroup(name, members) {
    /** @type {Conversation} */
    const c = await api('POST', '/conversations', { kind: 'group', name, members });
    this.conversations.set(c.id, c);
    this.changed();
    return c.id;
  }

  /** @param {number} conv @param {string} name */
  async rename(conv, name) {
    this.conversations.set(conv, await api('PATCH', `/conversations/${conv}`, { name }));
    this.changed(conv);
  }

  /** @param {number} conv @param {number} user */
  async addMember(conv, user) {
    this.conversations.set(conv, await api('POST', `/conversations/${conv}/members`, { user }));
    this.changed(conv);
  }

  /** Removes a member (owner), or leaves when `user` is me. @param {number} conv @param {number} user */
  async removeMember(conv, user) {
    await api('DELETE', `/conversations/${conv}/members/${user}`);
    if (user === this.me) this.forget(conv);
    else await this.loadList();
  }
}
