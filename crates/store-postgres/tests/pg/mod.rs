//! Throwaway databases for tests (the server's tests include this file by
//! path, so both crates gate on the same variables the same way).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::Connection;

/// The admin URL from `SWITCHBOARD_TEST_PG_URL`, or `None` (after a skip
/// notice) when it is unset and `SWITCHBOARD_REQUIRE_PG` is not `1`.
pub fn admin_url() -> Option<String> {
    match std::env::var("SWITCHBOARD_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("SWITCHBOARD_REQUIRE_PG").as_deref() == Ok("1") => panic!(
            "SWITCHBOARD_REQUIRE_PG=1 but SWITCHBOARD_TEST_PG_URL is unset: \
             set it to an admin URL, e.g. postgres://switchboard:switchboard@127.0.0.1:5432/postgres"
        ),
        _ => {
            // Straight to the process's stderr: the test harness captures
            // eprintln! and shows it only for failures, and a silent skip
            // looks like a pass.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: set SWITCHBOARD_TEST_PG_URL to run the PostgreSQL tests"
            );
            None
        }
    }
}

/// A fresh database name and the URL that connects to it (the admin URL
/// with its database replaced).
pub fn fresh_database_url(admin: &str) -> (String, String) {
    let name = format!("sb_{:016x}", rand::random::<u64>());
    let (base, query) = admin
        .split_once('?')
        .map_or((admin, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let base = match base.rfind('/') {
        Some(slash) if slash >= authority => &base[..slash],
        _ => base,
    };
    let url = match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    };
    (name, url)
}

/// Creates database `name` through the admin connection.
pub async fn create_database(admin: &str, name: &str) {
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

/// Drops a test database, closing its remaining connections; a failure is
/// only reported, since a leftover database harms no later run.
pub async fn drop_database(admin: &str, name: &str) {
    let Ok(mut conn) = sqlx::PgConnection::connect(admin).await else {
        return;
    };
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
    {
        eprintln!("could not drop test database {name}: {e}");
    }
    let _ = conn.close().await;
}
