//! The mywebrtc binary: wires configuration, store and web server together, and offers the
//! administration commands. All behaviour lives in the library crates.

mod cli;
mod cluster_config;
mod config;
mod datadir;
mod ldap_config;
mod logging;
mod meetings_config;
mod serve;
mod sfu_config;
mod store_config;
mod turn_service;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
