//! `[store]`: which database holds the state — the embedded SQLite file (default) or a
//! PostgreSQL server shared by several nodes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use store::{AnyStore, PgOptions, PgStore, SqliteStore};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Empty: the SQLite file `mywebrtc.sqlite` in the data directory. Otherwise a PostgreSQL
    /// URL, `postgres://user:password@host:5432/dbname?sslmode=require` (libpq's form;
    /// `sslmode` is `disable`, `prefer` or `require`).
    pub url: String,
    /// PEM file of the CA that signed the PostgreSQL server's certificate, when it is not one
    /// of the system's roots.
    pub ca_file: String,
    /// Connections to PostgreSQL this node keeps open.
    pub pool_size: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { url: String::new(), ca_file: String::new(), pool_size: 8 }
    }
}

/// Where a database is: a SQLite file or a PostgreSQL URL.
#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(PgOptions),
}

impl Location {
    /// Reads a database given on the command line: a `postgres://` URL, or a SQLite file path.
    pub fn parse(spec: &str, ca_file: Option<PathBuf>, pool_size: usize) -> Location {
        if is_postgres_url(spec) {
            Location::Postgres(PgOptions { url: spec.to_owned(), ca_file, pool_size })
        } else {
            Location::Sqlite(PathBuf::from(spec))
        }
    }

    /// Opens it (creating a SQLite file if needed) and brings its schema up to date.
    pub fn open(&self) -> Result<AnyStore> {
        match self {
            Location::Sqlite(path) => Ok(AnyStore::Sqlite(
                SqliteStore::open(path).with_context(|| format!("opening database {}", path.display()))?,
            )),
            Location::Postgres(opts) => Ok(AnyStore::Postgres(Box::new(
                PgStore::connect_postgres(opts).with_context(|| format!("opening database {}", redact(&opts.url)))?,
            ))),
        }
    }

    /// How to name it in messages and logs (a URL without its password).
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(opts) => redact(&opts.url),
        }
    }
}

impl StoreConfig {
    /// The configured database.
    pub fn location(&self, data_dir: &Path) -> Result<Location> {
        if self.url.is_empty() {
            return Ok(Location::Sqlite(data_dir.join("mywebrtc.sqlite")));
        }
        if !is_postgres_url(&self.url) {
            bail!(
                "invalid configuration: key `store.url`: expected empty (the embedded SQLite file) or a \
                 postgres:// URL, found {}",
                redact(&self.url)
            );
        }
        if self.pool_size == 0 {
            bail!("invalid configuration: key `store.pool_size`: must be at least 1");
        }
        let ca_file = (!self.ca_file.is_empty()).then(|| PathBuf::from(&self.ca_file));
        Ok(Location::Postgres(PgOptions { url: self.url.clone(), ca_file, pool_size: self.pool_size }))
    }
}

fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// The URL with its password (in the user part or as a `password=` parameter) replaced by
/// `***`, so that no message or log line carries it.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority_end, has_query) = match rest.find(['/', '?']) {
        Some(i) => (i, true),
        None => (rest.len(), false),
    };
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = if has_query {
        match tail.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|kv| match kv.split_once('=') {
                        Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                        _ => kv.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => tail.to_owned(),
        }
    } else {
        String::new()
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(redact("postgres://app:s3cret@db.example:5432/chat"), "postgres://app:***@db.example:5432/chat");
        assert_eq!(
            redact("postgresql://app@db/chat?sslmode=require&password=s3cret"),
            "postgresql://app@db/chat?sslmode=require&password=***"
        );
        assert_eq!(redact("postgres://db.example/chat"), "postgres://db.example/chat");
        assert_eq!(redact("postgres://u:p:q@h"), "postgres://u:***@h");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn the_default_is_the_sqlite_file_and_a_bad_url_is_refused() {
        let cfg = StoreConfig::default();
        assert!(
            matches!(cfg.location(Path::new("/d")).unwrap(), Location::Sqlite(p) if p == Path::new("/d/mywebrtc.sqlite"))
        );
        let bad = StoreConfig { url: "mysql://root:pw@h/db".into(), ..Default::default() };
        let err = bad.location(Path::new("/d")).unwrap_err().to_string();
        assert!(err.contains("store.url") && !err.contains("pw"), "{err}");
    }
}
