//! A real OpenLDAP server (Debian's `slapd`) for the directory tests: started in a temporary
//! directory on free loopback ports, with StartTLS and LDAPS on a test CA, seeded from
//! `seed.ldif`, stopped by its PID. Changes go through `ldapmodify` (Debian's `ldap-utils`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::process::{free_port, wait_listening};

/// The seeded directory's suffix, administrator and service account.
pub const BASE: &str = "dc=example,dc=org";
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=org";
pub const ROOT_PW: &str = "test-root-pw";
pub const SERVICE_DN: &str = "uid=svc-mywebrtc,ou=people,dc=example,dc=org";
pub const SERVICE_PW: &str = "service-bind-pw";
pub const USERS_GROUP: &str = "cn=mywebrtc-users,ou=groups,dc=example,dc=org";
pub const ADMINS_GROUP: &str = "cn=mywebrtc-admins,ou=groups,dc=example,dc=org";
pub const SEED_LDIF: &str = include_str!("seed.ldif");

/// The password of a seeded user: `alice` → `alice-directory-pw`.
pub fn password_of(user: &str) -> String {
    format!("{user}-directory-pw")
}

pub struct Slapd {
    dir: PathBuf,
    child: Option<Child>,
    /// `ldap://127.0.0.1:PORT` (plain, StartTLS offered).
    pub ldap_url: String,
    /// `ldaps://127.0.0.1:PORT`.
    pub ldaps_url: String,
    /// PEM of the CA that signed the server's certificate.
    pub ca_file: PathBuf,
    /// PEM of a CA that signed nothing here (a wrong CA must fail closed).
    pub other_ca_file: PathBuf,
}

fn write_test_pki(dir: &Path) -> Result<()> {
    let ca = crate::pki::ca("mywebrtc test directory CA")?;
    let (server, server_key) = crate::pki::localhost_cert(&ca)?;
    // A CA that signed nothing here: trusting it instead must fail closed.
    let (other, _) = crate::pki::ca("some other CA")?;
    std::fs::write(dir.join("ca.pem"), ca.0.pem())?;
    std::fs::write(dir.join("other-ca.pem"), other.pem())?;
    std::fs::write(dir.join("server.pem"), server.pem())?;
    std::fs::write(dir.join("server.key"), server_key.serialize_pem())?;
    Ok(())
}

fn slapd_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        r#"include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
TLSCACertificateFile {d}/ca.pem
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
suffix "{BASE}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PW}
directory {d}/db
maxsize 33554432
overlay ppolicy
access to attrs=userPassword by anonymous auth by self write by * none
access to * by users read by * none
"#
    )
}

impl Slapd {
    /// Creates the directory under `dir` (which must exist and stay while it runs) and starts it.
    pub fn start(dir: &Path) -> Result<Self> {
        if !Path::new("/usr/sbin/slapd").exists() {
            bail!("slapd is not installed (Debian packages slapd and ldap-utils)");
        }
        write_test_pki(dir)?;
        std::fs::create_dir_all(dir.join("db"))?;
        std::fs::write(dir.join("slapd.conf"), slapd_conf(dir))?;
        std::fs::write(dir.join("seed.ldif"), SEED_LDIF)?;
        let out = Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(dir.join("slapd.conf"))
            .arg("-l")
            .arg(dir.join("seed.ldif"))
            .output()
            .context("running slapadd")?;
        if !out.status.success() {
            bail!("slapadd failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let (p1, p2) = (free_port()?, free_port()?);
        let mut me = Self {
            dir: dir.to_owned(),
            child: None,
            ldap_url: format!("ldap://127.0.0.1:{p1}"),
            ldaps_url: format!("ldaps://127.0.0.1:{p2}"),
            ca_file: dir.join("ca.pem"),
            other_ca_file: dir.join("other-ca.pem"),
        };
        me.restart()?;
        Ok(me)
    }

    fn port(url: &str) -> u16 {
        url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    /// Starts it (again) on the same ports and data; returns once both ports accept.
    pub fn restart(&mut self) -> Result<()> {
        self.stop();
        let child = Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(self.dir.join("slapd.conf"))
            .arg("-h")
            .arg(format!("{}/ {}/", self.ldap_url, self.ldaps_url))
            // Any debug level keeps it in the foreground, so its PID is ours to stop.
            .args(["-d", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting slapd")?;
        let child = self.child.insert(child);
        for url in [&self.ldap_url, &self.ldaps_url] {
            wait_listening(Self::port(url), child, "slapd")?;
        }
        Ok(())
    }

    /// Stops it (SIGKILL by PID; the data stays for a restart).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // A frozen process still dies of SIGKILL.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Freezes it (SIGSTOP): it keeps accepting connections but answers nothing.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws it (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").args([sig, &c.id().to_string()]).status();
        }
    }

    /// Applies an LDIF change as the directory's administrator.
    pub fn modify(&self, ldif: &str) -> Result<()> {
        let mut child = Command::new("ldapmodify")
            .args(["-x", "-H", &self.ldap_url, "-D", ROOT_DN, "-w", ROOT_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("running ldapmodify (Debian package ldap-utils)")?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(ldif.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("ldapmodify failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }

    /// Changes a user's `cn` (their display name).
    pub fn rename(&self, uid: &str, cn: &str) -> Result<()> {
        self.modify(&format!("dn: uid={uid},ou=people,{BASE}\nchangetype: modify\nreplace: cn\ncn: {cn}\n"))
    }

    /// Removes a user from a group.
    pub fn remove_from_group(&self, uid: &str, group: &str) -> Result<()> {
        self.modify(&format!("dn: {group}\nchangetype: modify\ndelete: member\nmember: uid={uid},ou=people,{BASE}\n"))
    }

    /// Locks a user the way OpenLDAP's ppolicy does (until an administrator unlocks).
    pub fn lock(&self, uid: &str) -> Result<()> {
        self.modify(&format!(
            "dn: uid={uid},ou=people,{BASE}\nchangetype: modify\nadd: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n"
        ))
    }

    /// Deletes a user's entry.
    pub fn delete(&self, uid: &str) -> Result<()> {
        self.modify(&format!("dn: uid={uid},ou=people,{BASE}\nchangetype: delete\n"))
    }

    /// Adds a user to a group.
    pub fn add_to_group(&self, uid: &str, group: &str) -> Result<()> {
        self.modify(&format!("dn: {group}\nchangetype: modify\nadd: member\nmember: uid={uid},ou=people,{BASE}\n"))
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}
