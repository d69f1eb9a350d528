//! `sceau admin ...`: the operator's commands, run against the database directly.

use crate::config::Config;
use anyhow::{Context, bail};
use clap::Subcommand;
use sceau_domain::{Money, PhoneNumber};
use sceau_server::clock::{SystemClock, rfc3339};
use sceau_server::service::ClientEnrolment;
use std::io::BufRead;
use std::sync::Arc;
use zeroize::Zeroizing;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Enrol a client. The password is read from standard input (one line).
    ClientAdd {
        #[arg(long)]
        login: String,
        #[arg(long)]
        name: String,
        /// Phone number in E.164, e.g. +33612345678: the client's unique address.
        #[arg(long)]
        phone: String,
        /// ISO 4217 currency of the client's account.
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// Opening balance, e.g. 250.00.
        #[arg(long, default_value = "0")]
        opening_balance: String,
        /// Credit limit: how far below zero the balance may go.
        #[arg(long, default_value = "0")]
        credit_limit: String,
    },
    /// List clients with their balances.
    ClientList,
    /// Block a client: their numbers decline with "blocked".
    ClientBlock { id: i64 },
    /// Lift a client's block.
    ClientUnblock { id: i64 },
    /// Enrol a merchant and print its API key (shown this once; only its hash is kept).
    MerchantAdd {
        #[arg(long)]
        name: String,
    },
    /// List merchants.
    MerchantList,
    /// Show the messages the development channel delivered to a phone (newest first).
    Outbox {
        #[arg(long)]
        phone: String,
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Recompute the ledger's invariants and report any broken rule.
    LedgerCheck,
}

pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let service = crate::open_service(&config, Arc::new(SystemClock)).await?;
    let store = &service.store;
    match command {
        AdminCommand::ClientAdd {
            login,
            name,
            phone,
            currency,
            opening_balance,
            credit_limit,
        } => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("reading the password from standard input")?;
            let password = Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned());
            line.clear();
            let client = service
                .enroll_client(ClientEnrolment {
                    login,
                    display_name: name,
                    password,
                    phone,
                    currency,
                    opening_balance,
                    credit_limit,
                })
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            println!(
                "client {} enrolled: login {}, phone {}, account {}",
                client.id,
                client.login,
                client.phone.masked(),
                client.account_id
            );
        }
        AdminCommand::ClientList => {
            println!(
                "{:>5}  {:<16} {:<24} {:<14} {:>16} {:>14}  blocked",
                "id", "login", "name", "phone", "balance", "held"
            );
            for client in store.clients(10_000).await? {
                let account = store
                    .account(client.account_id)
                    .await?
                    .context("client without account")?;
                let money = |minor| Money::new(minor, account.currency).to_string();
                println!(
                    "{:>5}  {:<16} {:<24} {:<14} {:>16} {:>14}  {}",
                    client.id,
                    client.login,
                    client.display_name,
                    client.phone.masked(),
                    money(account.balance),
                    money(account.held),
                    if client.blocked { "yes" } else { "no" }
                );
            }
        }
        AdminCommand::ClientBlock { id } | AdminCommand::ClientUnblock { id } => {
            let blocked = matches!(command, AdminCommand::ClientBlock { .. });
            if !store.set_client_blocked(id, blocked).await? {
                bail!("no client {id}");
            }
            println!(
                "client {id} {}",
                if blocked { "blocked" } else { "unblocked" }
            );
        }
        AdminCommand::MerchantAdd { name } => {
            let enrolled = service
                .enroll_merchant(&name)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            println!(
                "merchant {} enrolled: {}",
                enrolled.merchant.id, enrolled.merchant.name
            );
            println!(
                "API key (shown once, keep it secret): {}",
                enrolled.api_key.as_str()
            );
            println!(
                "Webhook secret (checks the Sceau-Signature header): {}",
                enrolled.webhook_secret.as_str()
            );
        }
        AdminCommand::MerchantList => {
            for merchant in store.merchants(10_000).await? {
                println!("{:>5}  {}", merchant.id, merchant.name);
            }
        }
        AdminCommand::Outbox { phone, limit } => {
            let phone: PhoneNumber = phone.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let messages = service
                .phone_messages(&phone, limit.min(1000))
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            if messages.is_empty() {
                println!("no message to {phone}");
            }
            for (message, text) in messages {
                println!(
                    "[{}] #{} {}\n  {}\n",
                    rfc3339(message.created_at_s),
                    message.id,
                    message.state,
                    text.as_str()
                );
            }
        }
        AdminCommand::LedgerCheck => {
            let report = store.check_ledger().await?;
            for (currency, sum) in &report.currency_sums {
                println!("{currency}: sum of balances {sum}");
            }
            for violation in &report.violations {
                println!("VIOLATION {violation}");
            }
            if !report.is_sound() {
                bail!(
                    "the ledger breaks {} rule(s)",
                    report.violations.len().max(1)
                );
            }
            println!("ledger sound");
        }
    }
    Ok(())
}
