//! What a database must offer the store: a connection to read on, and transactions to write
//! in. The store's queries are written once against [`Conn`]; [`crate::SqliteDb`] and
//! [`crate::PgDb`] run them.

use crate::sql::Conn;
use crate::StoreError;

/// A database the store's SQL runs on (sealed: the crate's two backends).
pub trait Backend: Send + Sync + 'static {
    /// Whether this is PostgreSQL (for the few things only one of the two needs).
    const POSTGRES: bool;

    /// See [`crate::Store::write_lanes`].
    fn write_lanes(&self) -> usize {
        1
    }
    /// Runs reads outside an explicit transaction.
    fn read<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError>;
    /// Runs `f` in one serializable transaction, committed when it returns `Ok` and rolled
    /// back when it returns `Err`. A backend may run `f` again when a concurrent transaction
    /// conflicted, so `f` must have no effect outside the database.
    fn write<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError>;

    /// As [`Backend::write`], for transactions whose consistency rests on row locks and unique
    /// indexes alone (chat writes: the conversation's sequence counter is one row, updated
    /// first). Serializable checking would make large batches over many conversations
    /// conflict with each other for no reason; PostgreSQL runs these READ COMMITTED.
    fn write_locked<T>(&self, f: impl FnMut(&mut dyn Conn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.write(f)
    }
}
