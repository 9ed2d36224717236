//! The shared artifact store's own suite, run against both backends: a folder, and S3 through a
//! real moto server.

mod moto;

use episodic_engine::store::{ArtifactStore, FolderStore, S3Store};
use moto::Moto;
use std::path::Path;

/// Every behaviour the artifact layer relies on, for one store.
async fn suite(store: &dyn ArtifactStore, scratch: &Path) {
    // Absent objects are `None`, not errors.
    assert_eq!(store.size("objects/missing.mp4").await.expect("the store answers"), None);
    assert_eq!(store.get_bytes("keys/missing").await.expect("the store answers"), None);
    assert!(!store.get_file("objects/missing.mp4", &scratch.join("never")).await.expect("the store answers"));

    // Small objects round-trip, and a second write of the same name replaces the first whole.
    store.put_bytes("keys/a", b"{\"first\":1}".to_vec()).await.expect("the store answers");
    store.put_bytes("keys/a", b"{\"second\":2}".to_vec()).await.expect("the store answers");
    assert_eq!(
        store.get_bytes("keys/a").await.expect("the store answers").expect("the object is there"),
        b"{\"second\":2}"
    );

    // Files round-trip byte for byte.
    let small = scratch.join("small.bin");
    std::fs::write(&small, b"a clip").expect("a local file");
    store.put_file("objects/small.bin", &small).await.expect("the store answers");
    assert_eq!(store.size("objects/small.bin").await.expect("the store answers"), Some(6));
    let back = scratch.join("small.back");
    assert!(store.get_file("objects/small.bin", &back).await.expect("the store answers"));
    assert_eq!(std::fs::read(&back).expect("a local file"), b"a clip");

    // A large object (past the single-PUT size, so S3 takes it in parts) arrives whole.
    let large = scratch.join("large.bin");
    let bytes: Vec<u8> =
        (0..24 * 1024 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&large, &bytes).expect("a local file");
    store.put_file("objects/large.bin", &large).await.expect("the store answers");
    assert_eq!(store.size("objects/large.bin").await.expect("the store answers"), Some(bytes.len() as u64));
    let back = scratch.join("large.back");
    assert!(store.get_file("objects/large.bin", &back).await.expect("the store answers"));
    assert!(std::fs::read(&back).expect("a local file") == bytes, "the large object came back different");

    // Names that would leave the store are refused, not resolved.
    assert!(store.put_bytes("../escape", b"x".to_vec()).await.is_err());
    assert!(store.get_bytes("a/../../b").await.is_err());
}

#[tokio::test]
async fn folder_store() {
    let root = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let store = FolderStore::open(&root.path().join("shared")).unwrap();
    suite(&store, scratch.path()).await;
    // Nothing half-written is left beside the objects.
    let leftovers: Vec<_> =
        walk(&root.path().join("shared")).into_iter().filter(|p| p.contains(".part-")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn s3_store_on_moto() {
    let moto = Moto::start();
    moto.create_bucket("episodic-suite");
    let scratch = tempfile::tempdir().unwrap();
    let store = S3Store::with_settings("s3://episodic-suite/fleet/a", moto.settings()).unwrap();
    assert_eq!(store.location(), "s3://episodic-suite/fleet/a");
    suite(&store, scratch.path()).await;

    // The prefix keeps stores apart in one bucket.
    let other = S3Store::with_settings("s3://episodic-suite/fleet/b", moto.settings()).unwrap();
    assert_eq!(other.get_bytes("keys/a").await.unwrap(), None);

    // A bucket that does not exist is an error naming the store, never a silent miss, and the
    // message holds no credentials.
    let missing = S3Store::with_settings("s3://no-such-bucket", moto.settings()).unwrap();
    let err = missing.put_bytes("keys/a", b"x".to_vec()).await.unwrap_err().to_string();
    assert!(err.contains("s3://no-such-bucket"), "{err}");
    assert!(!err.contains("episodic-test-secret"), "{err}");
}

#[test]
fn s3_urls_are_checked() {
    for bad in ["s3://", "s3:///prefix", "s3://bucket/a/../b", "http://bucket"] {
        assert!(S3Store::with_settings(bad, Vec::new()).is_err(), "{bad}");
    }
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a local file").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}
