use std::fmt;

/// The id Svix gives a message (`svix-id` / `webhook-id`): the same on every retry and replay of
/// one delivery, so it is what deduplication keys on (together with the tenant). Parsed once, by
/// [`crate::WebhookHeaders::parse`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SvixId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SvixIdError {
    #[error("a message id must be 1 to {} characters", SvixId::MAX_LEN)]
    Length,
    #[error("a message id must be printable ASCII without spaces")]
    Charset,
}

impl SvixId {
    pub const MAX_LEN: usize = 256;

    pub fn parse(id: &str) -> Result<Self, SvixIdError> {
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(SvixIdError::Length);
        }
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(SvixIdError::Charset);
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl SvixIdError {
    /// What is wrong, said of the header that carried the id.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::Length => "must be 1 to 256 characters",
            Self::Charset => "must be printable ASCII without spaces",
        }
    }
}

impl PartialEq<str> for SvixId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl fmt::Display for SvixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SvixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_svix_ids_and_refuses_odd_ones() {
        assert_eq!(SvixId::parse("msg_2a3b").unwrap().as_str(), "msg_2a3b");
        assert_eq!(SvixId::parse(""), Err(SvixIdError::Length));
        assert_eq!(SvixId::parse(&"x".repeat(257)), Err(SvixIdError::Length));
        assert_eq!(SvixId::parse("a b"), Err(SvixIdError::Charset));
        assert_eq!(SvixId::parse("é"), Err(SvixIdError::Charset));
    }
}
