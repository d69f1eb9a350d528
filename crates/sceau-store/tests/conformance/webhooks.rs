//! Webhooks: a checkout's event told to its merchant, claimed once, retried later,
//! delivered once.

use crate::fixtures::*;
use sceau_store::{
    IdempotencyKey, RotateWebhookSecret, RotationOutcome, RotationRefused, SealOutcome, StoreError,
    WebhookResult, WebhookSecrets,
};
use std::sync::Arc;

#[tokio::test]
async fn webhooks_are_claimed_once_retried_later_and_delivered_once() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let held = f.held(&shop, &alice, 1_000).await;
        f.sent(&held, &alice, 1, NOW).await;
        assert!(matches!(
            f.type_seal(&held, &alice, 1, true, NOW + 1).await,
            SealOutcome::Paid(..)
        ));
        let first = f.webhooks(NOW + 1).await;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].attempts, 0);
        assert!(
            f.webhooks(NOW + 2).await.is_empty(),
            "claimed: nobody else takes it"
        );
        f.store
            .mark_webhook(
                first[0].id,
                WebhookResult::Retry {
                    next_attempt_s: NOW + 100,
                    error: "HTTP 500".into(),
                    now_s: NOW + 2,
                },
            )
            .await
            .unwrap();
        assert!(
            f.webhooks(NOW + 99).await.is_empty(),
            "not before its next attempt"
        );
        let again = f.webhooks(NOW + 100).await;
        assert_eq!(
            (again.len(), again[0].attempts, &again[0].body),
            (1, 1, &first[0].body)
        );
        f.store
            .mark_webhook(again[0].id, WebhookResult::Delivered { now_s: NOW + 101 })
            .await
            .unwrap();
        assert!(
            f.webhooks(NOW + 10_000).await.is_empty(),
            "delivered: never again"
        );
        // A claim lapses: a webhook claimed by a dispatcher that died goes out again.
        let other = f.held(&shop, &alice, 1_000).await;
        f.sent(&other, &alice, 2, NOW).await;
        assert!(matches!(
            f.type_seal(&other, &alice, 2, true, NOW + 1).await,
            SealOutcome::Paid(..)
        ));
        let claimed = f.webhooks(NOW + 200).await;
        assert_eq!(claimed.len(), 1);
        assert_eq!(f.webhooks(NOW + 200 + 60).await.len(), 1);
        f.store
            .mark_webhook(
                claimed[0].id,
                WebhookResult::GaveUp {
                    error: "HTTP 500".into(),
                    now_s: NOW + 300,
                },
            )
            .await
            .unwrap();
        assert!(
            f.webhooks(NOW + 10_000).await.is_empty(),
            "given up: never again"
        );
    })
    .await;
}

/// The rotation asked of the store: `overlap_s` at `now_s`, under `key` if given.
fn rotation(
    merchant_id: i64,
    overlap_s: i64,
    now_s: i64,
    key: Option<&str>,
) -> RotateWebhookSecret {
    RotateWebhookSecret {
        by: sceau_store::ActedBy::Merchant,
        merchant_id,
        overlap_s,
        now_s,
        idempotency: key.map(|key| IdempotencyKey {
            key: key.to_owned(),
            request_hash: [overlap_s as u8; 32],
        }),
    }
}

/// A merchant's webhook secret rotates: the new version, the one before it with the end
/// of its overlap (the domain's rule, applied to the stored versions); a key seen before
/// answers the same versions without rotating again, another request under it is
/// refused; the webhooks claimed carry the versions of the moment; an unknown merchant
/// or a refused overlap changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_secret_rotates_and_webhooks_carry_the_secrets_of_the_moment() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant().await;
        let other = f.merchant().await;
        let alice = f.client(10_000, 0).await;
        let store = &f.store;
        let rotate = async |overlap_s, now_s, key| {
            store
                .rotate_webhook_secret(rotation(shop.id, overlap_s, now_s, key))
                .await
                .unwrap()
        };
        let once = WebhookSecrets {
            version: 1,
            previous: Some((0, NOW + 3_600)),
        };
        assert_eq!(
            rotate(3_600, NOW, Some("rotate-1")).await,
            RotationOutcome::Rotated(once),
            "{}",
            f.name
        );
        // The same key again (an answer lost): the same versions, nothing rotated.
        assert_eq!(
            rotate(3_600, NOW + 5, Some("rotate-1")).await,
            RotationOutcome::Replayed(once),
            "{}",
            f.name
        );
        let reused = store
            .rotate_webhook_secret(rotation(shop.id, 60, NOW + 5, Some("rotate-1")))
            .await;
        assert!(
            matches!(reused, Err(StoreError::IdempotencyMismatch)),
            "{}: {reused:?}",
            f.name
        );
        assert_eq!(
            rotate(-1, NOW, None).await,
            RotationOutcome::Refused(RotationRefused::Overlap)
        );
        let nobody = rotation(shop.id + other.id + 1_000, 60, NOW, None);
        assert_eq!(
            store.rotate_webhook_secret(nobody).await.unwrap(),
            RotationOutcome::NoMerchant,
            "{}",
            f.name
        );
        // One record of the one rotation (the replay and the refusals wrote none), naming
        // who rotated, never the secret.
        let chain = store
            .evidence(&format!("merchant:{}", shop.id))
            .await
            .unwrap();
        assert_eq!(chain.len(), 1, "{}", f.name);
        assert_eq!(chain[0].kind, "merchant.webhook_secret_rotated");
        let said: serde_json::Value = serde_json::from_slice(&chain[0].record).unwrap();
        assert_eq!(said["by"]["merchant"], true);
        assert_eq!(said["version"], 1);
        assert!(said["previous_until"].is_string(), "{said}");
        // Again during the overlap: the one in use becomes the one before.
        let twice = WebhookSecrets {
            version: 2,
            previous: Some((1, NOW + 70)),
        };
        assert_eq!(
            rotate(60, NOW + 10, None).await,
            RotationOutcome::Rotated(twice),
            "{}",
            f.name
        );
        let no_overlap = WebhookSecrets {
            version: 3,
            previous: None,
        };
        assert_eq!(
            rotate(0, NOW + 20, None).await,
            RotationOutcome::Rotated(no_overlap),
            "{}",
            f.name
        );

        for merchant in [&shop, &other] {
            let held = f.held(merchant, &alice, 100).await;
            f.sent(&held, &alice, 1, NOW).await;
            assert!(matches!(
                f.type_seal(&held, &alice, 1, true, NOW + 1).await,
                SealOutcome::Paid(..)
            ));
        }
        let claimed = f.webhooks(NOW + 30).await;
        assert_eq!(claimed.len(), 2, "{}", f.name);
        for webhook in claimed {
            let expected = if webhook.merchant_id == shop.id {
                no_overlap
            } else {
                WebhookSecrets {
                    version: 0,
                    previous: None,
                }
            };
            assert_eq!(webhook.secrets, expected, "{}", f.name);
        }
    })
    .await;
}

/// Rotations of one merchant's secret from two instances at once take turns (the row is
/// locked before it is read): each gets a version of its own, none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_from_two_instances_at_once_each_get_their_own_version() {
    const ROUNDS: usize = 20;
    for (name, stores, _guard) in instances_of_each_backend().await {
        let f = on_first_instance(name, &stores);
        let shop = f.merchant().await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|index| {
                let store = Arc::clone(&stores[index % stores.len()]);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    let mut versions = Vec::new();
                    for round in 0..ROUNDS {
                        barrier.wait().await;
                        let now_s = NOW + round as i64;
                        match store
                            .rotate_webhook_secret(rotation(shop.id, 60, now_s, None))
                            .await
                            .unwrap()
                        {
                            RotationOutcome::Rotated(rotated) => versions.push(rotated.version),
                            other => panic!("not rotated: {other:?}"),
                        }
                    }
                    versions
                })
            })
            .collect();
        let mut versions = Vec::new();
        for racer in racers {
            versions.extend(racer.await.unwrap());
        }
        versions.sort_unstable();
        let expected: Vec<i64> = (1..=2 * ROUNDS as i64).collect();
        assert_eq!(versions, expected, "{name}: every rotation its own version");
    }
}
