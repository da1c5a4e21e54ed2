//! Accounts owned by the LDAP directory.

use rusqlite::{params, OptionalExtension};

use crate::sqlite::{user_from_row, SqliteStore};
use crate::{AccountSource, DirectoryAccount, DirectoryApplied, StoreError, User};

impl SqliteStore {
    pub(crate) fn apply_directory_account_sql(
        &self,
        acc: &DirectoryAccount,
        create: bool,
        now: i64,
    ) -> Result<DirectoryApplied, StoreError> {
        self.write_tx(|tx| {
            let found = tx
                .query_row(
                    &format!("SELECT {}, directory_disabled FROM users WHERE username = ?1", crate::sqlite::USER_COLS),
                    [&acc.username],
                    |r| Ok((user_from_row(r)?, r.get::<_, bool>(crate::sqlite::USER_NCOLS)?)),
                )
                .optional()?;
            let Some((user, by_directory)) = found else {
                if !(create && acc.active) {
                    return Ok(DirectoryApplied::Absent);
                }
                // No password hash: a directory account can only sign in through the directory
                // (an empty string never verifies as an argon2 hash).
                tx.execute(
                    "INSERT INTO users (username, display_name, password_hash, is_admin, disabled, created_at, source)
                     VALUES (?1, ?2, '', ?3, 0, ?4, 'directory')",
                    params![acc.username, acc.display_name, acc.is_admin, now],
                )?;
                return Ok(DirectoryApplied::Created(User {
                    id: tx.last_insert_rowid(),
                    username: acc.username.clone(),
                    display_name: acc.display_name.clone(),
                    password_hash: String::new(),
                    is_admin: acc.is_admin,
                    disabled: false,
                    created_at: now,
                    source: AccountSource::Directory,
                }));
            };
            if user.source != AccountSource::Directory {
                return Ok(DirectoryApplied::LocalAccount);
            }
            // Disabled here by an administrator: stays so whatever the directory says.
            let admin_disabled = user.disabled && !by_directory;
            let disabled = admin_disabled || !acc.active;
            let directory_disabled = !admin_disabled && !acc.active;
            let sessions_ended = disabled && !user.disabled;
            tx.execute(
                "UPDATE users SET display_name = ?1, is_admin = ?2, disabled = ?3, directory_disabled = ?4
                 WHERE id = ?5",
                params![acc.display_name, acc.is_admin, disabled, directory_disabled, user.id],
            )?;
            if disabled {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user.id])?;
            }
            let user = User { display_name: acc.display_name.clone(), is_admin: acc.is_admin, disabled, ..user };
            Ok(DirectoryApplied::Updated { user, sessions_ended })
        })
    }
}
