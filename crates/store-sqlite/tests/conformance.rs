//! Runs the shared store conformance suite against SQLite.

use switchboard_store_sqlite::SqliteStore;

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    switchboard_store::conformance::run_all(|| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let url = format!("sqlite://{}", dir.path().join(format!("c{n}.db")).display());
        async move { SqliteStore::connect(&url).await.unwrap() }
    })
    .await;
}
