//! `[meetings]`: meeting links and codes, guests, meet-by-code.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeetingsConfig {
    /// People without an account may join meetings as guests, through the lobby.
    pub guests: bool,
    /// The start page's meet-by-code mode (two people type the same code).
    pub meet_by_code: bool,
    /// Seconds the first person at a code waits for the second.
    pub code_window_secs: u64,
    /// Longest meeting in hours (also its default length).
    pub max_duration_hours: u64,
    /// A meeting ends for everyone when its last host leaves its call...
    pub end_when_hosts_leave: bool,
    /// ...and has not come back within this many seconds.
    pub host_grace_secs: u64,
    /// Failed link or code attempts per minute from all addresses together.
    pub max_guesses_per_minute: u32,
}

impl Default for MeetingsConfig {
    fn default() -> Self {
        let d = web::MeetingsConfig::default();
        Self {
            guests: d.guests,
            meet_by_code: d.meet_by_code,
            code_window_secs: d.code_window.as_secs(),
            max_duration_hours: d.max_duration.as_secs() / 3600,
            end_when_hosts_leave: d.end_when_hosts_leave,
            host_grace_secs: d.host_grace.as_secs(),
            max_guesses_per_minute: d.guesses.global_per_minute,
        }
    }
}

impl MeetingsConfig {
    pub fn resolve(&self) -> anyhow::Result<web::MeetingsConfig> {
        if !(10..=3600).contains(&self.code_window_secs) {
            bail!("meetings.code_window_secs must be between 10 and 3600");
        }
        if !(1..=24 * 30).contains(&self.max_duration_hours) {
            bail!("meetings.max_duration_hours must be between 1 and 720");
        }
        if self.max_guesses_per_minute == 0 {
            bail!("meetings.max_guesses_per_minute must be at least 1");
        }
        let mut w = web::MeetingsConfig {
            guests: self.guests,
            meet_by_code: self.meet_by_code,
            code_window: Duration::from_secs(self.code_window_secs),
            max_duration: Duration::from_secs(self.max_duration_hours * 3600),
            end_when_hosts_leave: self.end_when_hosts_leave,
            host_grace: Duration::from_secs(self.host_grace_secs),
            ..web::MeetingsConfig::default()
        };
        w.guesses.global_per_minute = self.max_guesses_per_minute;
        Ok(w)
    }
}
