//! Starts the test directory (see `testkit::slapd`) for the browser tests, prints one JSON
//! line with its URLs and CA file, and stops it when its standard input closes or on SIGTERM.

use std::io::Read;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: ldap-fixture DIR"))?;
    let slapd = testkit::slapd::Slapd::start(std::path::Path::new(&dir))?;
    println!(
        "{}",
        serde_json::json!({
            "ldap_url": slapd.ldap_url,
            "ldaps_url": slapd.ldaps_url,
            "ca_file": slapd.ca_file,
            "base": testkit::slapd::BASE,
            "service_dn": testkit::slapd::SERVICE_DN,
            "service_pw": testkit::slapd::SERVICE_PW,
            "users_group": testkit::slapd::USERS_GROUP,
            "admins_group": testkit::slapd::ADMINS_GROUP,
        })
    );
    // Blocks until the parent closes our stdin (or dies); then Drop stops slapd.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(slapd);
    Ok(())
}
