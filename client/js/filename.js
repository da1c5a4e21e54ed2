// @ts-check
/**
 * A file name from another device made safe to show and to save, by the same rules as the
 * server's (auth::names::sanitize_file_name): the last path component only, no control,
 * invisible or text-direction characters, no leading dots, none of the characters Windows
 * forbids, whitespace collapsed, at most 200 characters with the extension kept.
 */

const MAX = 200;
// Control characters, and those that are invisible or change the direction of the text.
const DECEPTIVE = /[\p{Cc}\u00AD\u034F\u061C\u115F\u1160\u3164\uFFA0\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB\u{E0000}-\u{E007F}]/gu;

/** @param {string} raw */
export function safeFileName(raw) {
  const last = String(raw).normalize('NFC').split(/[/\\]/).pop() || '';
  const cleaned = last.replace(DECEPTIVE, '').replace(/[<>:"|?*]/g, '_');
  const name = cleaned.split(/\s+/).filter(Boolean).join(' ').replace(/^[. ]+/, '').replace(/[. ]+$/, '');
  if (!name) return 'file';
  const chars = [...name];
  if (chars.length <= MAX) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot + 1) : '';
  if (ext && [...ext].length <= 16) {
    const stem = chars.slice(0, MAX - [...ext].length - 1).join('').replace(/[. ]+$/, '');
    return `${stem}.${ext}`;
  }
  return chars.slice(0, MAX).join('').replace(/[. ]+$/, '');
}
