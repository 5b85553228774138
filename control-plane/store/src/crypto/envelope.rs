//! The sealed byte layout:
//! `[format u8 = 1][key id len u8][key id][nonce 12][ciphertext + tag 16]`.
//! The key id rides in clear so reads pick the right key and re-encryption
//! can tell which records still use an old key without decrypting them.

use std::collections::HashMap;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;

use super::keyring::Keyring;

const FORMAT_V1: u8 = 1;
const NONCE_BYTES: usize = 12;
const TAG_BYTES: usize = 16;

/// The keyring turned into ready ciphers (the AES key schedule is computed once).
pub(crate) struct Ciphers {
    active: String,
    by_id: HashMap<String, Aes256Gcm>,
}

impl Ciphers {
    pub(crate) fn new(ring: &Keyring) -> Self {
        let by_id = ring
            .keys()
            .map(|(id, key)| {
                let key = Key::<Aes256Gcm>::from_slice(key);
                (id.to_string(), Aes256Gcm::new(key))
            })
            .collect();
        Self {
            active: ring.active_id().to_string(),
            by_id,
        }
    }

    pub(crate) fn active_id(&self) -> &str {
        &self.active
    }

    /// Seals with the active key.
    pub(crate) fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let cipher = &self.by_id[&self.active];
        let id = self.active.as_bytes();
        let header_bytes = 2 + id.len() + NONCE_BYTES;
        let mut out = Vec::with_capacity(header_bytes + plaintext.len() + TAG_BYTES);
        out.push(FORMAT_V1);
        // ids are validated to fit one byte when added to the keyring
        out.push(id.len() as u8);
        out.extend_from_slice(id);
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = cipher
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), aad, &mut out[header_bytes..])
            .expect("aes-gcm encryption cannot fail for messages under 64 GiB");
        out.extend_from_slice(&tag);
        out
    }

    /// Opens bytes sealed with any known key; the error text names the key id.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, String> {
        let mut plain = sealed.to_vec();
        self.open_in_place(aad, &mut plain)?;
        Ok(plain)
    }

    /// Like `open`, but turns `sealed` into the plaintext in its own buffer:
    /// large scans then neither allocate nor free a buffer per record. On
    /// error `sealed` is left in an unspecified state.
    pub(crate) fn open_in_place(&self, aad: &[u8], sealed: &mut Vec<u8>) -> Result<(), String> {
        let parts = parse(sealed)?;
        let cipher = self
            .by_id
            .get(parts.key_id)
            .ok_or_else(|| format!("unknown key id {}", parts.key_id))?;
        let nonce = *Nonce::from_slice(parts.nonce);
        let body_start = sealed.len() - parts.body.len();
        let body_end = sealed.len() - TAG_BYTES;
        let (head, tag) = sealed.split_at_mut(body_end);
        let tag = aes_gcm::Tag::clone_from_slice(tag);
        cipher
            .decrypt_in_place_detached(&nonce, aad, &mut head[body_start..], &tag)
            .map_err(|_| {
                let key_id = parse(sealed).map(|p| p.key_id.to_string());
                format!(
                    "authentication failed with key id {}",
                    key_id.unwrap_or_default()
                )
            })?;
        sealed.copy_within(body_start..body_end, 0);
        sealed.truncate(body_end - body_start);
        Ok(())
    }
}

pub(crate) struct Parts<'a> {
    pub(crate) key_id: &'a str,
    nonce: &'a [u8],
    body: &'a [u8],
}

pub(crate) fn parse(sealed: &[u8]) -> Result<Parts<'_>, String> {
    let (&format, rest) = sealed.split_first().ok_or("empty envelope")?;
    if format != FORMAT_V1 {
        return Err(format!("unknown envelope format {format}"));
    }
    let (&id_len, rest) = rest.split_first().ok_or("truncated envelope")?;
    let id_len = id_len as usize;
    if rest.len() < id_len + NONCE_BYTES + TAG_BYTES {
        return Err("truncated envelope".to_string());
    }
    let (id, rest) = rest.split_at(id_len);
    let key_id = std::str::from_utf8(id).map_err(|_| "key id is not utf-8")?;
    let (nonce, body) = rest.split_at(NONCE_BYTES);
    Ok(Parts {
        key_id,
        nonce,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ciphers() -> Ciphers {
        Ciphers::new(&Keyring::new("k1", [7; 32]).unwrap())
    }

    #[test]
    fn seal_open_round_trip() {
        let c = ciphers();
        let sealed = c.seal(b"aad", b"hello");
        assert_eq!(sealed[0], FORMAT_V1);
        assert_eq!(parse(&sealed).unwrap().key_id, "k1");
        assert_eq!(c.open(b"aad", &sealed).unwrap(), b"hello");
        assert_eq!(c.open(b"aad", &c.seal(b"aad", b"")).unwrap(), b"");
    }

    #[test]
    fn wrong_aad_or_flipped_bit_fails() {
        let c = ciphers();
        let mut sealed = c.seal(b"aad", b"hello");
        assert!(c.open(b"other", &sealed).unwrap_err().contains("k1"));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(c.open(b"aad", &sealed).is_err());
        assert!(c.open(b"aad", &sealed[..5]).is_err());
        assert!(c.open(b"aad", &[]).is_err());
    }
}
