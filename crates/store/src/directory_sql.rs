//! Accounts owned by the LDAP directory.

use crate::accounts_sql::{user_from_row, USER_COLS, USER_NCOLS};
use crate::sql::{args, Conn};
use crate::{AccountSource, DirectoryAccount, DirectoryApplied, StoreError, User};

pub(crate) fn apply_directory_account(
    c: &mut dyn Conn,
    acc: &DirectoryAccount,
    create: bool,
    now: i64,
) -> Result<DirectoryApplied, StoreError> {
    let found =
        c.opt(&format!("SELECT {USER_COLS}, directory_disabled FROM users WHERE username = ?1"), args![&acc.username])?;
    let Some(row) = found else {
        if !(create && acc.active) {
            return Ok(DirectoryApplied::Absent);
        }
        // No password hash: a directory account can only sign in through the directory
        // (an empty string never verifies as an argon2 hash).
        let id = c.int(
            "INSERT INTO users (username, display_name, password_hash, is_admin, disabled, created_at, source)
             VALUES (?1, ?2, '', ?3, 0, ?4, 'directory') RETURNING id",
            args![&acc.username, &acc.display_name, acc.is_admin, now],
        )?;
        return Ok(DirectoryApplied::Created(User {
            id,
            username: acc.username.clone(),
            display_name: acc.display_name.clone(),
            password_hash: String::new(),
            is_admin: acc.is_admin,
            disabled: false,
            created_at: now,
            source: AccountSource::Directory,
        }));
    };
    let (user, by_directory) = (user_from_row(&row)?, row.bool(USER_NCOLS)?);
    if user.source != AccountSource::Directory {
        return Ok(DirectoryApplied::LocalAccount);
    }
    // Disabled here by an administrator: stays so whatever the directory says.
    let admin_disabled = user.disabled && !by_directory;
    let disabled = admin_disabled || !acc.active;
    let directory_disabled = !admin_disabled && !acc.active;
    let sessions_ended = disabled && !user.disabled;
    c.exec(
        "UPDATE users SET display_name = ?1, is_admin = ?2, disabled = ?3, directory_disabled = ?4 WHERE id = ?5",
        args![&acc.display_name, acc.is_admin, disabled, directory_disabled, user.id],
    )?;
    if disabled {
        c.exec("DELETE FROM sessions WHERE user_id = ?1", args![user.id])?;
    }
    let user = User { display_name: acc.display_name.clone(), is_admin: acc.is_admin, disabled, ..user };
    Ok(DirectoryApplied::Updated { user, sessions_ended })
}
