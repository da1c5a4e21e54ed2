//! [`Conn`] on a rusqlite connection: every statement goes through its prepared-statement
//! cache (the chat path runs the same few statements thousands of times a second).

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::ToSql;

use super::{Arg, Conn, Row, Val};
use crate::StoreError;

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Arg::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Arg::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Arg::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Arg::Bytes(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

fn val(v: ValueRef<'_>) -> Result<Val, StoreError> {
    Ok(match v {
        ValueRef::Null => Val::Null,
        ValueRef::Integer(i) => Val::Int(i),
        ValueRef::Text(t) => Val::Text(
            std::str::from_utf8(t).map_err(|e| StoreError::db_other(format!("text is not UTF-8: {e}")))?.to_owned(),
        ),
        ValueRef::Blob(b) => Val::Bytes(b.to_vec()),
        ValueRef::Real(r) => return Err(StoreError::db_other(format!("unexpected real number {r}"))),
    })
}

/// A borrowed SQLite connection (or transaction: it derefs to one).
pub(crate) struct SqliteConn<'a>(pub(crate) &'a rusqlite::Connection);

impl Conn for SqliteConn<'_> {
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let n = self.0.prepare_cached(sql)?.execute(rusqlite::params_from_iter(args.iter()))?;
        Ok(n as u64)
    }

    fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(width);
            for i in 0..width {
                vals.push(val(r.get_ref(i)?)?);
            }
            out.push(Row(vals));
        }
        Ok(out)
    }
}
