//! Webhooks: a checkout's event told to its merchant, claimed once, retried later,
//! delivered once.

use crate::fixtures::*;
use sceau_store::{SealOutcome, WebhookResult};

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
