//! The binary with an `[ldap]` section against a real OpenLDAP: `mywebrtc ldap test` says
//! which step fails, and serving with a directory keeps every password out of the logs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;
use testkit::slapd::{password_of, Slapd, ADMINS_GROUP, BASE, SERVICE_DN, SERVICE_PW, USERS_GROUP};

const BIN: &str = env!("CARGO_BIN_EXE_mywebrtc");

/// A config file for `dir` with an `[ldap]` section; the service password sits in a file.
fn config(dir: &Path, url: &str, ca: &Path) -> std::path::PathBuf {
    let pw_file = dir.join("ldap-password");
    std::fs::write(&pw_file, format!("{SERVICE_PW}\n")).unwrap();
    let p = dir.join("test.toml");
    std::fs::write(
        &p,
        format!(
            r#"data_dir = {data:?}
listen = "127.0.0.1:0"
http_redirect_listen = "off"
[metrics]
listen = "off"
[sfu]
enabled = false
[turn]
enabled = false
[ldap]
url = "{url}"
ca_file = {ca:?}
bind_dn = "{SERVICE_DN}"
bind_password_file = {pw_file:?}
user_base = "ou=people,{BASE}"
access_group = "{USERS_GROUP}"
admin_group = "{ADMINS_GROUP}"
timeout_secs = 2
"#,
            data = dir.join("data"),
        ),
    )
    .unwrap();
    p
}

fn ldap_test(cfg: &Path, user: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config").arg(cfg).args(["ldap", "test"]);
    if let Some(u) = user {
        cmd.arg(u);
    }
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn ldap_test_reports_each_step_and_what_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("slapd")).unwrap();
    let mut slapd = Slapd::start(&dir.path().join("slapd")).unwrap();
    let good = config(dir.path(), &slapd.ldap_url, &slapd.ca_file);
    let (ok, out) = ldap_test(&good, Some("bob"));
    assert!(ok, "{out}");
    for line in [
        "ok   connect + TLS",
        "StartTLS",
        "ok   service bind",
        "ok   search",
        "ok   access group",
        "ok   admin group",
        "ok   user",
        "uid=bob,ou=people",
        "admin",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    let (ok, out) = ldap_test(&good, Some("carol"));
    assert!(!ok && out.contains("FAIL user") && out.contains("NOT in the access group"), "{out}");
    let (ok, out) = ldap_test(&good, Some("nobody"));
    assert!(!ok && out.contains("no entry with uid=nobody"), "{out}");

    let wrong_ca = config(dir.path(), &slapd.ldaps_url, &slapd.other_ca_file);
    let (ok, out) = ldap_test(&wrong_ca, None);
    assert!(!ok && out.contains("FAIL connect + TLS") && out.contains("TLS with the directory failed"), "{out}");

    slapd.stop();
    let (ok, out) = ldap_test(&good, None);
    assert!(!ok && out.contains("FAIL connect + TLS") && out.contains("cannot connect"), "{out}");
    assert!(!out.contains(SERVICE_PW), "{out}");
}

#[test]
fn no_directory_password_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("slapd")).unwrap();
    let slapd = Slapd::start(&dir.path().join("slapd")).unwrap();
    let cfg = config(dir.path(), &slapd.ldaps_url, &slapd.ca_file);
    let mut child = Command::new(BIN)
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(u) = line.trim().split("listening on ").nth(1) {
            break u.to_owned();
        }
    };
    // Logs are read on their own thread so a full pipe never blocks the server.
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
        for (pw, status) in [(password_of("alice"), 200), ("wrong-directory-pw-xyz".to_owned(), 401)] {
            let r = http
                .post(format!("{url}/api/v1/session"))
                .json(&json!({"username": "alice", "password": pw}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), status);
        }
    });
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let logs = logs.join().unwrap();
    assert!(logs.contains("directory account created"), "expected sign-in logs:\n{logs}");
    for secret in [password_of("alice").as_str(), "wrong-directory-pw-xyz", SERVICE_PW] {
        assert!(!logs.contains(secret), "{secret:?} leaked into logs");
    }
}
