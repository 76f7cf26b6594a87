use std::fmt;

/// A tenant's name in URLs (`/api/webhooks/{slug}`): 1 to 63 of `a-z`, `0-9` and `-`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantSlug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a tenant slug is 1 to 63 characters of lowercase letters, digits and `-`")]
pub struct TenantSlugError;

impl TenantSlug {
    pub const MAX_LEN: usize = 63;

    pub fn parse(slug: &str) -> Result<Self, TenantSlugError> {
        let ok = (1..=Self::MAX_LEN).contains(&slug.len())
            && slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(slug.to_owned()))
        } else {
            Err(TenantSlugError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::str::FromStr for TenantSlug {
    type Err = TenantSlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lowercase_digits_and_hyphens() {
        for ok in ["a", "acme", "acme-prod-2", &"x".repeat(63)] {
            assert_eq!(TenantSlug::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "Acme",
            "a_b",
            "a.b",
            "..",
            "a/b",
            "%2f",
            "é",
            " a",
            &"x".repeat(64),
        ] {
            assert_eq!(TenantSlug::parse(bad), Err(TenantSlugError), "{bad:?}");
        }
    }
}
