//! Runs the shared store conformance suite against the in-memory store.

use switchboard_store_memory::MemoryStore;

#[tokio::test]
async fn memory_passes_the_conformance_suite() {
    switchboard_store::conformance::run_all(|| async { MemoryStore::new() }).await;
}
