//! Where a listing stands, and the paging arithmetic, as pure functions.
//!
//! Every listing asks for the oldest objects first (`order_by=+created_at`), so objects created
//! while it runs land at its end and are listed too. Users page with Clerk's `starting_after`
//! cursor, which cannot skip anyone. The other kinds only page by offset, which skips objects
//! when earlier ones are deleted between two pages (everything after them moves up). So each
//! next page starts a few objects (the overlap) before the offset reached, and the listing
//! resumes after the last object it returned, wherever that object now stands. If that object is
//! not found where it can be (more deletions than the overlap, the object itself deleted, or an
//! object created in the past), the page is flagged as a gap: objects may have been missed.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ListKind;

/// The most objects Clerk returns in one page.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Where a listing stands: what to ask for next. Stored as a job's checkpoint, so its JSON form
/// is stable: `{"after":null}`, `{"after":"user_…"}`, `{"offset":{"offset":480,"last_id":"org_…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cursor {
    /// Users: the ones created after the user with this id (`None`: from the first).
    After(Option<String>),
    /// The other kinds: the number of objects the listing has passed and the id of the last one
    /// it returned (`None` at the start).
    Offset {
        offset: u64,
        last_id: Option<String>,
    },
}

impl Cursor {
    /// Where a listing of `kind` starts.
    pub fn start(kind: ListKind) -> Self {
        if kind.pages_by_cursor() {
            Self::After(None)
        } else {
            Self::Offset {
                offset: 0,
                last_id: None,
            }
        }
    }

    /// Whether this cursor can page `kind`.
    pub fn fits(&self, kind: ListKind) -> bool {
        matches!(self, Self::After(_)) == kind.pages_by_cursor()
    }
}

/// One page of a listing.
#[derive(Debug, Clone)]
pub struct Page {
    /// The objects, oldest first, exactly as Clerk sent them; each is a JSON object with a
    /// string `id`. After a gap the page holds every object fetched, the overlap included, so
    /// some may repeat objects of the previous page.
    pub objects: Vec<Box<RawValue>>,
    /// Where the listing continues; `None` when this was its last page.
    pub next: Option<Cursor>,
    /// Objects may have been missed between the previous page and this one (see the module).
    pub gap: bool,
    /// Clerk's count of all objects of the kind when the page was read; users have none.
    pub total_count: Option<u64>,
}

impl Page {
    /// The objects' ids, in order.
    pub fn ids(&self) -> Vec<String> {
        self.objects
            .iter()
            .filter_map(|object| object_id(object).ok())
            .collect()
    }
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
}

/// The `id` of a listed object, or why it has none.
pub(crate) fn object_id(object: &RawValue) -> Result<String, String> {
    if !object.get().trim_start().starts_with('{') {
        return Err("is not a JSON object".to_owned());
    }
    let head: Head<'_> =
        serde_json::from_str(object.get()).map_err(|e| format!("has no string `id`: {e}"))?;
    if head.id.is_empty() {
        return Err("has an empty `id`".to_owned());
    }
    Ok(head.id.into_owned())
}

/// One request of an offset listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetRequest {
    pub offset: u64,
    pub limit: u32,
}

/// What to ask for at `offset`: `overlap` objects earlier when there is a last object to find
/// again, and that many more, within Clerk's page limit.
pub(crate) fn offset_request(
    offset: u64,
    last_id: Option<&str>,
    page_size: u32,
    overlap: u32,
) -> OffsetRequest {
    let back = match last_id {
        Some(_) => offset.min(u64::from(overlap)),
        None => 0,
    };
    // `back` is at most `overlap`, a u32.
    let back32 = u32::try_from(back).unwrap_or(overlap);
    OffsetRequest {
        offset: offset - back,
        limit: page_size.saturating_add(back32).min(MAX_PAGE_SIZE),
    }
}

/// What an offset page gives, from the ids it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetOutcome {
    /// How many of the fetched objects (the overlap already returned) to leave out.
    pub skip: usize,
    pub gap: bool,
    pub next: Option<Cursor>,
}

/// Reads an offset page fetched with `request` for a cursor at `offset` after `last_id`.
pub(crate) fn offset_outcome(
    offset: u64,
    last_id: Option<&str>,
    request: OffsetRequest,
    ids: &[String],
) -> OffsetOutcome {
    let back = offset - request.offset;
    let (skip, gap) = match last_id {
        Some(last_id) if back > 0 => {
            // Where the last object stands if nothing changed: the end of the overlap. Deletions
            // before it move it earlier; it cannot move later unless an object was created
            // before it (a creation date in the past), which may push others out of reach.
            let expected = back - 1;
            match ids.iter().position(|id| id == last_id) {
                Some(found) if found as u64 <= expected => (found + 1, false),
                _ => (0, true),
            }
        }
        _ => (0, false),
    };
    let done = ids.len() < request.limit as usize;
    let next = match ids.last() {
        Some(last) if !done => Some(Cursor::Offset {
            offset: request.offset + ids.len() as u64,
            last_id: Some(last.clone()),
        }),
        _ => None,
    };
    OffsetOutcome { skip, gap, next }
}

/// Where a users listing continues after a page of `ids` asked with `limit`.
pub(crate) fn users_next(limit: u32, ids: &[String]) -> Option<Cursor> {
    match ids.last() {
        Some(last) if ids.len() >= limit as usize => Some(Cursor::After(Some(last.clone()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|n| format!("org_{n}")).collect()
    }

    /// Pages the objects `truth` (ids in created order) through the pure functions, calling
    /// `change` with the ids listed so far before each page after the first; returns the ids
    /// listed and whether a gap was flagged.
    fn walk(
        truth: &mut Vec<String>,
        page_size: u32,
        overlap: u32,
        mut change: impl FnMut(usize, &mut Vec<String>, &[String]),
    ) -> (Vec<String>, bool) {
        let (mut offset, mut last_id): (u64, Option<String>) = (0, None);
        let (mut listed, mut any_gap) = (Vec::new(), false);
        for page in 0.. {
            if page > 0 {
                change(page, truth, &listed);
            }
            let request = offset_request(offset, last_id.as_deref(), page_size, overlap);
            let start = (request.offset as usize).min(truth.len());
            let end = (start + request.limit as usize).min(truth.len());
            let fetched = truth[start..end].to_vec();
            let outcome = offset_outcome(offset, last_id.as_deref(), request, &fetched);
            any_gap |= outcome.gap;
            listed.extend(fetched[outcome.skip..].iter().cloned());
            match outcome.next {
                Some(Cursor::Offset {
                    offset: o,
                    last_id: l,
                }) => (offset, last_id) = (o, l),
                Some(other) => panic!("{other:?}"),
                None => break,
            }
            assert!(page < 10_000, "the listing does not end");
        }
        (listed, any_gap)
    }

    /// Deletes up to `n` of the listed objects just before the last one listed (the hardest
    /// place: everything after moves back into the overlap).
    fn delete_before_last_listed(truth: &mut Vec<String>, listed: &[String], n: usize) {
        let Some(last) = listed.last() else { return };
        let at = truth.iter().position(|id| id == last).unwrap();
        let from = at.saturating_sub(n);
        truth.drain(from..at);
    }

    #[test]
    fn cursor_json_is_stable() {
        let cases = [
            (Cursor::After(None), r#"{"after":null}"#),
            (
                Cursor::After(Some("user_1".into())),
                r#"{"after":"user_1"}"#,
            ),
            (
                Cursor::Offset {
                    offset: 480,
                    last_id: Some("org_9".into()),
                },
                r#"{"offset":{"offset":480,"last_id":"org_9"}}"#,
            ),
        ];
        for (cursor, json) in cases {
            assert_eq!(serde_json::to_string(&cursor).unwrap(), json);
            assert_eq!(serde_json::from_str::<Cursor>(json).unwrap(), cursor);
        }
    }

    #[test]
    fn start_cursors_fit_their_kind() {
        for kind in ListKind::ALL {
            assert!(Cursor::start(kind).fits(kind));
        }
        assert!(!Cursor::After(None).fits(ListKind::Organizations));
        assert!(!Cursor::start(ListKind::Roles).fits(ListKind::Users));
    }

    #[test]
    fn requests_reach_back_by_the_overlap_within_the_page_limit() {
        assert_eq!(
            offset_request(0, None, 500, 20),
            OffsetRequest {
                offset: 0,
                limit: 500
            }
        );
        assert_eq!(
            offset_request(500, Some("org_499"), 500, 20),
            OffsetRequest {
                offset: 480,
                limit: 500
            }
        );
        assert_eq!(
            offset_request(10, Some("org_9"), 10, 20),
            OffsetRequest {
                offset: 0,
                limit: 20
            }
        );
        assert_eq!(
            offset_request(100, Some("org_99"), 10, 20),
            OffsetRequest {
                offset: 80,
                limit: 30
            }
        );
        // Without an object to find again, no overlap.
        assert_eq!(
            offset_request(100, None, 10, 20),
            OffsetRequest {
                offset: 100,
                limit: 10
            }
        );
    }

    #[test]
    fn unchanged_objects_are_listed_once_each() {
        for (n, page_size) in [
            (0, 10),
            (1, 10),
            (10, 10),
            (95, 10),
            (1234, 500),
            (1000, 500),
        ] {
            let mut truth = ids(0..n);
            let (listed, gap) = walk(&mut truth, page_size, 20, |_, _, _| {});
            assert_eq!(listed, truth, "{n} objects, pages of {page_size}");
            assert!(!gap);
        }
    }

    #[test]
    fn deletions_up_to_the_overlap_skip_nothing() {
        for page_size in [1, 7, 10, 500] {
            let mut truth = ids(0..300);
            let (listed, gap) = walk(&mut truth, page_size, 20, |_, truth, listed| {
                delete_before_last_listed(truth, listed, 19);
            });
            assert!(!gap, "pages of {page_size}");
            let mut unique = listed.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), listed.len(), "no repeats");
            for id in &*truth {
                assert!(listed.contains(id), "{id} missed with pages of {page_size}");
            }
        }
    }

    #[test]
    fn more_deletions_than_the_overlap_are_a_gap() {
        let mut truth = ids(0..100);
        let (listed, gap) = walk(&mut truth, 10, 20, |page, truth, listed| {
            if page == 4 {
                delete_before_last_listed(truth, listed, 25);
            }
        });
        assert!(gap);
        // The flag is no false alarm here: objects were passed over.
        assert!(truth.iter().any(|id| !listed.contains(id)));
    }

    #[test]
    fn a_deleted_last_object_is_a_gap_but_nothing_is_skipped() {
        let mut truth = ids(0..30);
        let (listed, gap) = walk(&mut truth, 10, 20, |page, truth, _| {
            if page == 1 {
                truth.retain(|id| id != "org_9");
            }
        });
        assert!(gap);
        for id in &*truth {
            assert!(listed.contains(id), "{id} missed");
        }
    }

    #[test]
    fn objects_created_during_the_listing_come_at_its_end() {
        let mut truth = ids(0..50);
        let mut next = 50;
        let (listed, gap) = walk(&mut truth, 10, 20, |_, truth, _| {
            truth.push(format!("org_{next}"));
            next += 1;
        });
        assert!(!gap);
        assert_eq!(listed, *truth);
    }

    #[test]
    fn an_object_created_in_the_past_is_a_gap() {
        let mut truth = ids(0..100);
        let (_, gap) = walk(&mut truth, 10, 20, |page, truth, _| {
            if page == 3 {
                truth.insert(0, "org_past".to_owned());
            }
        });
        assert!(gap);
    }

    #[test]
    fn a_full_last_page_ends_with_an_overlap_only_page() {
        let request = offset_request(10, Some("org_9"), 10, 20);
        let outcome = offset_outcome(10, Some("org_9"), request, &ids(0..10));
        assert_eq!(
            outcome,
            OffsetOutcome {
                skip: 10,
                gap: false,
                next: None
            }
        );
    }

    #[test]
    fn users_continue_after_the_last_of_a_full_page() {
        assert_eq!(
            users_next(2, &["user_a".into(), "user_b".into()]),
            Some(Cursor::After(Some("user_b".into())))
        );
        assert_eq!(users_next(2, &["user_a".into()]), None);
        assert_eq!(users_next(2, &[]), None);
    }

    #[test]
    fn object_ids_need_an_object_with_a_string_id() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).unwrap();
        assert_eq!(
            object_id(&raw(r#"{"id":"user_1","x":[1]}"#)).unwrap(),
            "user_1"
        );
        assert!(object_id(&raw(r#"["user_1"]"#)).is_err());
        assert!(object_id(&raw(r#"{"id":7}"#)).is_err());
        assert!(object_id(&raw(r#"{"id":""}"#)).is_err());
        assert!(object_id(&raw(r#"{"name":"x"}"#)).is_err());
    }
}
