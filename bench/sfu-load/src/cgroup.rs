//! An equal CPU budget for the server under test: a cgroup (v1 `cpu` controller, or v2)
//! with a CFS quota, the server's process moved into it (its threads, present and future,
//! follow). With both servers held to the same fraction of a core, the largest audience one
//! publisher can reach with ≥ 99 % delivery measures the server, not the load generator that
//! shares the machine.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The CFS period: short, so a throttled server stalls for milliseconds, not a tenth of a
/// second (which would drop packets for reasons of scheduling rather than cost).
const PERIOD_US: u64 = 10_000;

pub struct CpuLimit {
    dir: PathBuf,
}

impl CpuLimit {
    /// Holds process `pid` to `percent` of one core.
    pub fn apply(pid: u32, percent: u32) -> Result<CpuLimit> {
        let quota = PERIOD_US * u64::from(percent) / 100;
        let name = format!("sfu-load-{}", std::process::id());
        let v1 = PathBuf::from("/sys/fs/cgroup/cpu");
        let dir = if v1.join("cpu.cfs_quota_us").exists() {
            let dir = v1.join(&name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::write(dir.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
            std::fs::write(dir.join("cpu.cfs_quota_us"), quota.to_string())?;
            dir
        } else {
            let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.join("cgroup.controllers").exists())
                .context("no cgroup cpu controller (v1 or v2) mounted")?;
            let dir = root.join(&name);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            std::fs::write(dir.join("cpu.max"), format!("{quota} {PERIOD_US}"))
                .context("cgroup v2 without the cpu controller enabled")?;
            dir
        };
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("moving the server into {}", dir.display()))?;
        Ok(CpuLimit { dir })
    }
}

impl Drop for CpuLimit {
    fn drop(&mut self) {
        // Only empty cgroups go away: called after the server stopped.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
