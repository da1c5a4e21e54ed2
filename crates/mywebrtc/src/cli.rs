//! Command line: `serve` and the administration commands, which work on the same database
//! while the server runs (SQLite WAL lets both take turns; PostgreSQL serves both).

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use store::{AnyStore, Store};

use crate::config::{Config, FlagOverrides};

#[derive(Parser, Debug)]
#[command(name = "mywebrtc", version, about = "Self-hosted secure real-time communication server")]
pub struct Args {
    /// Configuration file (default: ./mywebrtc.toml if it exists).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory (database, TLS certificate).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server.
    Serve {
        /// HTTPS listen address, e.g. 0.0.0.0:443.
        #[arg(long)]
        listen: Option<String>,
        /// Plain-HTTP redirect listen address, or "off".
        #[arg(long)]
        http_listen: Option<String>,
        /// Public base URL used in links, e.g. https://chat.example.org.
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage registration links.
    Invite {
        #[command(subcommand)]
        command: InviteCommand,
    },
    /// Write a consistent copy of the database to FILE, also while the server runs and writes.
    Backup { file: PathBuf },
    /// Put a backup back in place of the database (the server must be stopped).
    Restore {
        file: PathBuf,
        /// Restore even if the current database has activity newer than the backup.
        #[arg(long)]
        force: bool,
    },
    /// Bring the database's schema up to date and say which version it has (each node also
    /// does this when it starts; run it first when upgrading several nodes).
    Migrate,
    /// Copy the whole database into an empty one: from the configured database to TARGET, a
    /// `postgres://` URL or a SQLite file (how an installation moves to PostgreSQL). Stop the
    /// server first; then set `[store] url` to TARGET and start it again.
    CopyDatabase {
        target: String,
        /// PEM file of the CA of TARGET's PostgreSQL server, if not one of the system's roots.
        #[arg(long)]
        ca_file: Option<PathBuf>,
    },
    /// The nodes of a cluster (`[cluster]`).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// The organisation's LDAP directory.
    Ldap {
        #[command(subcommand)]
        command: LdapCommand,
    },
    /// Print the OpenAPI document of the REST API.
    Openapi,
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// List the nodes heard on the bus and their load.
    Status,
}

#[derive(Subcommand, Debug)]
enum LdapCommand {
    /// Check the `[ldap]` settings step by step (connect, TLS, service bind, search, groups)
    /// and, with USER, look that user up; says precisely what fails.
    Test { user: Option<String> },
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account (asks for the password, or reads it with --password-stdin).
    Add {
        username: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Set a new password; the user is signed out everywhere.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an account and sign it out everywhere.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
    /// Delete an account.
    Delete { username: String },
}

#[derive(Subcommand, Debug)]
enum InviteCommand {
    /// Create a one-time registration link.
    Create {
        /// How long the link stays valid: a number with s, m, h or d (e.g. 90m, 72h, 7d); at most 30d.
        #[arg(long, default_value = "72h", value_parser = parse_duration)]
        expires_in: Duration,
        /// The account created with the link is an administrator.
        #[arg(long)]
        admin: bool,
    },
}

pub fn run(args: Args) -> Result<()> {
    let mut flags = FlagOverrides { data_dir: args.data_dir, ..Default::default() };
    if let Command::Serve { listen, http_listen, public_url } = &args.command {
        flags.listen = listen.clone();
        flags.http_redirect_listen = http_listen.clone();
        flags.public_url = public_url.clone();
    }
    let cfg = Config::load(args.config.as_deref(), flags)?;
    match args.command {
        Command::Serve { .. } => crate::serve::run(cfg),
        Command::User { command } => user(&cfg, command),
        Command::Invite { command: InviteCommand::Create { expires_in, admin } } => invite(&cfg, expires_in, admin),
        Command::Backup { file } => backup(&cfg, &file),
        Command::Restore { file, force } => restore(&cfg, &file, force),
        Command::Migrate => migrate(&cfg),
        Command::Cluster { command: ClusterCommand::Status } => cluster_status(&cfg),
        Command::CopyDatabase { target, ca_file } => copy_database(&cfg, &target, ca_file),
        Command::Ldap { command: LdapCommand::Test { user } } => ldap_test(&cfg, user.as_deref()),
        Command::Openapi => {
            println!("{}", web::openapi_json());
            Ok(())
        }
    }
}

fn open_store(cfg: &Config) -> Result<AnyStore> {
    cfg.database()?.open()
}

fn cluster_status(cfg: &Config) -> Result<()> {
    let postgres = matches!(cfg.database()?, crate::store_config::Location::Postgres(_));
    let cluster = cfg.cluster.resolve(postgres)?.ok_or_else(|| anyhow!("not a cluster: set cluster.nats_url"))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    // Every node publishes its list every STATE_EVERY: listen a little longer than that.
    let listen = web::cluster::STATE_EVERY * 2 + Duration::from_millis(500);
    let nodes = rt.block_on(web::cluster::cluster_status(&cluster, listen)).map_err(|e| anyhow!(e))?;
    if nodes.is_empty() {
        bail!("no node heard on the bus within {} s", listen.as_secs_f64());
    }
    println!("{:<24} {:>12} {:>12} {:>8} {:>14}", "node", "connections", "online users", "calls", "in group calls");
    for n in &nodes {
        let l = &n.load;
        println!(
            "{:<24} {:>12} {:>12} {:>8} {:>14}",
            n.node, l.connections, l.online_users, l.active_calls, l.room_participants
        );
    }
    Ok(())
}

fn migrate(cfg: &Config) -> Result<()> {
    let db = cfg.database()?;
    db.open()?;
    println!("database {} is at schema version {}", db.describe(), store::SCHEMA_VERSION);
    Ok(())
}

fn copy_database(cfg: &Config, target: &str, ca_file: Option<PathBuf>) -> Result<()> {
    // Holding the data directory's lock keeps this node's server from writing meanwhile.
    let _lock = crate::datadir::lock(&cfg.data_dir).map_err(|e| anyhow!("{e}; stop the server before copying"))?;
    let from = cfg.database()?;
    let to = crate::store_config::Location::parse(target, ca_file, 2);
    if from.describe() == to.describe() {
        bail!("the target is the configured database itself");
    }
    let report = from.open()?.copy_into(&to.open()?).with_context(|| format!("copying into {}", to.describe()))?;
    println!("copied {} into {}:", from.describe(), to.describe());
    for (table, rows) in &report.tables {
        println!("  {table:<22} {rows} rows");
    }
    println!("(attachments stay files in {}: every node needs them)", cfg.attachments_dir().display());
    Ok(())
}

/// Backups and restores are of the SQLite file; PostgreSQL has its own tools.
fn sqlite_only(cfg: &Config, what: &str) -> Result<()> {
    if let crate::store_config::Location::Postgres(_) = cfg.database()? {
        bail!("the database is PostgreSQL: {what} it with PostgreSQL's own tools (pg_dump / pg_restore, or continuous archiving)");
    }
    Ok(())
}

fn find(store: &dyn Store, username: &str) -> Result<store::User> {
    let name = auth::normalize_username(username).map_err(|e| anyhow!("{username:?}: {e}"))?;
    store.user_by_username(&name)?.ok_or_else(|| anyhow!("no user named {name:?}"))
}

fn read_password(from_stdin: bool) -> Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Repeat password: ")?;
    if first != again {
        bail!("the passwords do not match");
    }
    Ok(first)
}

fn user(cfg: &Config, cmd: UserCommand) -> Result<()> {
    let store = open_store(cfg)?;
    let store = store.as_store();
    match cmd {
        UserCommand::Add { username, display_name, admin, password_stdin } => {
            let password = read_password(password_stdin)?;
            let new = auth::prepare_new_user(&username, display_name.as_deref(), &password, admin)?;
            let u = store.create_user(&new, web::unix_now())?;
            println!("created user {} (id {}){}", u.username, u.id, if u.is_admin { " with admin rights" } else { "" });
        }
        UserCommand::List => {
            println!("{:<6} {:<32} {:<6} {:<9} {:<10} display name", "id", "username", "admin", "disabled", "source");
            for u in store.list_users()? {
                println!(
                    "{:<6} {:<32} {:<6} {:<9} {:<10} {}",
                    u.id,
                    u.username,
                    u.is_admin,
                    u.disabled,
                    u.source.as_str(),
                    u.display_name
                );
            }
        }
        UserCommand::Passwd { username, password_stdin } => {
            let u = find(store, &username)?;
            if u.source == store::AccountSource::Directory {
                bail!("{} signs in with the organisation's directory; change the password there", u.username);
            }
            let password = read_password(password_stdin)?;
            if let Some(why) = auth::password::policy_violation(&password) {
                bail!("{why}");
            }
            let hash = auth::password::hash(&password).map_err(|e| anyhow!("hashing password: {e}"))?;
            store.set_password_hash(u.id, &hash)?;
            let n = store.delete_sessions_of_user(u.id, None)?;
            println!("password of {} changed; {n} session(s) signed out", u.username);
        }
        UserCommand::Disable { username } => {
            let u = find(store, &username)?;
            store.update_user_flags(u.id, Some(true), None)?;
            println!("disabled {} and signed it out everywhere", u.username);
        }
        UserCommand::Enable { username } => {
            let u = find(store, &username)?;
            store.update_user_flags(u.id, Some(false), None)?;
            println!("enabled {}", u.username);
        }
        UserCommand::Delete { username } => {
            let u = find(store, &username)?;
            store.delete_user(u.id)?;
            println!("deleted {}", u.username);
        }
    }
    Ok(())
}

fn describe_backup(info: &store::backup::BackupInfo) -> String {
    format!(
        "{} bytes, schema version {}, {} accounts, {} messages, newest activity at {} (Unix time); integrity check ok",
        info.bytes, info.schema_version, info.users, info.messages, info.last_activity
    )
}

fn backup(cfg: &Config, file: &Path) -> Result<()> {
    sqlite_only(cfg, "back up")?;
    let info = store::backup::backup(&cfg.db_path(), file)?;
    println!("backup written to {}: {}", file.display(), describe_backup(&info));
    println!("(attachments live in files beside the database: copy {} too)", cfg.attachments_dir().display());
    Ok(())
}

fn restore(cfg: &Config, file: &Path, force: bool) -> Result<()> {
    sqlite_only(cfg, "restore")?;
    // Holding the data directory's lock keeps a server from starting while we work.
    let _lock = crate::datadir::lock(&cfg.data_dir).map_err(|e| anyhow!("{e}; stop the server before restoring"))?;
    let done = store::backup::restore(file, &cfg.db_path(), force, web::unix_now())?;
    println!("restored {}: {}", file.display(), describe_backup(&done.info));
    if let Some(prev) = done.previous {
        println!("the database it replaced is kept as {}", prev.display());
    }
    Ok(())
}

fn ldap_test(cfg: &Config, user: Option<&str>) -> Result<()> {
    let dir = cfg.ldap.directory()?.ok_or_else(|| anyhow!("no directory configured: set ldap.url"))?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(dir.check(user));
    print!("{report}");
    if report.ok() {
        println!("the directory settings work");
        Ok(())
    } else {
        bail!("the directory check failed (see the FAIL lines above)")
    }
}

/// `90m`, `72h`, `7d`, `30s` → a duration between 1 s and 30 days.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| format!("{s:?}: expected a number followed by s, m, h or d"))?;
    let secs = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" | "" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86400),
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    if secs == 0 || secs > 30 * 86400 {
        return Err(format!("{s:?}: must be between 1s and 30d"));
    }
    Ok(Duration::from_secs(secs))
}

fn invite(cfg: &Config, expires_in: Duration, admin: bool) -> Result<()> {
    let store = open_store(cfg)?;
    let link = auth::invites::create_link(
        store.as_store(),
        &cfg.public_url()?,
        store::InviteKind::Registration,
        admin,
        None,
        expires_in,
        web::unix_now(),
    )?;
    println!("{}", link.url);
    eprintln!(
        "one-time registration link, valid for {} s{}",
        expires_in.as_secs(),
        if admin { ", grants admin rights" } else { "" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("72"), Ok(Duration::from_secs(72 * 3600)));
        for bad in ["", "0s", "31d", "5w", "-1h", "99999999999999999999d", "h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
