//! Starts what several nodes share — a PostgreSQL server with a fresh database and a NATS
//! server (see `testkit::postgres`, `testkit::nats`) — for the browser tests, prints one JSON
//! line with their URLs, and stops both when its standard input closes.

use std::io::Read;

fn main() -> anyhow::Result<()> {
    let pg = testkit::postgres::Postgres::start()?;
    let nats = testkit::nats::Nats::start()?;
    println!("{}", serde_json::json!({ "db_url": pg.fresh_database()?, "nats_url": nats.url() }));
    // Blocks until the parent closes our stdin (or dies); then Drop stops both by PID.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(nats);
    drop(pg);
    Ok(())
}
