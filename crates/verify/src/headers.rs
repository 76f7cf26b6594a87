use crate::SvixId;

/// What a header source holds under one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderLookup<'a> {
    Absent,
    Present(&'a [u8]),
    /// The header was sent more than once: ambiguous, so refused.
    Repeated,
}

/// The three headers of a delivery, parsed and checked for form (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders<'a> {
    id: SvixId,
    timestamp: i64,
    signatures: &'a str,
}

/// A request that is not a well-formed signed delivery. Callers answer 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("missing header `{svix}` (or `{unbranded}`)")]
    Missing {
        svix: &'static str,
        unbranded: &'static str,
    },
    #[error("header `{0}` was sent more than once")]
    Repeated(&'static str),
    #[error("header `{header}` is invalid: {reason}")]
    Invalid {
        header: &'static str,
        reason: &'static str,
    },
}

/// One header in its two spellings: Svix's branded one and the Standard Webhooks one.
struct Family {
    svix: &'static str,
    unbranded: &'static str,
}

const ID: Family = Family {
    svix: "svix-id",
    unbranded: "webhook-id",
};
const TIMESTAMP: Family = Family {
    svix: "svix-timestamp",
    unbranded: "webhook-timestamp",
};
const SIGNATURE: Family = Family {
    svix: "svix-signature",
    unbranded: "webhook-signature",
};

/// Longest signature header accepted: room for dozens of `v1,` entries.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 4096;

impl<'a> WebhookHeaders<'a> {
    /// Reads `svix-id`, `svix-timestamp` and `svix-signature`, each falling back to its
    /// `webhook-*` spelling, from any header source (names are passed in lowercase).
    pub fn parse(lookup: impl Fn(&'static str) -> HeaderLookup<'a>) -> Result<Self, HeaderError> {
        let id = SvixId::parse(get(&lookup, &ID)?).map_err(|err| invalid(&ID, err.reason()))?;

        let timestamp = get(&lookup, &TIMESTAMP)?;
        let timestamp = parse_timestamp(timestamp)
            .ok_or_else(|| invalid(&TIMESTAMP, "must be unix seconds (digits only)"))?;

        let signatures = get(&lookup, &SIGNATURE)?;
        if signatures.len() > MAX_SIGNATURE_HEADER_LEN {
            return Err(invalid(&SIGNATURE, "is too long"));
        }
        let mut entries = signatures.split_ascii_whitespace().peekable();
        if entries.peek().is_none() {
            return Err(invalid(&SIGNATURE, "is empty"));
        }
        if !entries.all(
            |entry| matches!(entry.split_once(','), Some((v, s)) if !v.is_empty() && !s.is_empty()),
        ) {
            return Err(invalid(
                &SIGNATURE,
                "entries must have the form `<version>,<signature>`",
            ));
        }

        Ok(Self {
            id,
            timestamp,
            signatures,
        })
    }

    /// The message id (`svix-id`): the same on every retry of one delivery.
    pub fn id(&self) -> &SvixId {
        &self.id
    }

    /// When the sender signed the delivery, in unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The `v1` signatures, still base64-encoded; other versions are skipped.
    pub(crate) fn v1_signatures(&self) -> impl Iterator<Item = &'a str> {
        self.signatures
            .split_ascii_whitespace()
            .filter_map(|entry| entry.strip_prefix("v1,"))
    }
}

fn get<'a>(
    lookup: &impl Fn(&'static str) -> HeaderLookup<'a>,
    family: &Family,
) -> Result<&'a str, HeaderError> {
    let value = match lookup(family.svix) {
        HeaderLookup::Absent => lookup(family.unbranded),
        found => found,
    };
    let raw = match value {
        HeaderLookup::Present(raw) => raw,
        HeaderLookup::Absent => {
            return Err(HeaderError::Missing {
                svix: family.svix,
                unbranded: family.unbranded,
            });
        }
        HeaderLookup::Repeated => return Err(HeaderError::Repeated(family.svix)),
    };
    let text = std::str::from_utf8(raw).map_err(|_| invalid(family, "is not UTF-8"))?;
    Ok(text.trim())
}

fn invalid(family: &Family, reason: &'static str) -> HeaderError {
    HeaderError::Invalid {
        header: family.svix,
        reason,
    }
}

fn parse_timestamp(text: &str) -> Option<i64> {
    // `i64::from_str` would also take a sign; a timestamp is digits only.
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(
        pairs: &'a [(&'static str, &'a str)],
    ) -> impl Fn(&'static str) -> HeaderLookup<'a> {
        move |name| {
            let mut found = pairs.iter().filter(|(n, _)| *n == name);
            match (found.next(), found.next()) {
                (None, _) => HeaderLookup::Absent,
                (Some((_, v)), None) => HeaderLookup::Present(v.as_bytes()),
                (Some(_), Some(_)) => HeaderLookup::Repeated,
            }
        }
    }

    #[test]
    fn reads_both_families() {
        for (id, ts, sig) in [
            ("svix-id", "svix-timestamp", "svix-signature"),
            ("webhook-id", "webhook-timestamp", "webhook-signature"),
        ] {
            let pairs = [(id, "msg_1"), (ts, "1700000000"), (sig, "v1,abc v2,def")];
            let headers = WebhookHeaders::parse(lookup(&pairs)).unwrap();
            assert_eq!(headers.id(), "msg_1");
            assert_eq!(headers.timestamp(), 1_700_000_000);
            assert_eq!(headers.v1_signatures().collect::<Vec<_>>(), ["abc"]);
        }
    }

    #[test]
    fn malformed_headers_are_named() {
        let ok_ts = ("svix-timestamp", "1700000000");
        let ok_sig = ("svix-signature", "v1,abc");
        let cases: Vec<(Vec<(&'static str, &str)>, &str)> = vec![
            (vec![ok_ts, ok_sig], "missing header `svix-id`"),
            (
                vec![("svix-id", "a"), ("svix-id", "b"), ok_ts, ok_sig],
                "more than once",
            ),
            (vec![("svix-id", ""), ok_ts, ok_sig], "svix-id"),
            (vec![("svix-id", "has space"), ok_ts, ok_sig], "svix-id"),
            (
                vec![("svix-id", "m"), ("svix-timestamp", "-5"), ok_sig],
                "svix-timestamp",
            ),
            (
                vec![("svix-id", "m"), ("svix-timestamp", "12a"), ok_sig],
                "svix-timestamp",
            ),
            (
                vec![
                    ("svix-id", "m"),
                    ("svix-timestamp", "99999999999999999999"),
                    ok_sig,
                ],
                "svix-timestamp",
            ),
            (
                vec![("svix-id", "m"), ok_ts, ("svix-signature", "  ")],
                "svix-signature",
            ),
            (
                vec![("svix-id", "m"), ok_ts, ("svix-signature", "abc")],
                "svix-signature",
            ),
            (
                vec![("svix-id", "m"), ok_ts, ("svix-signature", "v1,")],
                "svix-signature",
            ),
        ];
        for (pairs, expected) in cases {
            let err = WebhookHeaders::parse(lookup(&pairs)).unwrap_err();
            assert!(err.to_string().contains(expected), "{pairs:?}: {err}");
        }
    }
}
