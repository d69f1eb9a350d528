//! Issue 23 (6): under a steady load of what only serves the moment (sign-ins, checkouts
//! that expire unpaid with their idempotency keys and webhooks, messages), the database
//! stops growing once the retention windows are reached: the purge removes each day what
//! the day before added. The clock is moved a day at a time; nothing waits on time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use reqwest::StatusCode;
use sceau_domain::retention::Retention;
use sceau_server::clock::ManualClock;
use serde_json::json;

const DAY: i64 = 86_400;
const CHECKOUTS_A_DAY: usize = 15;
const MESSAGES_A_DAY: usize = 40;

/// The tables the purge keeps in check.
const PURGED: [&str; 6] = [
    "sessions",
    "checkouts",
    "idempotency",
    "webhooks",
    "messages",
    "message_parts",
];

/// Rows of each table the purge keeps in check, and the pages they and their indexes
/// take in the file (SQLite's `dbstat`). Evidence records (a checkout's expiry is one)
/// and the log are not the purge's: they grow, as they must.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Size {
    rows: Vec<(&'static str, i64)>,
    pages: i64,
    /// Messages whose text is still kept.
    bodies: i64,
}

fn size(database: &std::path::Path) -> Size {
    let connection = rusqlite::Connection::open(database).unwrap();
    let count = |sql: &str| -> i64 { connection.query_row(sql, [], |row| row.get(0)).unwrap() };
    let rows = PURGED
        .into_iter()
        .map(|table| (table, count(&format!("SELECT count(*) FROM {table}"))))
        .collect();
    let tables = PURGED.map(|table| format!("'{table}'")).join(", ");
    let pages = count(&format!(
        "SELECT count(*) FROM dbstat WHERE name IN \
         (SELECT name FROM sqlite_schema WHERE tbl_name IN ({tables}))"
    ));
    let bodies = count("SELECT count(*) FROM messages WHERE length(sealed_body) > 0");
    Size {
        rows,
        pages,
        bodies,
    }
}

/// Waits until every queued message went out (the dispatcher runs in the background).
async fn outbox_drained(server: &Server) {
    for _ in 0..2_000 {
        if server.service.store.outbox_backlog().await.unwrap().pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the outbox did not drain");
}

/// One day of load: sign-ins, checkouts created with an Idempotency-Key and left to
/// expire (their webhooks delivered), notices sent; then the day passes and the purge
/// runs as its worker does.
async fn one_day(server: &Server, shop: &Merchant, hooks: &str, day: i64) {
    server.sign_in("alice").await;
    server.sign_in("bob").await;
    for n in 0..CHECKOUTS_A_DAY {
        let body = json!({
            "amount": "10.00", "currency": "EUR", "reference": format!("cart-{day}-{n}"),
            "object": "A day's order", "return_url": "http://127.0.0.1:9/shop/return",
            "webhook_url": hooks,
        });
        let key = format!("day-{day}-order-{n}");
        let reply = server
            .merchant_post(shop, "/v1/checkouts", &body, Some(&key))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    for n in 0..MESSAGES_A_DAY {
        let message = sceau_store::NewMessage {
            address: "+33612345678".to_owned(),
            sealed_body: server
                .service
                .keys
                .seal(&format!("notice {day}-{n}"), "+33612345678"),
            medium: sceau_store::Medium::Sms,
            expires_at_s: server.service.now_s() + 3_600,
        };
        server
            .service
            .store
            .enqueue_message(message, server.service.now_s())
            .await
            .unwrap();
    }
    server.service.outbox_ready.notify_one();
    outbox_drained(server).await;
    // An hour later the checkouts have expired (the sweep, as its worker runs it), and
    // their webhooks are delivered.
    server.clock.advance(3_600);
    server
        .service
        .store
        .expire(server.service.now_s())
        .await
        .unwrap();
    server.deliver_webhooks().await;
    // The rest of the day; the purge's worker looks every minute: once a day is enough
    // for what a day adds.
    server.clock.advance(DAY - 3_600);
    server
        .service
        .purge(sceau_app::retention::PURGE_BATCH_MAX, u32::MAX, None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stops_growing_once_the_retention_windows_are_reached() {
    let server = Server::start_adjusted(|settings| {
        settings.retention = Retention {
            sessions_days: 1,
            unpaid_checkouts_days: 2,
            message_bodies_days: 0,
            messages_days: 2,
            webhooks_days: 1,
            idempotency_days: 1,
        };
    })
    .await;
    let hooks = Hooks::start().await;
    let shop = server.enroll_merchant("Shop").await;
    server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    server.enroll_client("bob", "+33612345679", "100.00").await;
    let mut sizes = Vec::new();
    for day in 0..10 {
        one_day(&server, &shop, &hooks.url, day).await;
        sizes.push(size(server.database()));
    }
    for (day, size) in sizes.iter().enumerate() {
        eprintln!("day {day}: {size:?}");
    }

    // The windows are two days at most: from the fourth day on, a day removes what a
    // day adds, row for row.
    for day in 4..sizes.len() {
        assert_eq!(
            sizes[day].rows, sizes[3].rows,
            "day {day}: rows of the purged tables"
        );
    }
    // Without the purge they would be ten days' worth; the window is two days, so the
    // day before's are still there.
    let checkouts = |size: &Size| size.rows.iter().find(|(t, _)| *t == "checkouts").unwrap().1;
    let a_day = CHECKOUTS_A_DAY as i64;
    assert!(
        (2 * a_day..=2 * a_day + 1).contains(&checkouts(&sizes[9])),
        "{:?}",
        sizes[9]
    );
    // Texts go as soon as their messages are delivered (message_bodies_days = 0).
    assert!(sizes.iter().all(|size| size.bodies == 0), "{sizes:?}");
    // And the pages they and their indexes take stop growing.
    for (day, size) in sizes.iter().enumerate().skip(4) {
        assert!(
            size.pages <= sizes[3].pages,
            "day {day}: {} pages, {} on day 3",
            size.pages,
            sizes[3].pages
        );
    }
    // Every webhook was delivered before it was purged.
    assert_eq!(hooks.count(), 10 * CHECKOUTS_A_DAY);
    server.assert_ledger_sound().await;
    server.stop().await;
}

/// A merchant's webhook endpoint on loopback: counts what it got.
struct Hooks {
    url: String,
    received: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Hooks {
    async fn start() -> Hooks {
        let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let kept = std::sync::Arc::clone(&received);
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move || {
                let kept = std::sync::Arc::clone(&kept);
                async move {
                    kept.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hooks { url, received }
    }

    fn count(&self) -> usize {
        self.received.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The purge's worker runs with the server: its first look is at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_purges_when_the_server_starts() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("sceau.db");
    let clock = ManualClock::starting_at(START_S);
    let server = Server::start_on(&database, clock.clone()).await;
    server
        .enroll_client("alice", "+33612345678", "100.00")
        .await;
    server.sign_in("alice").await;
    server.stop().await;
    assert_eq!(size(&database).rows[0], ("sessions", 1));
    // Past the session's expiry and a day (the default window): a server started now
    // purges it at once.
    clock.advance(2 * DAY);
    let server = Server::start_on(&database, clock).await;
    for _ in 0..2_000 {
        if size(&database).rows[0] == ("sessions", 0) {
            server.stop().await;
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the session was not purged");
}
