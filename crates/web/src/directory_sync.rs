//! Keeps directory accounts in step with the LDAP directory: at start and every
//! `sync_interval`, display names and admin flags follow it, and whoever it removed, locked
//! or dropped from the access group is disabled here with every session ended and socket
//! closed. A sync that cannot reach the directory changes nothing and is retried next time.

use std::sync::Arc;

use directory::Directory;
use store::{DirectoryApplied, Store};

use crate::signaling::HubHandle;

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncSummary {
    pub listed: usize,
    pub created: usize,
    pub updated: usize,
    pub disabled: usize,
}

pub(crate) fn spawn(dir: Directory, store: Arc<dyn Store>, hub: HubHandle) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(dir.config().sync_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&dir, &store, &hub).await {
                Ok(s) if s.created + s.updated + s.disabled > 0 => tracing::info!(
                    listed = s.listed,
                    created = s.created,
                    updated = s.updated,
                    disabled = s.disabled,
                    "directory sync"
                ),
                Ok(_) => tracing::debug!("directory sync: no changes"),
                Err(e) => tracing::warn!(error = %e, "directory sync failed; accounts unchanged until the next one"),
            }
        }
    });
}

/// One sync: list the directory, compare, apply, close the sockets of the disabled.
pub async fn run_once(dir: &Directory, store: &Arc<dyn Store>, hub: &HubHandle) -> Result<SyncSummary, String> {
    let (people, skipped) = dir.list().await.map_err(|e| e.to_string())?;
    if skipped > 0 {
        tracing::warn!(skipped, "directory entries whose name cannot be a username here were skipped");
    }
    let accounts = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.list_users())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let plan = directory::sync::plan(&people, &accounts, dir.config().import_users);
    if !plan.conflicts.is_empty() {
        tracing::warn!(
            count = plan.conflicts.len(),
            "directory users share their name with local accounts; those local accounts are left alone"
        );
    }
    if plan.suspicious_empty {
        tracing::error!(
            "the directory listed nobody; no account was disabled (check ldap.user_base and ldap.user_filter)"
        );
    }
    let mut summary = SyncSummary { listed: people.len(), ..SyncSummary::default() };
    let now = crate::unix_now();
    for (account, create) in plan.apply {
        let store = store.clone();
        let applied = tokio::task::spawn_blocking(move || store.apply_directory_account(&account, create, now))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        match applied {
            DirectoryApplied::Created(_) => summary.created += 1,
            DirectoryApplied::Updated { user, sessions_ended } => {
                summary.updated += 1;
                if sessions_ended {
                    summary.disabled += 1;
                    tracing::info!(user_id = user.id, "directory account disabled by the sync");
                    hub.input(hub::Input::SessionsEnded { user: user.id, only: None, keep: None }).await;
                }
            }
            DirectoryApplied::Absent | DirectoryApplied::LocalAccount => {}
        }
    }
    Ok(summary)
}
