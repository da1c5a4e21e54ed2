// A real firewall rule for one test: nftables, in a table of its own that the test removes.
// Needs root (CI runs as root); fails loudly otherwise rather than testing nothing.
import { spawnSync } from 'node:child_process';

let tables = 0;

/** @param {string[]} args */
function nft(args) {
  const r = spawnSync('nft', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft ${args.join(' ')} failed (root and nftables needed): ${r.stderr || r.error}`);
}

/**
 * Drops every UDP packet sent to `port` on this machine (loopback included), as a network that
 * lets no UDP through to a server would. Returns the function that lifts the rule.
 * @param {number} port
 * @returns {() => void}
 */
export function blockUdpTo(port) {
  tables += 1;
  const table = `mywebrtc_e2e_${process.pid}_${tables}`;
  nft(['add', 'table', 'inet', table]);
  try {
    nft(['add', 'chain', 'inet', table, 'out', '{ type filter hook output priority 0; policy accept; }']);
    nft(['add', 'rule', 'inet', table, 'out', 'udp', 'dport', String(port), 'drop']);
  } catch (e) {
    nft(['delete', 'table', 'inet', table]);
    throw e;
  }
  return () => nft(['delete', 'table', 'inet', table]);
}
