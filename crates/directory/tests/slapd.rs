//! The directory client against a real OpenLDAP (`slapd`, started per test on free loopback
//! ports with StartTLS and LDAPS on a test CA; see `testkit::slapd`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on what they set up

use std::time::Duration;

use directory::{Directory, DirectoryConfig, DirectoryError, Secret, Standing};
use testkit::slapd::{password_of, Slapd, ADMINS_GROUP, BASE, SERVICE_DN, SERVICE_PW, USERS_GROUP};

fn config(url: &str, ca: &std::path::Path) -> DirectoryConfig {
    DirectoryConfig {
        ca_file: Some(ca.to_owned()),
        access_group: Some(USERS_GROUP.to_owned()),
        admin_group: Some(ADMINS_GROUP.to_owned()),
        sync_interval: Duration::from_secs(60),
        timeout: Duration::from_secs(3),
        ..DirectoryConfig::new(url, SERVICE_DN, SERVICE_PW, &format!("ou=people,{BASE}"))
    }
}

fn start() -> (tempfile::TempDir, Slapd) {
    let dir = tempfile::tempdir().unwrap();
    let slapd = Slapd::start(dir.path()).unwrap();
    (dir, slapd)
}

#[tokio::test]
async fn sign_in_over_starttls_and_ldaps_with_groups_as_roles() {
    let (_d, slapd) = start();
    for url in [&slapd.ldap_url, &slapd.ldaps_url] {
        let dir = Directory::new(config(url, &slapd.ca_file)).unwrap();
        let alice = dir.authenticate("alice", &password_of("alice")).await.unwrap();
        assert_eq!(alice.username, "alice");
        assert_eq!(alice.display_name, "Alice Archer");
        assert_eq!(alice.email.as_deref(), Some("alice@example.org"));
        assert_eq!(alice.standing, Standing::Active);
        assert!(!alice.is_admin);
        let bob = dir.authenticate("bob", &password_of("bob")).await.unwrap();
        assert!(bob.is_admin, "member of the admin group");
        // Right password, wrong group: the caller learns the standing after the password checked out.
        let carol = dir.authenticate("carol", &password_of("carol")).await.unwrap();
        assert_eq!(carol.standing, Standing::NotInAccessGroup);
    }
}

#[tokio::test]
async fn wrong_empty_and_locked_credentials_are_refused() {
    let (_d, slapd) = start();
    let dir = Directory::new(config(&slapd.ldap_url, &slapd.ca_file)).unwrap();
    for (user, pw) in [("alice", "wrong".to_owned()), ("alice", String::new()), ("nobody", password_of("nobody"))] {
        let got = dir.authenticate(user, &pw).await;
        assert!(matches!(got, Err(DirectoryError::InvalidCredentials)), "{user}/{pw:?}: {got:?}");
    }
    // Locked (ppolicy's pwdAccountLockedTime): whether or not the directory's own policy
    // refuses the bind, the lock is read and the standing says so (sign-in refuses it).
    match dir.authenticate("dave", &password_of("dave")).await {
        Ok(dave) => assert_eq!(dave.standing, Standing::Disabled),
        Err(e) => assert!(matches!(e, DirectoryError::InvalidCredentials), "{e:?}"),
    }
    assert_eq!(dir.find("dave").await.unwrap().unwrap().standing, Standing::Disabled);
}

#[tokio::test]
async fn filter_injection_in_usernames_finds_nobody() {
    let (_d, slapd) = start();
    let dir = Directory::new(config(&slapd.ldap_url, &slapd.ca_file)).unwrap();
    // With alice's real password: had any of these widened the filter, they would match her
    // (or several people) and the bind as her would succeed.
    let pw = password_of("alice");
    for name in
        ["*", "ali*", "alice)(uid=*", "*)(|(uid=*", "alice\\", "alice\0", "al\u{0456}ce", "\u{0430}lice", "(uid=alice)"]
    {
        let got = dir.authenticate(name, &pw).await;
        assert!(matches!(got, Err(DirectoryError::InvalidCredentials)), "{name:?}: {got:?}");
        assert!(dir.find(name).await.unwrap().is_none(), "{name:?}");
    }
}

#[tokio::test]
async fn a_wrong_ca_or_plain_ldap_fails_closed() {
    let (_d, slapd) = start();
    for url in [&slapd.ldap_url, &slapd.ldaps_url] {
        let dir = Directory::new(config(url, &slapd.other_ca_file)).unwrap();
        let got = dir.authenticate("alice", &password_of("alice")).await;
        assert!(matches!(got, Err(DirectoryError::Tls(_))), "{url}: {got:?}");
    }
    // Plain LDAP only with `insecure = true`; then it works without TLS.
    let mut plain = config(&slapd.ldap_url, &slapd.ca_file);
    plain.insecure = true;
    let dir = Directory::new(plain).unwrap();
    assert!(dir.authenticate("alice", &password_of("alice")).await.is_ok());
}

#[tokio::test]
async fn a_dead_or_stalled_directory_fails_within_the_timeout_and_recovers() {
    let (_d, mut slapd) = start();
    let dir = Directory::new(config(&slapd.ldap_url, &slapd.ca_file)).unwrap();
    slapd.stop();
    let got = dir.authenticate("alice", &password_of("alice")).await;
    assert!(matches!(&got, Err(e) if e.is_unavailable()), "{got:?}");
    slapd.restart().unwrap();
    // A stalled server (accepts connections, never answers): bounded by the timeout.
    slapd.pause();
    let got = dir.authenticate("alice", &password_of("alice")).await;
    assert!(matches!(got, Err(DirectoryError::Timeout(3))), "{got:?}");
    slapd.resume();
    assert!(dir.authenticate("alice", &password_of("alice")).await.is_ok());
}

#[tokio::test]
async fn the_listing_has_everyone_with_their_standing() {
    let (_d, slapd) = start();
    let dir = Directory::new(config(&slapd.ldaps_url, &slapd.ca_file)).unwrap();
    let (people, skipped) = dir.list().await.unwrap();
    assert_eq!(skipped, 0);
    let standing = |n: &str| people.iter().find(|p| p.username == n).map(|p| (p.standing, p.is_admin));
    assert_eq!(standing("alice"), Some((Standing::Active, false)));
    assert_eq!(standing("bob"), Some((Standing::Active, true)));
    assert_eq!(standing("carol"), Some((Standing::NotInAccessGroup, false)));
    assert_eq!(standing("dave"), Some((Standing::Disabled, false)));
    slapd.remove_from_group("erin", USERS_GROUP).unwrap();
    slapd.rename("alice", "Alice Renamed").unwrap();
    let (people, _) = dir.list().await.unwrap();
    assert_eq!(standing_in(&people, "erin"), Some(Standing::NotInAccessGroup));
    assert_eq!(people.iter().find(|p| p.username == "alice").map(|p| p.display_name.as_str()), Some("Alice Renamed"));
}

fn standing_in(people: &[directory::DirectoryUser], name: &str) -> Option<Standing> {
    people.iter().find(|p| p.username == name).map(|p| p.standing)
}

#[tokio::test]
async fn the_check_says_which_step_fails() {
    let (_d, slapd) = start();
    let dir = Directory::new(config(&slapd.ldap_url, &slapd.ca_file)).unwrap();
    let report = dir.check(Some("bob")).await;
    assert!(report.ok(), "{report}");
    let text = report.to_string();
    assert!(text.contains("StartTLS") && text.contains("uid=bob,ou=people") && text.contains("admin"), "{text}");

    let report = dir.check(Some("carol")).await;
    assert!(!report.ok() && report.to_string().contains("NOT in the access group"), "{report}");

    let mut wrong_pw = config(&slapd.ldap_url, &slapd.ca_file);
    wrong_pw.bind_password = Secret("nope".into());
    let report = Directory::new(wrong_pw).unwrap().check(None).await;
    let failed: Vec<&str> = report.steps.iter().filter(|s| !s.ok).map(|s| s.name).collect();
    assert_eq!(failed, vec!["service bind"], "{report}");

    let report = Directory::new(config(&slapd.ldaps_url, &slapd.other_ca_file)).unwrap().check(None).await;
    assert!(!report.steps[0].ok && report.steps[0].detail.contains("TLS"), "{report}");

    let mut bad_group = config(&slapd.ldap_url, &slapd.ca_file);
    bad_group.admin_group = Some(format!("cn=nope,{BASE}"));
    let report = Directory::new(bad_group).unwrap().check(None).await;
    assert!(report.to_string().contains("does not exist"), "{report}");
}

#[test]
fn unsafe_or_broken_settings_are_refused_at_start() {
    let ca = std::env::temp_dir();
    let base = config("ldaps://x", std::path::Path::new("/nonexistent/ca.pem"));
    assert!(Directory::new(base.clone()).is_err(), "missing CA file");
    let mut c = base.clone();
    c.ca_file = None;
    assert!(Directory::new(c.clone()).is_ok());
    for broken in [
        DirectoryConfig { url: "http://x".into(), ..c.clone() },
        DirectoryConfig { bind_password: Secret(String::new()), ..c.clone() },
        DirectoryConfig { user_filter: "objectClass=person".into(), ..c.clone() },
        DirectoryConfig { username_attribute: "uid)(x".into(), ..c.clone() },
        DirectoryConfig { timeout: Duration::ZERO, ..c.clone() },
    ] {
        assert!(matches!(Directory::new(broken), Err(DirectoryError::Config(_))));
    }
    let _ = ca;
    // The password never shows in a debug print of the settings.
    assert!(!format!("{c:?}").contains(SERVICE_PW));
}
