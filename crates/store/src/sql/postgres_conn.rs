//! [`Conn`] on a PostgreSQL client or transaction, with a statement cache per connection
//! (a statement is parsed and planned once per connection, not on every call).
//!
//! The driver is asynchronous; its connections run on the backend's own runtime thread, and
//! a call here waits for its answer with a plain executor, so the store stays synchronous and
//! may be called from any thread, a tokio worker included, without the nested-runtime panic
//! a blocking driver's own runtime would cause there.

use std::collections::HashMap;
use std::error::Error;

use bytes::BytesMut;
use futures_executor::block_on;
use tokio_postgres::types::{IsNull, ToSql, Type};
use tokio_postgres::{GenericClient, Statement};

use super::{dollar_placeholders, Arg, Conn, Row, Val};
use crate::StoreError;

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for Arg<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match *self {
            Arg::Null => Ok(IsNull::Yes),
            // Integers go to whatever integer (or flag) type the statement expects.
            Arg::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                _ => Err(format!("an integer given for a parameter of type {ty}").into()),
            },
            Arg::Text(v) if <&str as ToSql>::accepts(ty) => v.to_sql(ty, out),
            Arg::Bytes(v) if <&[u8] as ToSql>::accepts(ty) => v.to_sql(ty, out),
            Arg::Text(_) | Arg::Bytes(_) => Err(format!("{self:?} given for a parameter of type {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

fn val(row: &tokio_postgres::Row, i: usize) -> Result<Val, StoreError> {
    let ty = row.columns().get(i).map(|c| c.type_().clone()).unwrap_or(Type::UNKNOWN);
    let int = |v: Option<i64>| v.map_or(Val::Null, Val::Int);
    Ok(match ty {
        Type::INT8 => int(row.try_get::<_, Option<i64>>(i)?),
        Type::INT4 => int(row.try_get::<_, Option<i32>>(i)?.map(i64::from)),
        Type::INT2 => int(row.try_get::<_, Option<i16>>(i)?.map(i64::from)),
        Type::BOOL => int(row.try_get::<_, Option<bool>>(i)?.map(i64::from)),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(i)?.map_or(Val::Null, Val::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Val::Null, Val::Bytes),
        other => return Err(StoreError::db_other(format!("column {i} has unsupported type {other}"))),
    })
}

/// Prepared statements of one connection, by the store's SQL text.
#[derive(Default)]
pub(crate) struct StatementCache(HashMap<String, Statement>);

/// Bound on cached statements per connection (the store has about 150 distinct ones).
const CACHE_LIMIT: usize = 512;

/// A PostgreSQL client or transaction with its connection's statement cache.
pub(crate) struct PgConn<'a, C: GenericClient> {
    pub(crate) client: &'a C,
    pub(crate) cache: &'a mut StatementCache,
}

impl<C: GenericClient> PgConn<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.cache.0.get(sql) {
            return Ok(s.clone());
        }
        let stmt = block_on(self.client.prepare(&dollar_placeholders(sql)))?;
        if self.cache.0.len() >= CACHE_LIMIT {
            self.cache.0.clear();
        }
        self.cache.0.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn params<'b>(args: &'b [Arg<'b>]) -> Vec<&'b (dyn ToSql + Sync)> {
        args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
    }
}

impl<C: GenericClient> Conn for PgConn<'_, C> {
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, StoreError> {
        let stmt = self.statement(sql)?;
        Ok(block_on(self.client.execute(&stmt, &Self::params(args)))?)
    }

    fn rows(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, StoreError> {
        let stmt = self.statement(sql)?;
        let rows = block_on(self.client.query(&stmt, &Self::params(args)))?;
        rows.iter().map(|r| (0..r.len()).map(|i| val(r, i)).collect::<Result<Vec<_>, _>>().map(Row)).collect()
    }
}
