use serde::{Deserialize, Serialize};

use crate::ClerkId;

/// An email Clerk sent or is about to send (`email.created`), for apps that deliver their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Email {
    pub id: ClerkId,
    pub object: Option<String>,
    pub slug: Option<String>,
    pub from_email_name: Option<String>,
    pub reply_to_email_name: Option<String>,
    pub to_email_address: Option<String>,
    pub email_address_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub user_id: Option<ClerkId>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub body_plain: Option<String>,
    pub status: Option<String>,
    pub data: Option<serde_json::Value>,
    pub delivered_by_clerk: Option<bool>,
}

/// A text message Clerk sent or is about to send (`sms.created`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsMessage {
    pub id: ClerkId,
    pub object: Option<String>,
    pub from_phone_number: Option<String>,
    pub to_phone_number: Option<String>,
    pub phone_number_id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::optional_id")]
    pub user_id: Option<ClerkId>,
    pub message: Option<String>,
    pub status: Option<String>,
    pub slug: Option<String>,
    pub data: Option<serde_json::Value>,
    pub delivered_by_clerk: Option<bool>,
}
