//! Encryption keys at rest: which key encrypts new writes (the active one)
//! and every key that may still be needed to read old data.
//!
//! File format (`<data dir>/keyring`, mode 0600), one item per line:
//! `active <id>` and `key <id> <64 hex chars>`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Name of the key file inside the data directory.
pub const KEYRING_FILE: &str = "keyring";

/// Key ids travel in every envelope behind a one-byte length.
const MAX_KEY_ID_BYTES: usize = 255;

#[derive(Clone)]
pub struct Keyring {
    active: String,
    keys: BTreeMap<String, [u8; 32]>,
    /// Where `save` writes; set by `load_or_create`.
    file: Option<PathBuf>,
}

impl fmt::Debug for Keyring {
    // key bytes never reach logs
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("file", &self.file)
            .finish()
    }
}

fn keyring_error(reason: String) -> StoreError {
    StoreError::Backend(format!("keyring: {reason}"))
}

impl Keyring {
    /// A keyring holding one key, which is active.
    pub fn new(active_id: &str, key: [u8; 32]) -> Result<Self, StoreError> {
        validate_id(active_id)?;
        Ok(Self {
            active: active_id.to_string(),
            keys: BTreeMap::from([(active_id.to_string(), key)]),
            file: None,
        })
    }

    /// A keyring with one fresh random key.
    pub fn generate() -> Self {
        let mut id_bytes = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        let id = format!("key-{}", hex::encode(id_bytes));
        Self {
            active: id.clone(),
            keys: BTreeMap::from([(id, random_key())]),
            file: None,
        }
    }

    /// Derives the key as the original BBS does: SHA-256 of a passphrase.
    pub fn key_from_passphrase(passphrase: &str) -> [u8; 32] {
        Sha256::digest(passphrase.as_bytes()).into()
    }

    /// A keyring from configuration, as the original BBS takes it
    /// (`encryption_keys` label -> passphrase, `active_key_label`): every
    /// replica given the same passphrases has the same keys, and nothing is
    /// written to the data dir. `active` may be omitted with one key only.
    pub fn from_passphrases(
        keys: &[(String, String)],
        active: Option<&str>,
    ) -> Result<Self, StoreError> {
        let (first, _) = keys
            .first()
            .ok_or_else(|| keyring_error("no encryption key given".into()))?;
        let active = match active {
            Some(a) => a,
            None if keys.len() == 1 => first.as_str(),
            None => {
                return Err(keyring_error(format!(
                    "{} encryption keys given but no active key label: say which one encrypts new writes",
                    keys.len()
                )))
            }
        };
        let mut ring = Keyring {
            active: String::new(),
            keys: BTreeMap::new(),
            file: None,
        };
        for (label, passphrase) in keys {
            if passphrase.is_empty() {
                return Err(keyring_error(format!(
                    "encryption key {label:?} has an empty passphrase"
                )));
            }
            if ring.keys.contains_key(label) {
                return Err(keyring_error(format!(
                    "encryption key label {label:?} is given twice"
                )));
            }
            ring.add(label, Self::key_from_passphrase(passphrase))?;
        }
        ring.set_active(active).map_err(|_| {
            keyring_error(format!(
                "active key label {active:?} is not among the encryption keys ({})",
                ring.keys.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        Ok(ring)
    }

    /// Parses one `LABEL:PASSPHRASE` (the passphrase may contain colons).
    pub fn parse_key_flag(flag: &str) -> Result<(String, String), StoreError> {
        match flag.split_once(':') {
            Some((label, passphrase)) if !label.is_empty() => {
                Ok((label.to_string(), passphrase.to_string()))
            }
            _ => Err(keyring_error(
                "an encryption key is LABEL:PASSPHRASE (e.g. key-2026:a-long-secret)".into(),
            )),
        }
    }

    /// Reads `<dir>/keyring`, or creates it with a random key on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, StoreError> {
        let file = dir.join(KEYRING_FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                warn_if_readable_by_others(&file);
                let mut ring = Self::parse(&text)
                    .map_err(|r| keyring_error(format!("{}: {r}", file.display())))?;
                ring.file = Some(file);
                Ok(ring)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| keyring_error(format!("cannot create {}: {e}", dir.display())))?;
                let mut ring = Self::generate();
                ring.file = Some(file);
                ring.save()?;
                tracing::info!(key_id = %ring.active, "created a new store encryption key");
                Ok(ring)
            }
            Err(e) => Err(keyring_error(format!(
                "cannot read {}: {e}",
                file.display()
            ))),
        }
    }

    /// Writes the keyring to its file (atomically: temp file + rename).
    /// A keyring not loaded from a directory has nowhere to go and is not saved.
    pub fn save(&self) -> Result<(), StoreError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let tmp = file.with_extension("tmp");
        let io = |what: &str, e: std::io::Error| keyring_error(format!("cannot {what}: {e}"));
        let mut out = open_private(&tmp).map_err(|e| io("create key file", e))?;
        out.write_all(self.render().as_bytes())
            .and_then(|_| out.sync_all())
            .map_err(|e| io("write key file", e))?;
        std::fs::rename(&tmp, file).map_err(|e| io("replace key file", e))?;
        if let Some(dir) = file.parent() {
            // the rename is only durable once the directory is synced
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Adds a key (not active yet). Re-adding the same id with the same key is a no-op.
    pub fn add(&mut self, id: &str, key: [u8; 32]) -> Result<(), StoreError> {
        validate_id(id)?;
        match self.keys.get(id) {
            Some(existing) if *existing != key => Err(keyring_error(format!(
                "key id {id} already exists with a different key"
            ))),
            _ => {
                self.keys.insert(id.to_string(), key);
                Ok(())
            }
        }
    }

    /// Makes a known key the one new writes use.
    pub fn set_active(&mut self, id: &str) -> Result<(), StoreError> {
        if !self.keys.contains_key(id) {
            return Err(keyring_error(format!("unknown key id {id}")));
        }
        self.active = id.to_string();
        Ok(())
    }

    /// Drops a key that is no longer needed (after `reencrypt_all` and the
    /// log retention window). The active key cannot be removed.
    pub fn remove(&mut self, id: &str) -> Result<(), StoreError> {
        if id == self.active {
            return Err(keyring_error(format!("cannot remove the active key {id}")));
        }
        self.keys.remove(id);
        Ok(())
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = (&str, &[u8; 32])> {
        self.keys.iter().map(|(id, key)| (id.as_str(), key))
    }

    fn render(&self) -> String {
        let mut text = format!("active {}\n", self.active);
        for (id, key) in &self.keys {
            text.push_str(&format!("key {id} {}\n", hex::encode(key)));
        }
        text
    }

    fn parse(text: &str) -> Result<Self, String> {
        let mut active = None;
        let mut keys = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["active", id] => active = Some(id.to_string()),
                ["key", id, key_hex] => {
                    let bytes = hex::decode(key_hex)
                        .map_err(|_| format!("line {}: key is not hex", n + 1))?;
                    let key: [u8; 32] = bytes
                        .try_into()
                        .map_err(|_| format!("line {}: key is not 32 bytes", n + 1))?;
                    keys.insert(id.to_string(), key);
                }
                _ => return Err(format!("line {}: not understood", n + 1)),
            }
        }
        let active = active.ok_or("no active key")?;
        if !keys.contains_key(&active) {
            return Err(format!("active key {active} is not in the file"));
        }
        Ok(Self {
            active,
            keys,
            file: None,
        })
    }
}

pub(crate) fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

fn validate_id(id: &str) -> Result<(), StoreError> {
    if id.is_empty() || id.len() > MAX_KEY_ID_BYTES || id.chars().any(char::is_whitespace) {
        return Err(keyring_error(format!(
            "invalid key id {id:?} (1..=255 bytes, no whitespace)"
        )));
    }
    Ok(())
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "key file is accessible to other users; chmod 600 it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(l, p)| (l.to_string(), p.to_string()))
            .collect()
    }

    #[test]
    fn passphrases_give_the_same_keys_on_every_replica_and_name_the_active_one() {
        let keys = pairs(&[("old", "first secret"), ("new", "second secret")]);
        let a = Keyring::from_passphrases(&keys, Some("new")).unwrap();
        let b = Keyring::from_passphrases(&keys, Some("new")).unwrap();
        assert_eq!(a.render(), b.render());
        assert_eq!(a.active_id(), "new");
        assert_eq!(a.key_ids().collect::<Vec<_>>(), vec!["new", "old"]);
        assert!(a.file().is_none(), "nothing is written to the data dir");
        let one = Keyring::from_passphrases(&pairs(&[("only", "s")]), None).unwrap();
        assert_eq!(one.active_id(), "only");
    }

    #[test]
    fn bad_key_configuration_is_refused_with_the_reason() {
        let err = |keys: &[(&str, &str)], active: Option<&str>| {
            Keyring::from_passphrases(&pairs(keys), active)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[], None).contains("no encryption key"));
        assert!(err(&[("a", "x"), ("b", "y")], None).contains("no active key label"));
        assert!(err(&[("a", "x")], Some("b")).contains("\"b\" is not among"));
        assert!(err(&[("a", "")], None).contains("empty passphrase"));
        assert!(err(&[("a", "x"), ("a", "y")], Some("a")).contains("given twice"));
        assert!(err(&[("bad id", "x")], None).contains("invalid key id"));
        assert_eq!(
            Keyring::parse_key_flag("k1:pass:with:colons").unwrap(),
            ("k1".to_string(), "pass:with:colons".to_string())
        );
        assert!(Keyring::parse_key_flag("no-colon").is_err());
        assert!(Keyring::parse_key_flag(":nolabel").is_err());
    }

    #[test]
    fn file_round_trip_and_perms() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keyring::load_or_create(dir.path()).unwrap();
        let again = Keyring::load_or_create(dir.path()).unwrap();
        assert_eq!(first.active_id(), again.active_id());
        assert_eq!(first.render(), again.render());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEYRING_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn rejects_bad_ids_and_conflicting_keys() {
        let mut ring = Keyring::new("a", [1; 32]).unwrap();
        assert!(ring.add("", [2; 32]).is_err());
        assert!(ring.add("has space", [2; 32]).is_err());
        assert!(ring.add("a", [2; 32]).is_err());
        ring.add("a", [1; 32]).unwrap();
        assert!(ring.set_active("b").is_err());
        assert!(ring.remove("a").is_err());
        assert!(!format!("{ring:?}").contains("0101"));
    }
}
