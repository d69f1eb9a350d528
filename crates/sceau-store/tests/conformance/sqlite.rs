//! SQLite only: durability and the schema version.

use crate::fixtures::*;
use sceau_domain::policy::{AmountRule, MerchantLock};
use sceau_store::{MerchantCommand, NewSession, Outcome, SqliteStore, Store, StoreError};
use std::sync::Arc;

#[tokio::test]
async fn sqlite_everything_survives_a_reopen() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("sceau.db");
    let f = Fixture::new(Backend {
        name: "sqlite",
        store: Arc::new(SqliteStore::open(&path).unwrap()),
        archive: None,
        guard: Box::new(()),
    });
    let alice = f.client(10_000, 1_000).await;
    let shop = f.merchant().await;
    let card = f
        .issue(
            &alice,
            policy(2, AmountRule::Cap(5_000), MerchantLock::FirstMerchant),
        )
        .await;
    let captured = authorized(f.authorize(shop.id, &card, 3_000, NOW).await);
    let capture = MerchantCommand::Capture {
        authorization_id: captured.id,
        amount: Some(eur(2_000)),
    };
    assert!(matches!(
        f.run(shop.id, capture, NOW + 1).await,
        Outcome::Captured { .. }
    ));
    let refund = MerchantCommand::Refund {
        authorization_id: captured.id,
        amount: Some(eur(500)),
    };
    assert!(matches!(
        f.run(shop.id, refund, NOW + 2).await,
        Outcome::Refunded { .. }
    ));
    let pending = authorized(
        f.store
            .execute(keyed(
                shop.id,
                "k",
                1,
                authorize_command(&card, 1_500),
                NOW + 3,
            ))
            .await
            .unwrap()
            .outcome,
    );
    let token = bytes32(TOKEN_TAG, 1);
    f.store
        .create_session(NewSession {
            token_hash: token,
            client_id: alice.id,
            now_s: NOW,
            expires_at_s: NOW + 100,
        })
        .await
        .unwrap();

    let account = f.account(&alice).await;
    assert_eq!((account.balance, account.held), (8_500, 1_500));
    let number = f.number(&card).await;
    let views = (f.reread(&captured).await, f.reread(&pending).await);
    let messages = f.store.pending_messages(LIST_LIMIT).await.unwrap();
    drop(f); // Closes the writer's queue: the writer thread ends.

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let reopened = Fixture::new(Backend {
        name: "sqlite reopened",
        store,
        archive: None,
        guard: Box::new(directory),
    });
    assert_eq!(reopened.account(&alice).await, account);
    assert_eq!(reopened.number(&card).await, number);
    assert_eq!(
        (
            reopened.reread(&views.0).await,
            reopened.reread(&views.1).await
        ),
        views
    );
    assert_eq!(
        reopened.store.pending_messages(LIST_LIMIT).await.unwrap(),
        messages
    );
    assert_eq!(
        reopened
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(alice.id)
    );
    assert_eq!(
        reopened.store.merchant(shop.id).await.unwrap(),
        Some(shop.clone())
    );
    assert_eq!(
        reopened
            .store
            .session_client(token, NOW + 1)
            .await
            .unwrap()
            .map(|c| c.id),
        Some(alice.id)
    );
    let replayed = reopened
        .store
        .execute(keyed(
            shop.id,
            "k",
            1,
            authorize_command(&card, 1_500),
            NOW + 4,
        ))
        .await
        .unwrap();
    assert!(replayed.replayed, "idempotency keys survive too");
    reopened.assert_sound().await;
}

#[tokio::test]
async fn sqlite_refuses_a_database_from_a_newer_binary() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("sceau.db");
    drop(SqliteStore::open(&path).unwrap());
    let newer = sceau_store::sqlite::schema::SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", newer)
        .unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!((found, known), (newer, newer - 1))
        }
        Err(other) => panic!("expected SchemaTooNew, got {other:?}"),
        Ok(_) => panic!("expected SchemaTooNew, the store opened"),
    }
}
