//! Clients and merchants as the operator and the handlers see them: lists, a client's
//! account, blocking, a merchant found by its API key, and the ledger's check.

use crate::error::{AppError, internal};
use crate::service::Service;
use sceau_domain::operator::{Actor, OperatorAction};
use sceau_store::{AccountView, ClientRecord, LedgerReport, MerchantRecord};
use std::collections::{HashMap, HashSet};

/// Most clients or merchants a list gives.
pub const LIST_LEN_MAX: u32 = 1_000;

impl Service {
    pub async fn clients(&self) -> Result<Vec<ClientRecord>, AppError> {
        Ok(self.store.clients(LIST_LEN_MAX).await?)
    }

    pub async fn merchants(&self) -> Result<Vec<MerchantRecord>, AppError> {
        Ok(self.store.merchants(LIST_LEN_MAX).await?)
    }

    /// A client and their account.
    pub async fn client_account(
        &self,
        client_id: i64,
    ) -> Result<(ClientRecord, AccountView), AppError> {
        let client = self
            .store
            .client(client_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let account = self
            .store
            .account(client.account_id)
            .await?
            .ok_or_else(|| internal("client account missing"))?;
        Ok((client, account))
    }

    /// Blocks or unblocks a client's payments; the client as they are then.
    pub async fn set_client_blocked(
        &self,
        client_id: i64,
        blocked: bool,
    ) -> Result<ClientRecord, AppError> {
        let action = OperatorAction::block(client_id, blocked);
        if self.act_on_client(Actor::Admin, action).await? == sceau_store::ActionOutcome::NotFound {
            return Err(AppError::NotFound);
        }
        self.store
            .client(client_id)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// A signed-in client's choice of how their phone is sent seals and numbers. From a
    /// session they may only go back to SMS: a session proves the password alone, and
    /// calls can be forwarded or reach voicemail, so switching to calls is the operator's
    /// ([`Service::set_client_calls`]) once the client is checked. What was queued before
    /// goes as it was queued.
    pub async fn choose_calls(&self, client: &ClientRecord, by_call: bool) -> Result<(), AppError> {
        if by_call {
            return Err(AppError::CallsUnavailable);
        }
        self.set_client_calls(client.id, false).await
    }

    /// The operator has a client's seals, numbers and codes read out in calls (only where
    /// a route places calls), or sent by SMS.
    pub async fn set_client_calls(&self, client_id: i64, by_call: bool) -> Result<(), AppError> {
        if by_call && !self.settings.calls_offered {
            return Err(AppError::CallsUnavailable);
        }
        if !self.store.set_client_by_call(client_id, by_call).await? {
            return Err(AppError::NotFound);
        }
        tracing::info!(client_id, by_call, "client's calls changed");
        Ok(())
    }

    /// The merchant whose API key has this hash (`sceau_crypto::token_hash`), if any.
    pub async fn merchant_by_key_hash(
        &self,
        key_hash: [u8; 32],
    ) -> Result<Option<MerchantRecord>, AppError> {
        Ok(self.store.merchant_by_key_hash(key_hash).await?)
    }

    /// The names of these merchants (one look-up each); a merchant that is gone is
    /// left out.
    pub async fn merchant_names(
        &self,
        merchant_ids: &[i64],
    ) -> Result<HashMap<i64, String>, AppError> {
        let mut names = HashMap::new();
        let mut asked = HashSet::new();
        for &id in merchant_ids {
            if !asked.insert(id) {
                continue;
            }
            if let Some(merchant) = self.store.merchant(id).await? {
                names.insert(id, merchant.name);
            }
        }
        Ok(names)
    }

    /// Checks the ledger's invariants over every account and entry.
    pub async fn check_ledger(&self) -> Result<LedgerReport, AppError> {
        Ok(self.store.check_ledger().await?)
    }
}
