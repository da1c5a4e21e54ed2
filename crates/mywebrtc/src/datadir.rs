//! The data directory's lock: one server per data directory, and no restore under a running
//! server. An advisory `flock` on `data_dir/mywebrtc.lock`, released by the kernel when the
//! process ends however it ends (kill -9 included), so a stale lock never blocks a restart.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Held for as long as it lives.
pub struct DataDirLock(#[allow(dead_code)] File);

pub fn lock(data_dir: &Path) -> Result<DataDirLock> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let path = data_dir.join("mywebrtc.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock(file)),
        Err(TryLockError::WouldBlock) => {
            bail!("a mywebrtc server is running on the data directory {}", data_dir.display())
        }
        Err(TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {}", path.display())),
    }
}
