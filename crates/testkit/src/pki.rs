//! Test certificates: a CA of the test's own, and a server certificate it signs for
//! `localhost` and 127.0.0.1 (what the servers the tests start listen as).

use anyhow::Result;
use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};

/// A self-signed CA named `name`.
pub fn ca(name: &str) -> Result<(Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    Ok((params.self_signed(&key)?, key))
}

/// A certificate for `localhost` and 127.0.0.1 signed by `ca`, and its key.
pub fn localhost_cert(ca: &(Certificate, KeyPair)) -> Result<(Certificate, KeyPair)> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params.distinguished_name.push(DnType::CommonName, "localhost");
    Ok((params.signed_by(&key, &ca.0, &ca.1)?, key))
}
