//! Certificate generation with rcgen: a CA and component certificates for
//! mutual TLS. ECDSA P-256 by default; RSA 2048 where a peer needs it (the Go
//! BBS client's TLS 1.2 cipher list has only RSA key exchange suites). ring
//! cannot generate RSA keys, so the `rsa` crate makes the key and rcgen signs.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256,
};
use time::{Duration, OffsetDateTime};

use crate::TlsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcdsaP256,
    Rsa2048,
}

/// The components `diego certs init` makes certificates for, with their key
/// types: the gateway is RSA for the Go client, the rest ECDSA.
pub const COMPONENTS: &[(&str, KeyType)] = &[
    ("bbs", KeyType::EcdsaP256),
    ("gateway", KeyType::Rsa2048),
    ("auctioneer", KeyType::EcdsaP256),
    ("cell", KeyType::EcdsaP256),
    ("client", KeyType::EcdsaP256),
];

/// A PEM certificate and its PEM (PKCS#8) key.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What a leaf certificate says.
#[derive(Debug, Clone)]
pub struct LeafSpec {
    pub common_name: String,
    /// DNS names or IP addresses (SANs).
    pub hosts: Vec<String>,
    pub key_type: KeyType,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl LeafSpec {
    /// Valid from an hour ago (clock skew between machines) for `days`, for
    /// 127.0.0.1, ::1 and localhost plus `extra_hosts`.
    pub fn new(common_name: &str, extra_hosts: &[String], key_type: KeyType, days: u32) -> Self {
        let now = OffsetDateTime::now_utc();
        let mut hosts = vec!["127.0.0.1".to_string(), "::1".into(), "localhost".into()];
        for h in extra_hosts {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        LeafSpec {
            common_name: common_name.into(),
            hosts,
            key_type,
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(i64::from(days)),
        }
    }
}

/// A certificate authority in memory.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn gen_err(e: impl std::fmt::Display) -> TlsError {
    TlsError::Generate(e.to_string())
}

fn key_pair(t: KeyType) -> Result<KeyPair, TlsError> {
    match t {
        KeyType::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err),
        KeyType::Rsa2048 => {
            use rsa::pkcs8::{EncodePrivateKey, LineEnding};
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(gen_err)?;
            let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(gen_err)?;
            KeyPair::from_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).map_err(gen_err)
        }
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "diego-rs");
    dn.push(DnType::CommonName, common_name);
    dn
}

impl Ca {
    /// A fresh CA valid for `days`. Its name carries a random suffix, so a
    /// certificate of another CA is told apart by name, not only by signature.
    pub fn generate(days: u32) -> Result<Ca, TlsError> {
        let now = OffsetDateTime::now_utc();
        Ca::generate_valid(
            now - Duration::hours(1),
            now + Duration::days(i64::from(days)),
        )
    }

    pub fn generate_valid(
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Ca, TlsError> {
        let key = key_pair(KeyType::EcdsaP256)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err)?;
        let suffix: u32 = rand::random();
        params.distinguished_name = name(&format!("diego-rs ca {suffix:08x}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.self_signed(&key).map_err(gen_err)?;
        Ok(Ca { cert, key })
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A leaf for both server and client use: every component is a server
    /// to some peers and a client of others (the BBS calls the reps).
    pub fn issue(&self, spec: &LeafSpec) -> Result<Issued, TlsError> {
        let key = key_pair(spec.key_type)?;
        let mut params = CertificateParams::new(spec.hosts.clone()).map_err(gen_err)?;
        params.distinguished_name = name(&spec.common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = match spec.key_type {
            // RSA key exchange (TLS 1.2 non-ECDHE suites) encrypts to the key.
            KeyType::Rsa2048 => vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
            KeyType::EcdsaP256 => vec![KeyUsagePurpose::DigitalSignature],
        };
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = spec.not_before;
        params.not_after = spec.not_after;
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(gen_err)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What `diego certs init` asks for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub dir: PathBuf,
    pub extra_hosts: Vec<String>,
    pub days: u32,
    /// Replace an existing CA (and so every certificate).
    pub force: bool,
}

/// Writes `ca.pem`, `ca-key.pem` and `<component>.pem`/`<component>-key.pem`
/// for every component; returns the files written. Refuses to replace an
/// existing CA without `force`: certificates already handed out would stop
/// being trusted.
pub fn init_dir(o: &InitOptions) -> Result<Vec<PathBuf>, TlsError> {
    if o.days == 0 {
        return Err(TlsError::Generate("--days must be at least 1".into()));
    }
    let ca_path = o.dir.join("ca.pem");
    if ca_path.exists() && !o.force {
        return Err(TlsError::Exists { path: ca_path });
    }
    std::fs::create_dir_all(&o.dir).map_err(|source| TlsError::Write {
        path: o.dir.clone(),
        source,
    })?;
    let ca = Ca::generate(o.days)?;
    let mut files = Vec::new();
    // Leaves first, CA last: an interrupted run leaves no CA behind, so the
    // next run is not refused.
    for (component, key_type) in COMPONENTS {
        let issued = ca.issue(&LeafSpec::new(component, &o.extra_hosts, *key_type, o.days))?;
        files.push(write(
            &o.dir.join(format!("{component}.pem")),
            &issued.cert_pem,
            false,
        )?);
        files.push(write(
            &o.dir.join(format!("{component}-key.pem")),
            &issued.key_pem,
            true,
        )?);
    }
    files.push(write(&o.dir.join("ca-key.pem"), &ca.key_pem(), true)?);
    files.push(write(&ca_path, &ca.cert_pem(), false)?);
    Ok(files)
}

fn write(path: &Path, contents: &str, secret: bool) -> Result<PathBuf, TlsError> {
    let err = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(path, contents).map_err(err)?;
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    Ok(path.to_path_buf())
}
