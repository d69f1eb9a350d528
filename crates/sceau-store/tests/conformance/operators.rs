//! The issuer's operators: accounts, sign-in with its pauses, sessions, and actions that
//! are written only with their evidence record.

use crate::fixtures::*;
use sceau_domain::limits::SIGN_IN_FAILURES_MAX;
use sceau_domain::operator::{Actor, OperatorAction, OperatorLogin};
use sceau_store::{
    ActionOutcome, NewOperator, NewOperatorSession, OperatorActs, OperatorRecord, OperatorSignIn,
    SignInVerdict, password_digest,
};

async fn operator(f: &Fixture, login: &str) -> OperatorRecord {
    f.store
        .add_operator(NewOperator {
            login: login.parse::<OperatorLogin>().unwrap(),
            password_hash: format!("hash of {login}"),
            now_s: NOW,
        })
        .await
        .unwrap()
        .expect("a new login")
}

/// An attempt checked against the hash stored now.
async fn attempt(f: &Fixture, operator_id: i64, right: bool, now_s: i64) -> Option<SignInVerdict> {
    let stored = f
        .store
        .operator_by_login(if operator_id == 0 { "" } else { "ops" })
        .await
        .unwrap()
        .map(|operator| operator.password_hash)
        .unwrap_or_default();
    checked_against(f, operator_id, right, &stored, now_s).await
}

async fn checked_against(
    f: &Fixture,
    operator_id: i64,
    right: bool,
    hash: &str,
    now_s: i64,
) -> Option<SignInVerdict> {
    f.store
        .record_operator_sign_in(OperatorSignIn {
            operator_id,
            password_right: right,
            checked_hash: password_digest(hash),
            now_s,
        })
        .await
        .unwrap()
}

async fn session(f: &Fixture, operator_id: i64) -> [u8; 32] {
    let token_hash = bytes32(TOKEN_TAG, 95_000 + f.next());
    f.store
        .create_operator_session(NewOperatorSession {
            token_hash,
            operator_id,
            now_s: NOW,
            expires_at_s: NOW + 600,
        })
        .await
        .unwrap();
    token_hash
}

#[tokio::test]
async fn an_operator_signs_in_is_paused_after_wrong_passwords_and_only_the_cli_lifts_it() {
    each_backend(async |f: &Fixture| {
        let ops = operator(f, "ops").await;
        assert_eq!(ops.login, "ops");
        let taken = NewOperator {
            login: "ops".parse().unwrap(),
            password_hash: "another".into(),
            now_s: NOW,
        };
        assert_eq!(
            f.store.add_operator(taken).await.unwrap(),
            None,
            "{}",
            f.name
        );
        assert_eq!(
            f.store.operator_by_login("ops").await.unwrap(),
            Some(ops.clone())
        );
        assert_eq!(f.store.operator_by_login("nobody").await.unwrap(), None);
        assert!(!ops.disabled);
        assert_eq!(attempt(f, 0, true, NOW).await, None, "an unknown operator");

        assert_eq!(
            attempt(f, ops.id, true, NOW).await,
            Some(SignInVerdict::Accepted)
        );
        let mut paused_until = 0;
        for n in 1..=SIGN_IN_FAILURES_MAX {
            match attempt(f, ops.id, false, NOW).await {
                Some(SignInVerdict::Wrong(failure)) => {
                    if n == SIGN_IN_FAILURES_MAX {
                        paused_until = failure.locked_until_s.expect("paused");
                    } else {
                        assert_eq!(failure.locked_until_s, None, "{}: try {n}", f.name);
                    }
                }
                other => panic!("{}: try {n}: {other:?}", f.name),
            }
        }
        assert!(paused_until > NOW);
        assert_eq!(
            attempt(f, ops.id, true, NOW + 1).await,
            Some(SignInVerdict::Paused),
            "{}: the right password, paused",
            f.name
        );
        let read = f.store.operator_by_login("ops").await.unwrap().unwrap();
        assert_eq!(read.paused_until_s, paused_until);
        assert!(
            f.store
                .set_operator_password("ops", "new hash".into())
                .await
                .unwrap()
        );
        assert!(
            !f.store
                .set_operator_password("nobody", "x".into())
                .await
                .unwrap()
        );
        let read = f.store.operator_by_login("ops").await.unwrap().unwrap();
        assert_eq!(
            (read.password_hash.as_str(), read.paused_until_s),
            ("new hash", 0)
        );
        assert_eq!(
            attempt(f, ops.id, true, NOW + 2).await,
            Some(SignInVerdict::Accepted)
        );
        // A password checked against the hash before a new one was set: refused, not
        // counted.
        assert_eq!(
            checked_against(f, ops.id, true, "hash of ops", NOW + 3).await,
            Some(SignInVerdict::Paused),
            "{}",
            f.name
        );
    })
    .await;
}

#[tokio::test]
async fn an_operators_session_lives_until_it_expires_or_is_ended_and_is_purged_after() {
    each_backend(async |f: &Fixture| {
        let ops = operator(f, "night").await;
        let token_hash = bytes32(TOKEN_TAG, 90_000 + f.next());
        f.store
            .create_operator_session(NewOperatorSession {
                token_hash,
                operator_id: ops.id,
                now_s: NOW,
                expires_at_s: NOW + 600,
            })
            .await
            .unwrap();
        let live = f
            .store
            .operator_session(token_hash, NOW + 599)
            .await
            .unwrap();
        assert_eq!(live.map(|o| o.id), Some(ops.id), "{}", f.name);
        assert_eq!(
            f.store
                .operator_session(token_hash, NOW + 600)
                .await
                .unwrap(),
            None
        );
        // Not a client's session.
        assert!(
            f.store
                .session_client(token_hash, NOW)
                .await
                .unwrap()
                .is_none()
        );
        let other = bytes32(TOKEN_TAG, 91_000 + f.next());
        f.store
            .create_operator_session(NewOperatorSession {
                token_hash: other,
                operator_id: ops.id,
                now_s: NOW,
                expires_at_s: NOW + 600,
            })
            .await
            .unwrap();
        f.store.delete_operator_session(other).await.unwrap();
        assert_eq!(f.store.operator_session(other, NOW).await.unwrap(), None);
        // The purge takes expired operators' sessions with the clients'.
        let mut cutoffs = sceau_domain::retention::Retention::default().cutoffs(i64::MIN);
        cutoffs.sessions_expired = NOW + 600;
        let purged = f
            .store
            .purge(sceau_store::Purge {
                cutoffs,
                batch_max: 100,
            })
            .await
            .unwrap();
        assert_eq!(purged.sessions, 1, "{}", f.name);
    })
    .await;
}

#[tokio::test]
async fn an_operators_action_is_written_with_its_evidence_or_not_at_all() {
    each_backend(async |f: &Fixture| {
        let ops = operator(f, "jane").await;
        let alice = f.client(1_000, 0).await;
        let acts = |action| OperatorActs {
            actor: Actor::Operator(ops.id),
            action,
            now_s: NOW + 5,
        };
        let block = OperatorAction::ClientBlocked {
            client_id: alice.id,
        };
        let ActionOutcome::Done(record) = f.store.operator_acts(acts(block)).await.unwrap() else {
            panic!("{}: not blocked", f.name);
        };
        assert_eq!(
            (record.subject.as_str(), record.kind.as_str(), record.seq),
            (format!("client:{}", alice.id).as_str(), "client.blocked", 1)
        );
        let said: serde_json::Value = serde_json::from_slice(&record.record).unwrap();
        assert_eq!(said["by"]["operator"]["login"], "jane");
        assert_eq!(said["by"]["operator"]["id"], ops.id.to_string());
        assert_eq!(said["client"], alice.id.to_string());
        let read = f
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .unwrap();
        assert!(read.blocked, "{}", f.name);
        // Already blocked: nothing written, no second record.
        assert_eq!(
            f.store.operator_acts(acts(block)).await.unwrap(),
            ActionOutcome::AlreadySo
        );
        let unblock = OperatorAction::ClientUnblocked {
            client_id: alice.id,
        };
        assert!(matches!(
            f.store.operator_acts(acts(unblock)).await.unwrap(),
            ActionOutcome::Done(record) if record.seq == 2
        ));
        let read = f
            .store
            .client_by_login(&alice.login)
            .await
            .unwrap()
            .unwrap();
        assert!(!read.blocked);
        let chain = f
            .store
            .evidence(&format!("client:{}", alice.id))
            .await
            .unwrap();
        assert_eq!(chain.len(), 2, "{}", f.name);
        // No such client, no such operator: nothing.
        let nobody = OperatorAction::ClientBlocked { client_id: 999_999 };
        assert_eq!(
            f.store.operator_acts(acts(nobody)).await.unwrap(),
            ActionOutcome::NotFound
        );
        let stranger = OperatorActs {
            actor: Actor::Operator(999_999),
            action: block,
            now_s: NOW,
        };
        assert_eq!(
            f.store.operator_acts(stranger).await.unwrap(),
            ActionOutcome::NotFound
        );
        assert!(
            !f.store
                .client_by_login(&alice.login)
                .await
                .unwrap()
                .unwrap()
                .blocked
        );
    })
    .await;
}

/// A new password ends the operator's sessions; a disabled operator has none, cannot
/// sign in and cannot act; enabled again, they sign in.
#[tokio::test]
async fn a_new_password_or_disabling_ends_every_session() {
    each_backend(async |f: &Fixture| {
        let ops = operator(f, "ops").await;
        let alice = f.client(1_000, 0).await;
        let first = session(f, ops.id).await;
        assert!(
            f.store
                .operator_session(first, NOW)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            f.store
                .set_operator_password("ops", "new hash".into())
                .await
                .unwrap()
        );
        assert_eq!(
            f.store.operator_session(first, NOW).await.unwrap(),
            None,
            "{}",
            f.name
        );

        let second = session(f, ops.id).await;
        assert!(f.store.set_operator_disabled("ops", true).await.unwrap());
        assert!(!f.store.set_operator_disabled("nobody", true).await.unwrap());
        assert_eq!(f.store.operator_session(second, NOW).await.unwrap(), None);
        let read = f.store.operator_by_login("ops").await.unwrap().unwrap();
        assert!(read.disabled);
        assert_eq!(
            attempt(f, ops.id, true, NOW).await,
            Some(SignInVerdict::Paused),
            "{}: disabled",
            f.name
        );
        // A session made meanwhile is not one.
        let third = session(f, ops.id).await;
        assert_eq!(f.store.operator_session(third, NOW).await.unwrap(), None);
        let block = OperatorActs {
            actor: Actor::Operator(ops.id),
            action: OperatorAction::ClientBlocked {
                client_id: alice.id,
            },
            now_s: NOW,
        };
        assert_eq!(
            f.store.operator_acts(block).await.unwrap(),
            ActionOutcome::NotFound
        );
        assert!(
            !f.store
                .client_by_login(&alice.login)
                .await
                .unwrap()
                .unwrap()
                .blocked
        );
        assert!(f.store.set_operator_disabled("ops", false).await.unwrap());
        assert_eq!(
            attempt(f, ops.id, true, NOW).await,
            Some(SignInVerdict::Accepted)
        );
        assert!(
            f.store
                .operator_session(third, NOW)
                .await
                .unwrap()
                .is_some()
        );
        // A client's session token is no operator's.
        let client_session = f.session(&alice).await;
        assert_eq!(
            f.store.operator_session(client_session, NOW).await.unwrap(),
            None
        );
    })
    .await;
}

/// The accounts, disabled ones too, oldest first, as many as asked at most.
#[tokio::test]
async fn the_operators_are_listed_oldest_first() {
    each_backend(async |f: &Fixture| {
        assert!(f.store.operators(10).await.unwrap().is_empty());
        let day = operator(f, "day").await;
        let night = operator(f, "night").await;
        assert!(f.store.set_operator_disabled("night", true).await.unwrap());
        let listed = f.store.operators(10).await.unwrap();
        let seen: Vec<(i64, &str, bool)> = listed
            .iter()
            .map(|o| (o.id, o.login.as_str(), o.disabled))
            .collect();
        assert_eq!(
            seen,
            [(day.id, "day", false), (night.id, "night", true)],
            "{}",
            f.name
        );
        assert_eq!(f.store.operators(1).await.unwrap()[..], listed[..1]);
    })
    .await;
}
