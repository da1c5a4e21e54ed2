//! The one SQL surface every query of the store is written against, so that each query
//! exists once and runs on SQLite and on PostgreSQL alike.
//!
//! Queries use SQL both databases read the same way: `?N` placeholders (PostgreSQL's driver
//! turns them into `$N`), `RETURNING`, `ON CONFLICT`, `IS DISTINCT FROM`, `CASE` instead of
//! two-argument `MIN`/`MAX`, flags stored as 0/1 integers. Values go in as [`Arg`]s and come
//! out as owned [`Row`]s, whatever the driver's own types.

pub(crate) mod postgres_conn;
mod sqlite_conn;

pub(crate) use postgres_conn::PgConn;
pub(crate) use sqlite_conn::SqliteConn;

use crate::StoreError;

/// A value bound to a placeholder.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<&i64> for Arg<'_> {
    fn from(v: &i64) -> Self {
        Arg::Int(*v)
    }
}
impl From<u32> for Arg<'_> {
    fn from(v: u32) -> Self {
        Arg::Int(i64::from(v))
    }
}
impl From<bool> for Arg<'_> {
    fn from(v: bool) -> Self {
        Arg::Int(i64::from(v))
    }
}
impl From<&bool> for Arg<'_> {
    fn from(v: &bool) -> Self {
        Arg::Int(i64::from(*v))
    }
}
impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Arg<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Arg::Bytes(v)
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Arg::Null, Arg::Int)
    }
}
impl From<&Option<i64>> for Arg<'_> {
    fn from(v: &Option<i64>) -> Self {
        (*v).into()
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Arg::Null, Arg::Text)
    }
}

/// `args![a, b, c]`: the placeholders' values, in order.
macro_rules! args {
    ($($x:expr),* $(,)?) => { &[$($crate::sql::Arg::from($x)),*] };
}
pub(crate) use args;

/// A value read from a row (PostgreSQL booleans arrive as 0/1).
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One result row, owned.
#[derive(Clone, Debug)]
pub struct Row(pub(crate) Vec<Val>);

fn decode(what: &str, col: usize, got: &Val) -> StoreError {
    StoreError::db_other(format!("column {col}: expected {what}, found {got:?}"))
}

impl Row {
    fn val(&self, i: usize) -> Result<&Val, StoreError> {
        self.0.get(i).ok_or_else(|| StoreError::db_other(format!("no column {i}")))
    }
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.val(i)? {
            Val::Int(v) => Ok(*v),
            v => Err(decode("an integer", i, v)),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.val(i)? {
            Val::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.int(i)? != 0)
    }
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.val(i)? {
            Val::Text(v) => Ok(v.clone()),
            v => Err(decode("text", i, v)),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.val(i)? {
            Val::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    pub fn bytes(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.val(i)? {
            Val::Bytes(v) => Ok(v.clone()),
            v => Err(decode("bytes", i, v)),
        }
    }
}

/// A connection (or a transaction on one) that runs the store's SQL.
pub trait Conn {
    /// Runs a statement; how many rows it changed.
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError>;
    /// Runs a query; all its rows.
    fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError>;
}

impl dyn Conn + '_ {
    /// The first row, if any.
    pub(crate) fn opt(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }
    /// The first row; a query that must find one and did not is a database error.
    pub(crate) fn one(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Row, StoreError> {
        self.opt(sql, args)?.ok_or_else(|| StoreError::db_other("query returned no rows".into()))
    }
    /// The integer in the first column of the first row.
    pub(crate) fn int(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<i64, StoreError> {
        self.one(sql, args)?.int(0)
    }
    /// Whether the query finds a row.
    pub(crate) fn exists(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<bool, StoreError> {
        Ok(self.opt(sql, args)?.is_some())
    }
    /// Every row, read by `f`.
    pub(crate) fn map<T>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        f: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        self.rows(sql, args)?.iter().map(f).collect()
    }
    /// The integers in the first column.
    pub(crate) fn ints(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<i64>, StoreError> {
        self.map(sql, args, |r| r.int(0))
    }
}

/// Turns the store's `?N` placeholders into PostgreSQL's `$N`, leaving string literals alone.
pub(crate) fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_string = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_string = !in_string;
                out.push(c);
            }
            '?' if !in_string && chars.peek().is_some_and(|n| n.is_ascii_digit()) => out.push('$'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_strings() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE b = ?1 AND c LIKE '?2%' || ?2 AND d = ?10"),
            "SELECT a FROM t WHERE b = $1 AND c LIKE '?2%' || $2 AND d = $10"
        );
        assert_eq!(dollar_placeholders("SELECT 'it''s ?1', ?3"), "SELECT 'it''s ?1', $3");
    }

    #[test]
    fn rows_refuse_the_wrong_type_with_an_error() {
        let r = Row(vec![Val::Int(1), Val::Null, Val::Text("x".into())]);
        assert_eq!(r.int(0).unwrap(), 1);
        assert!(r.bool(0).unwrap());
        assert_eq!(r.opt_int(1).unwrap(), None);
        assert!(r.int(2).is_err());
        assert!(r.text(0).is_err());
        assert!(r.int(9).is_err());
    }
}
