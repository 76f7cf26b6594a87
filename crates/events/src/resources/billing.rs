//! Clerk Billing objects as webhooks carry them (Clerk marks this API experimental, so every
//! field but the id is optional).

use serde::{Deserialize, Serialize};

use crate::ClerkId;
use crate::lenient::null_default;

/// An amount of money with its formatting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: Option<i64>,
    pub amount_formatted: Option<String>,
    pub currency: Option<String>,
    pub currency_symbol: Option<String>,
}

/// Some amounts are a bare number of cents in webhook payloads and a [`Money`] object in the
/// API's own types; both are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Cents(i64),
    Money(Money),
}

/// Who pays: a user or an organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payer {
    pub id: Option<String>,
    pub object: Option<String>,
    pub instance_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub user_id: Option<ClerkId>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub organization_id: Option<ClerkId>,
    pub organization_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub image_url: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: Option<String>,
    pub object: Option<String>,
    pub instance_id: Option<String>,
    pub product_id: Option<String>,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub is_default: Option<bool>,
    pub is_recurring: Option<bool>,
    pub amount: Option<Amount>,
    pub period: Option<String>,
    pub interval: Option<i64>,
    pub has_base_fee: Option<bool>,
    pub currency: Option<String>,
    pub annual_monthly_amount: Option<Amount>,
    pub publicly_visible: Option<bool>,
}

/// Credit left from a previous plan when a subscription item changes mid-period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    pub amount: Option<Money>,
    pub cycle_days_remaining: Option<i64>,
    pub cycle_days_total: Option<i64>,
    pub cycle_remaining_percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionItem {
    pub id: ClerkId,
    pub object: Option<String>,
    pub status: Option<String>,
    pub subscription_id: Option<String>,
    /// Clerk's OpenAPI document: billing interval count with `plan_period` or `period`.
    pub interval: Option<i64>,
    pub plan_id: Option<String>,
    pub plan: Option<Plan>,
    pub plan_period: Option<String>,
    pub payer_id: Option<String>,
    pub payer: Option<Payer>,
    pub is_free_trial: Option<bool>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub canceled_at: Option<i64>,
    pub past_due_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub amount: Option<Amount>,
    pub lifetime_paid: Option<Amount>,
    pub next_payment_amount: Option<i64>,
    pub next_payment_date: Option<i64>,
    pub credit: Option<Credit>,
    pub proration_date: Option<String>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: ClerkId,
    pub object: Option<String>,
    pub status: Option<String>,
    pub payer_id: Option<String>,
    pub payer: Option<Payer>,
    pub payment_source_id: Option<String>,
    pub latest_payment_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub items: Vec<SubscriptionItem>,
    pub active_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub past_due_at: Option<i64>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub subtotal: Option<Money>,
    pub tax_total: Option<Money>,
    pub grand_total: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentSource {
    pub id: Option<String>,
    pub gateway: Option<String>,
    pub gateway_external_id: Option<String>,
    pub gateway_external_account_id: Option<String>,
    pub payment_method: Option<String>,
    pub status: Option<String>,
    pub card_type: Option<String>,
    pub last4: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentAttempt {
    pub id: ClerkId,
    pub object: Option<String>,
    pub instance_id: Option<String>,
    pub payment_id: Option<String>,
    pub statement_id: Option<String>,
    pub gateway_external_id: Option<String>,
    pub status: Option<String>,
    pub charge_type: Option<String>,
    pub billing_date: Option<i64>,
    pub paid_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub failed_reason: Option<serde_json::Value>,
    pub payee: Option<serde_json::Value>,
    pub payer: Option<Payer>,
    pub totals: Option<Totals>,
    pub payment_source: Option<PaymentSource>,
    #[serde(default, deserialize_with = "null_default")]
    pub subscription_items: Vec<SubscriptionItem>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
}
