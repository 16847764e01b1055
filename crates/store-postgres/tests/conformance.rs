//! Runs the shared store conformance suite against PostgreSQL.
//!
//! Needs `SWITCHBOARD_TEST_PG_URL`: an admin connection URL (a role with
//! CREATEDB), e.g. `postgres://switchboard:switchboard@127.0.0.1:5432/postgres`.
//! Each check gets a database of its own, dropped afterwards. Without the
//! variable the test is skipped, unless `SWITCHBOARD_REQUIRE_PG=1` (CI).

mod pg;

use switchboard_store_postgres::PgStore;

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let Some(admin) = pg::admin_url() else {
        return;
    };
    let created = std::sync::Mutex::new(Vec::new());
    switchboard_store::conformance::run_all(|| {
        let (name, url) = pg::fresh_database_url(&admin);
        created.lock().unwrap().push(name.clone());
        let admin = admin.clone();
        async move {
            pg::create_database(&admin, &name).await;
            PgStore::connect(&url).await.unwrap()
        }
    })
    .await;
    let names = std::mem::take(&mut *created.lock().unwrap());
    for name in names {
        pg::drop_database(&admin, &name).await;
    }
}
