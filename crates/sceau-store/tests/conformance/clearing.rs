//! Clearing: merchants' bank details, and payouts of settlement balances in batches with
//! their settlement file.

use crate::fixtures::*;
use sceau_domain::clearing::ClearingError;
use sceau_store::{
    BankDetails, ClearingDraft, ClearingOutcome, MerchantCommand, Outcome, SettlementWriter,
    SkippedMerchant, StoreError,
};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn nothing_to_pay(outcome: ClearingOutcome) -> Vec<SkippedMerchant> {
    match outcome {
        ClearingOutcome::NothingToPay { skipped } => skipped,
        other => panic!("expected nothing to pay, got {other:?}"),
    }
}

#[tokio::test]
async fn merchants_carry_bank_details_from_enrolment_or_later() {
    each_backend(async |f: &Fixture| {
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        assert_eq!(shop.bank, Some(bank(1)));
        let key_hash = bytes32(KEY_TAG, f.counter.load(Ordering::Relaxed) - 1);
        assert_eq!(
            f.store.merchant_by_key_hash(key_hash).await.unwrap(),
            Some(shop.clone())
        );
        let bare = f.merchant_paid_to(None).await;
        assert_eq!(f.store.merchant(bare.id).await.unwrap().unwrap().bank, None);

        assert!(f.store.set_merchant_bank(bare.id, bank(2)).await.unwrap());
        assert!(f.store.set_merchant_bank(shop.id, bank(3)).await.unwrap());
        assert!(!f.store.set_merchant_bank(i64::MAX, bank(4)).await.unwrap());
        let banks: Vec<Option<BankDetails>> = f
            .store
            .merchants(LIST_LIMIT)
            .await
            .unwrap()
            .into_iter()
            .map(|merchant| merchant.bank)
            .collect();
        assert_eq!(banks, vec![Some(bank(3)), Some(bank(2))], "{}", f.name);
    })
    .await;
}

#[tokio::test]
async fn clearing_pays_out_exactly_the_settlement_balances() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let bob = f.client_in("USD", 100_000, 0).await;
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        let cafe = f.merchant_paid_to(Some(bank(2))).await;
        let bare = f.merchant_paid_to(None).await;

        let first = f.pay(&alice, &shop, 1_000).await;
        f.pay(&alice, &shop, 250).await;
        let refund = MerchantCommand::Refund {
            authorization_id: first,
            amount: Some(eur(100)),
        };
        assert!(matches!(
            f.run(shop.id, refund, NOW + 2).await,
            Outcome::Refunded { .. }
        ));
        f.pay(&alice, &cafe, 700).await;
        f.pay(&alice, &bare, 300).await;
        f.pay(&bob, &shop, 4_200).await;
        // Held but not captured: not the merchant's money yet.
        let card = f.issue(&alice, one_use()).await;
        authorized(f.authorize(cafe.id, &card, 50, NOW).await);

        let (writer, drafts) = listing_writer();
        let (batch, payouts, skipped) = closed(
            f.close_batch(close("EUR", "BATCH-1", &writer, NOW + 10))
                .await,
        );
        assert_eq!(
            (
                batch.message_id.as_str(),
                batch.currency,
                batch.created_at_s,
                batch.payouts_count,
                batch.total
            ),
            ("BATCH-1", currency("EUR"), NOW + 10, 2, 1_850),
            "{}",
            f.name
        );
        let paid: Vec<(i64, i64)> = payouts
            .iter()
            .map(|payout| (payout.merchant_id, payout.amount))
            .collect();
        assert_eq!(paid, vec![(shop.id, 1_150), (cafe.id, 700)], "{}", f.name);
        assert_eq!(skipped.len(), 1);
        assert_eq!((skipped[0].merchant_id, skipped[0].balance), (bare.id, 300));

        let drafted = drafts.lock().unwrap().clone();
        assert_eq!(drafted.len(), 1, "the file is written once");
        let lines: Vec<(i64, String, BankDetails, i64)> = drafted[0]
            .iter()
            .map(|line| {
                (
                    line.merchant_id,
                    line.merchant_name.clone(),
                    line.bank.clone(),
                    line.amount,
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                (shop.id, shop.name.clone(), bank(1), 1_150),
                (cafe.id, cafe.name.clone(), bank(2), 700)
            ]
        );
        for payout in &payouts {
            assert_eq!(f.balance(payout.account_id).await, 0, "{}", f.name);
        }
        assert_eq!(f.balance(skipped[0].account_id).await, 300);
        let cafe_account = payouts[1].account_id;
        assert_eq!(f.account(&alice).await.held, 50);
        f.assert_sound().await;
        let sums = f.store.check_ledger().await.unwrap().currency_sums;
        assert!(sums.iter().all(|(_, sum)| *sum == 0), "{sums:?}");

        // Read back: the batch, its payouts, and the file byte for byte.
        assert_eq!(
            f.store.clearing_batch(batch.id).await.unwrap(),
            Some((batch.clone(), payouts.clone()))
        );
        let expected_file = format!(
            "BATCH-1 EUR {}\n{} {} COBADEFFXXX 1150\n{} {} COBADEFFXXX 700\n",
            NOW + 10,
            shop.name,
            iban(1),
            cafe.name,
            iban(2)
        );
        assert_eq!(
            f.store.settlement_file(batch.id).await.unwrap(),
            Some(expected_file)
        );
        assert_eq!(f.store.settlement_file(batch.id + 1).await.unwrap(), None);
        assert_eq!(f.store.clearing_batch(batch.id + 1).await.unwrap(), None);

        // The USD balance is another batch's.
        let (usd, usd_payouts, _) = closed(
            f.close_batch(close("USD", "BATCH-USD", &writer, NOW + 11))
                .await,
        );
        assert_eq!((usd.currency, usd.total), (currency("USD"), 4_200));
        assert_eq!(usd_payouts.len(), 1);
        assert_eq!(
            f.store
                .clearing_batches(LIST_LIMIT)
                .await
                .unwrap()
                .iter()
                .map(|batch| batch.id)
                .collect::<Vec<_>>(),
            vec![usd.id, batch.id],
            "newest first"
        );

        // A second close finds nothing to pay, and makes no batch.
        let skipped = nothing_to_pay(
            f.close_batch(close("EUR", "BATCH-2", &writer, NOW + 12))
                .await,
        );
        assert_eq!(skipped.len(), 1);
        assert_eq!(f.store.clearing_batches(LIST_LIMIT).await.unwrap().len(), 2);
        assert_eq!(drafts.lock().unwrap().len(), 2, "no file for nothing");

        // A refund after the payout leaves the settlement account below zero (a
        // receivable): nothing to pay there until captures cover it.
        let refund = MerchantCommand::Refund {
            authorization_id: first,
            amount: Some(eur(200)),
        };
        assert!(matches!(
            f.run(shop.id, refund, NOW + 13).await,
            Outcome::Refunded { .. }
        ));
        let shop_account = payouts[0].account_id;
        assert_eq!(f.balance(shop_account).await, -200);

        // The merchant without bank details gives them: the next batch pays them too.
        assert!(f.store.set_merchant_bank(bare.id, bank(3)).await.unwrap());
        f.pay(&alice, &cafe, 80).await;
        let (third, payouts, skipped) = closed(
            f.close_batch(close("EUR", "BATCH-3", &writer, NOW + 14))
                .await,
        );
        let paid: Vec<(i64, i64)> = payouts
            .iter()
            .map(|payout| (payout.merchant_id, payout.amount))
            .collect();
        assert_eq!(paid, vec![(cafe.id, 80), (bare.id, 300)], "{}", f.name);
        assert_eq!((third.payouts_count, third.total), (2, 380));
        assert!(skipped.is_empty());
        assert_eq!(f.balance(cafe_account).await, 0);
        assert_eq!(f.balance(shop_account).await, -200);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_settlement_file_that_cannot_be_written_pays_nothing() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        f.pay(&alice, &shop, 900).await;
        let refusing: SettlementWriter = Arc::new(|draft: &ClearingDraft<'_>| {
            assert_eq!(draft.lines.len(), 1);
            Err(ClearingError::ControlSumTooLarge)
        });
        let outcome = f
            .close_batch(close("EUR", "BATCH-1", &refusing, NOW + 5))
            .await;
        assert_eq!(
            outcome,
            ClearingOutcome::Unwritable(ClearingError::ControlSumTooLarge),
            "{}",
            f.name
        );
        assert!(
            f.store
                .clearing_batches(LIST_LIMIT)
                .await
                .unwrap()
                .is_empty()
        );

        // The same message id is then free, and the balance is all there.
        let (writer, _) = listing_writer();
        let (batch, _, _) = closed(
            f.close_batch(close("EUR", "BATCH-1", &writer, NOW + 6))
                .await,
        );
        assert_eq!(batch.total, 900);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test]
async fn a_message_id_is_used_once() {
    each_backend(async |f: &Fixture| {
        let alice = f.client(10_000, 0).await;
        let shop = f.merchant_paid_to(Some(bank(1))).await;
        let (writer, _) = listing_writer();
        f.pay(&alice, &shop, 400).await;
        let (_, payouts, _) = closed(f.close_batch(close("EUR", "ONCE", &writer, NOW + 5)).await);
        f.pay(&alice, &shop, 600).await;
        match f
            .store
            .close_clearing_batch(close("EUR", "ONCE", &writer, NOW + 6))
            .await
        {
            Err(StoreError::Conflict(code)) => assert_eq!(code, "message_id_taken"),
            other => panic!("{}: expected message_id_taken, got {other:?}", f.name),
        }
        assert_eq!(f.balance(payouts[0].account_id).await, 600, "nothing paid");
        assert_eq!(f.store.clearing_batches(LIST_LIMIT).await.unwrap().len(), 1);
        f.assert_sound().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_clearing_closes_pay_once() {
    const CLOSES_COUNT: usize = 8;
    each_backend(async |f: &Fixture| {
        let alice = f.client(100_000, 0).await;
        let mut merchants = Vec::new();
        for account in 0..4 {
            let merchant = f.merchant_paid_to(Some(bank(account))).await;
            f.pay(&alice, &merchant, 1_000 + account as i64).await;
            merchants.push(merchant);
        }
        let (writer, _) = listing_writer();
        let start = Arc::new(tokio::sync::Barrier::new(CLOSES_COUNT));
        let closes: Vec<_> = (0..CLOSES_COUNT)
            .map(|index| {
                let (store, start) = (Arc::clone(&f.store), Arc::clone(&start));
                let close = close("EUR", &format!("RACE-{index}"), &writer, NOW + 5);
                tokio::spawn(async move {
                    start.wait().await;
                    store.close_clearing_batch(close).await
                })
            })
            .collect();
        let mut payouts = Vec::new();
        let mut batches = 0;
        for task in closes {
            match task.await.unwrap().unwrap() {
                ClearingOutcome::Closed { payouts: paid, .. } => {
                    batches += 1;
                    payouts.extend(paid);
                }
                ClearingOutcome::NothingToPay { skipped } => assert!(skipped.is_empty()),
                other => panic!("{}: {other:?}", f.name),
            }
        }
        // Every balance is paid exactly once, by the one close that ran first.
        let mut paid: Vec<(i64, i64)> = payouts
            .iter()
            .map(|payout| (payout.merchant_id, payout.amount))
            .collect();
        paid.sort_unstable();
        let expected: Vec<(i64, i64)> = merchants
            .iter()
            .zip(0..)
            .map(|(merchant, account)| (merchant.id, 1_000 + account))
            .collect();
        assert_eq!(paid, expected, "{}", f.name);
        assert_eq!(batches, 1, "{}", f.name);
        assert_eq!(f.store.clearing_batches(LIST_LIMIT).await.unwrap().len(), 1);
        for payout in &payouts {
            assert_eq!(f.balance(payout.account_id).await, 0);
        }
        f.assert_sound().await;
    })
    .await;
}
