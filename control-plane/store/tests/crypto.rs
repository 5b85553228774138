//! Encryption at rest: nothing in clear on disk, rotation, tamper detection.

use std::sync::Arc;

use diego_store::{
    open_local, AtRest, EmbeddedOptions, EmbeddedStore, EncryptedStore, Keyring, Op, Store,
    StoreError, Txn,
};

fn put(key: &str, value: &[u8]) -> Txn {
    Txn {
        ops: vec![Op::Put {
            key: key.to_string(),
            value: value.to_vec(),
        }],
        log: vec![value.to_vec()],
        ..Txn::default()
    }
}

fn encrypted() -> EncryptedStore<EmbeddedStore> {
    let inner = EmbeddedStore::in_memory(EmbeddedOptions::default()).unwrap();
    EncryptedStore::new(inner, Keyring::new("k1", [1; 32]).unwrap())
}

#[tokio::test]
async fn backend_never_sees_plaintext() {
    let store = encrypted();
    store
        .commit(put("secret/a", b"hunter2-hunter2"))
        .await
        .unwrap();
    let raw = store.inner().get("secret/a").await.unwrap().unwrap();
    assert_eq!(
        &raw.value[..4],
        &[1, 2, b'k', b'1'],
        "version, id length, key id"
    );
    assert!(!raw.value.windows(7).any(|w| w == b"hunter2"));
    let raw_log = store.inner().log_since(0, 10).await.unwrap();
    assert!(!raw_log[0].entries[0].windows(7).any(|w| w == b"hunter2"));
    assert_eq!(
        store.log_since(0, 10).await.unwrap()[0].entries[0],
        b"hunter2-hunter2"
    );
}

#[tokio::test]
async fn a_sealed_scan_hands_back_ciphertext_and_an_opener_that_checks_it() {
    let store = encrypted();
    store.commit(put("s/a", b"hunter2-hunter2")).await.unwrap();
    store.commit(put("s/b", b"value-b")).await.unwrap();
    let sealed = store.scan_prefix_sealed("s/").await.unwrap();
    assert!(
        sealed.opener.is_some(),
        "an encrypting store leaves opening to the caller"
    );
    assert!(!sealed.records[0].value.windows(7).any(|w| w == b"hunter2"));
    let mut opened = sealed.records.clone();
    for r in &mut opened {
        sealed.open(r).unwrap();
    }
    assert_eq!(opened, store.scan_prefix("s/").await.unwrap().0);
    // a ciphertext under another key fails to open, naming the record
    let mut moved = sealed.records[0].clone();
    moved.key = "s/b".into();
    match sealed.open(&mut moved) {
        Err(StoreError::Envelope { key, .. }) => assert_eq!(key, "s/b"),
        other => panic!("moved ciphertext was opened: {other:?}"),
    }
}

#[tokio::test]
async fn rotation_and_reencryption() {
    let inner = Arc::new(EmbeddedStore::in_memory(EmbeddedOptions::default()).unwrap());
    let store = EncryptedStore::new(inner.clone(), Keyring::new("k1", [1; 32]).unwrap());
    for i in 0..600u32 {
        store
            .commit(put(&format!("r/{i:04}"), &i.to_le_bytes()))
            .await
            .unwrap();
    }
    store.rotate("k2", [2; 32]).unwrap();
    assert_eq!(store.keyring().active_id(), "k2");
    // old records still read with the old key; new writes use the new one
    assert_eq!(
        store.get("r/0001").await.unwrap().unwrap().value,
        1u32.to_le_bytes()
    );
    store.commit(put("r/new", b"n")).await.unwrap();
    let raw = inner.get("r/new").await.unwrap().unwrap();
    assert_eq!(&raw.value[2..4], b"k2");

    assert_eq!(store.reencrypt_all().await.unwrap(), 600);
    assert_eq!(
        store.reencrypt_all().await.unwrap(),
        0,
        "second pass has nothing to do"
    );
    let (raw, _) = inner.scan_prefix("r/").await.unwrap();
    assert!(raw.iter().all(|r| &r.value[2..4] == b"k2"));

    // once re-encrypted, the records no longer need k1
    let mut ring = store.keyring();
    ring.remove("k1").unwrap();
    let without_k1 = EncryptedStore::new(inner.clone(), ring);
    let (records, _) = without_k1.scan_prefix("r/").await.unwrap();
    assert_eq!(records.len(), 601);
    assert_eq!(records[7].value, 7u32.to_le_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reencryption_races_with_writers() {
    let store = Arc::new(encrypted());
    for i in 0..300u32 {
        store
            .commit(put(&format!("w/{i:03}"), &i.to_le_bytes()))
            .await
            .unwrap();
    }
    store.rotate("k2", [2; 32]).unwrap();
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for round in 0..3u32 {
                for i in (0..300u32).step_by(7) {
                    let value = (i + 1000 * round).to_le_bytes();
                    store
                        .commit(put(&format!("w/{i:03}"), &value))
                        .await
                        .unwrap();
                }
            }
        })
    };
    store.reencrypt_all().await.unwrap();
    writer.await.unwrap();
    let (raw, _) = store.inner().scan_prefix("w/").await.unwrap();
    assert!(
        raw.iter().all(|r| &r.value[2..4] == b"k2"),
        "every record ends under k2"
    );
    let (records, _) = store.scan_prefix("w/").await.unwrap();
    for (i, r) in records.iter().enumerate() {
        let i = i as u32;
        let want = if i.is_multiple_of(7) { i + 2000 } else { i };
        assert_eq!(
            r.value,
            want.to_le_bytes(),
            "no write was lost to re-encryption"
        );
    }
}

#[tokio::test]
async fn rotation_is_persisted_and_old_keys_still_read() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_local(dir.path(), AtRest::Encrypted, EmbeddedOptions::default()).unwrap();
        store.commit(put("a", b"before")).await.unwrap();
    }
    let ring = Keyring::load_or_create(dir.path()).unwrap();
    let old_id = ring.active_id().to_string();
    {
        let inner =
            EmbeddedStore::open(&dir.path().join("store.redb"), Default::default()).unwrap();
        let store = EncryptedStore::new(inner, ring);
        store
            .rotate("rotated", Keyring::key_from_passphrase("pw"))
            .unwrap();
        store.commit(put("b", b"after")).await.unwrap();
    }
    let ring = Keyring::load_or_create(dir.path()).unwrap();
    assert_eq!(ring.active_id(), "rotated");
    assert!(ring.key_ids().any(|id| id == old_id));
    let store = open_local(dir.path(), AtRest::Encrypted, EmbeddedOptions::default()).unwrap();
    assert_eq!(store.get("a").await.unwrap().unwrap().value, b"before");
    assert_eq!(store.get("b").await.unwrap().unwrap().value, b"after");
}

#[tokio::test]
async fn tampering_and_unknown_keys_are_detected() {
    let store = encrypted();
    store.commit(put("a", b"value-a")).await.unwrap();
    store.commit(put("b", b"value-b")).await.unwrap();
    let raw_a = store.inner().get("a").await.unwrap().unwrap().value;

    // a ciphertext moved to another key fails: the key is associated data
    store.inner().commit(put("b", &raw_a)).await.unwrap();
    match store.get("b").await {
        Err(StoreError::Envelope { key, reason }) => {
            assert_eq!(key, "b");
            assert!(reason.contains("k1"), "{reason}");
        }
        other => panic!("moved ciphertext was accepted: {other:?}"),
    }

    // a flipped bit fails
    let mut flipped = raw_a.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x80;
    store.inner().commit(put("a", &flipped)).await.unwrap();
    assert!(matches!(
        store.get("a").await,
        Err(StoreError::Envelope { .. })
    ));
    assert!(matches!(
        store.scan_prefix("").await,
        Err(StoreError::Envelope { .. })
    ));

    // a key id nobody knows is named in the error
    let other = EncryptedStore::new(
        EmbeddedStore::in_memory(EmbeddedOptions::default()).unwrap(),
        Keyring::new("other-key", [9; 32]).unwrap(),
    );
    other.commit(put("c", b"x")).await.unwrap();
    let foreign = other.inner().get("c").await.unwrap().unwrap().value;
    store.inner().commit(put("c", &foreign)).await.unwrap();
    match store.get("c").await {
        Err(StoreError::Envelope { reason, .. }) => assert!(reason.contains("other-key")),
        other => panic!("unknown key id was accepted: {other:?}"),
    }
    // payloads sealed for a record do not open as log entries (different associated data)
    assert!(matches!(
        store.log_since(0, 10).await,
        Err(StoreError::Envelope { .. })
    ));
}

#[tokio::test]
async fn plaintext_option_stores_values_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_local(dir.path(), AtRest::Plaintext, EmbeddedOptions::default()).unwrap();
    store.commit(put("a", b"clear")).await.unwrap();
    drop(store);
    assert!(
        !dir.path().join("keyring").exists(),
        "plaintext needs no key file"
    );
    let raw = EmbeddedStore::open(&dir.path().join("store.redb"), Default::default()).unwrap();
    assert_eq!(raw.get("a").await.unwrap().unwrap().value, b"clear");
}

/// The start-up migration (ADR 0028): moves records once, records the label,
/// and costs one read when the store is already on the active key.
#[tokio::test]
async fn the_start_up_migration_moves_records_once_and_records_the_label() {
    use diego_store::{migrate_to_active_key, AtRestStore, Migration};
    let inner = EmbeddedStore::in_memory(EmbeddedOptions::default()).unwrap();
    let opened = AtRestStore::encrypted(inner, Keyring::new("k1", [1; 32]).unwrap());
    let (store, keys) = (opened.store, opened.keys.expect("encrypted"));
    for i in 0..10 {
        store
            .commit(put(&format!("r/{i}"), b"value"))
            .await
            .unwrap();
    }
    let first = migrate_to_active_key(store.as_ref(), keys.as_ref())
        .await
        .unwrap();
    assert_eq!(
        first,
        Migration::Migrated {
            from: None,
            to: "k1".into(),
            records: 0
        },
        "a store without a label is checked once and labelled"
    );
    let label = store
        .get(diego_store::crypto::KEY_LABEL)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(label.value, b"k1");
    assert_eq!(
        migrate_to_active_key(store.as_ref(), keys.as_ref())
            .await
            .unwrap(),
        Migration::UpToDate
    );
}
