//! A network namespace of the test's own, joined to this one by a veth pair on a private
//! /30, for a process that must be cut off from the rest and joined again (a partition).
//! The namespace (and the veth pair with it) is deleted on drop. Needs root and the `ip` and
//! `nft` commands; fails loudly otherwise rather than testing nothing.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context, Result};

pub struct Netns {
    pub name: String,
    /// This side's address on the pair (services the namespace reaches listen here).
    pub host_ip: String,
    /// The namespace's address.
    pub ns_ip: String,
}

fn run(args: &[&str]) -> Result<()> {
    let out = Command::new(args[0]).args(&args[1..]).output().with_context(|| format!("running {}", args[0]))?;
    if !out.status.success() {
        bail!(
            "{} failed (root, iproute2 and nftables needed): {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Netns {
    pub fn create() -> Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = std::process::id() % 4000 * 16 + NEXT.fetch_add(1, Ordering::Relaxed) % 16;
        let name = format!("mwt{n}");
        // 10.231.0.0/16 in /30s: one per namespace of this process.
        let (a, b) = ((n * 4 / 256) % 256, (n * 4) % 256);
        let (host_ip, ns_ip) = (format!("10.231.{a}.{}", b + 1), format!("10.231.{a}.{}", b + 2));
        let (veth_host, veth_ns) = (format!("{name}h"), format!("{name}n"));
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run(&["ip", "netns", "add", &name])?;
        let ns = Self { name: name.clone(), host_ip: host_ip.clone(), ns_ip: ns_ip.clone() };
        run(&["ip", "link", "add", &veth_host, "type", "veth", "peer", "name", &veth_ns])?;
        run(&["ip", "link", "set", &veth_ns, "netns", &name])?;
        run(&["ip", "addr", "add", &format!("{host_ip}/30"), "dev", &veth_host])?;
        run(&["ip", "link", "set", &veth_host, "up"])?;
        run(&["ip", "netns", "exec", &name, "ip", "addr", "add", &format!("{ns_ip}/30"), "dev", &veth_ns])?;
        run(&["ip", "netns", "exec", &name, "ip", "link", "set", &veth_ns, "up"])?;
        run(&["ip", "netns", "exec", &name, "ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The command prefix that runs a program in the namespace.
    pub fn exec(&self) -> String {
        format!("ip netns exec {}", self.name)
    }

    /// Drops all traffic between the namespace and these ports on this side (both ways),
    /// as a broken link would: connections hang, new ones time out.
    pub fn cut(&self, host_ports: &[u16]) -> Result<()> {
        let ports = host_ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        let rules = format!(
            "table inet partition {{\n chain out {{ type filter hook output priority 0; policy accept;\n  ip daddr {h} tcp dport {{ {ports} }} drop\n }}\n chain in {{ type filter hook input priority 0; policy accept;\n  ip saddr {h} tcp sport {{ {ports} }} drop\n }}\n}}\n",
            h = self.host_ip
        );
        let path = std::env::temp_dir().join(format!("{}-partition.nft", self.name));
        std::fs::write(&path, rules)?;
        let r = run(&["ip", "netns", "exec", &self.name, "nft", "-f", path.to_str().context("path")?]);
        let _ = std::fs::remove_file(&path);
        r
    }

    /// Lifts [`Netns::cut`].
    pub fn heal(&self) -> Result<()> {
        run(&["ip", "netns", "exec", &self.name, "nft", "delete", "table", "inet", "partition"])
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}
