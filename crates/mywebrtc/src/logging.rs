use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

/// Structured logs on stderr (stdout carries the messages meant for the operator).
pub fn init(cfg: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.level));
    // Colour codes only for a person at a terminal, never into journald, files or pipes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if cfg.format == "json" { builder.json().try_init() } else { builder.try_init() };
}
