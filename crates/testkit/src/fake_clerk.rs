//! A fake of Clerk's Backend API list endpoints, served over real HTTP on `127.0.0.1:0`, for
//! testing backfill and reconciliation against a truth the test controls.
//!
//! It answers the eight instance-wide list endpoints with Clerk's shapes and rules (users as a
//! bare array with `starting_after`, the rest as `{data, total_count}` with offsets; `limit` 1 to
//! 500; `order_by` on `created_at` or `updated_at`), checks the bearer key, and can rate-limit
//! per key (429 with `Retry-After` in seconds), fail, receive requests late, slow down, and
//! change its truth while a listing runs. It records every request per key, so a test can check the client's budget.
//!
//! The objects are built from the webhook event fixtures in `crates/events/tests/fixtures`, each
//! with a fresh id and its own `created_at` / `updated_at` (milliseconds, strictly increasing).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

/// The kinds of object the fake lists, named as the client's list kinds are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Users,
    Organizations,
    OrganizationMemberships,
    OrganizationInvitations,
    OrganizationDomains,
    Roles,
    Permissions,
    WaitlistEntries,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Users,
        Kind::Organizations,
        Kind::OrganizationMemberships,
        Kind::OrganizationInvitations,
        Kind::OrganizationDomains,
        Kind::Roles,
        Kind::Permissions,
        Kind::WaitlistEntries,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Organizations => "organizations",
            Self::OrganizationMemberships => "organization_memberships",
            Self::OrganizationInvitations => "organization_invitations",
            Self::OrganizationDomains => "organization_domains",
            Self::Roles => "roles",
            Self::Permissions => "permissions",
            Self::WaitlistEntries => "waitlist_entries",
        }
    }

    /// The path Clerk lists the kind at.
    pub fn path(self) -> &'static str {
        match self {
            Self::Users => "/v1/users",
            Self::Organizations => "/v1/organizations",
            Self::OrganizationMemberships => "/v1/organization_memberships",
            Self::OrganizationInvitations => "/v1/organization_invitations",
            Self::OrganizationDomains => "/v1/organization_domains",
            Self::Roles => "/v1/organization_roles",
            Self::Permissions => "/v1/organization_permissions",
            Self::WaitlistEntries => "/v1/waitlist_entries",
        }
    }

    /// The prefix of the kind's ids.
    pub fn id_prefix(self) -> &'static str {
        match self {
            Self::Users => "user_",
            Self::Organizations => "org_",
            Self::OrganizationMemberships => "orgmem_",
            Self::OrganizationInvitations => "orginv_",
            Self::OrganizationDomains => "orgdmn_",
            Self::Roles => "role_",
            Self::Permissions => "perm_",
            Self::WaitlistEntries => "wle_",
        }
    }

    fn fixture(self) -> &'static str {
        match self {
            Self::Users => include_str!("../../events/tests/fixtures/user.created.json"),
            Self::Organizations => {
                include_str!("../../events/tests/fixtures/organization.created.json")
            }
            Self::OrganizationMemberships => {
                include_str!("../../events/tests/fixtures/organizationMembership.created.json")
            }
            Self::OrganizationInvitations => {
                include_str!("../../events/tests/fixtures/organizationInvitation.created.json")
            }
            Self::OrganizationDomains => {
                include_str!("../../events/tests/fixtures/organizationDomain.created.json")
            }
            Self::Roles => include_str!("../../events/tests/fixtures/role.created.json"),
            Self::Permissions => {
                include_str!("../../events/tests/fixtures/permission.created.json")
            }
            Self::WaitlistEntries => {
                include_str!("../../events/tests/fixtures/waitlistEntry.created.json")
            }
        }
    }

    /// The fixture's `data`: the object as Clerk sends it.
    fn template(self) -> Value {
        static TEMPLATES: OnceLock<HashMap<Kind, Value>> = OnceLock::new();
        let templates = TEMPLATES.get_or_init(|| {
            Kind::ALL
                .into_iter()
                .map(|kind| {
                    let event: Value =
                        serde_json::from_str(kind.fixture()).expect("a fixture is JSON");
                    (kind, event["data"].clone())
                })
                .collect()
        });
        templates[&self].clone()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| format!("no fake Clerk kind `{name}`"))
    }
}

/// One request the fake received with a key: when, and what it answered (0 while it has not
/// answered, or when the client gave up first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    pub at: Instant,
    pub status: u16,
}

type Hook = Box<dyn FnOnce(&FakeClerk) + Send>;

#[derive(Default)]
struct Truth {
    objects: HashMap<Kind, Vec<Value>>,
    /// Each object's JSON text, kept up to date, so a page is written without serializing (or
    /// cloning) tens of thousands of objects again for every request.
    texts: HashMap<String, String>,
    /// The ids in `objects`, per kind: seeding tens of thousands stays linear.
    ids: HashMap<Kind, HashSet<String>>,
    /// `(organization, user)` of every membership in `objects`.
    pairs: HashSet<(String, String)>,
    /// Where the search for a free membership pair resumes (user-major, organization-minor).
    next_pair: usize,
    /// `(created_at, id)` of deleted objects, so a cursor naming one still has a place.
    deleted: HashMap<Kind, HashMap<String, i64>>,
    clock_ms: i64,
    /// How far Clerk's clock runs behind this machine's (see [`FakeClerk::clock_behind`]).
    behind_ms: i64,
    serial: u64,
    keys: HashSet<String>,
    limit: Option<(u32, Duration)>,
    /// Per key, when the requests the rate limit let through arrived.
    admitted: HashMap<String, VecDeque<Instant>>,
    /// Per key (empty for none), every list request.
    records: HashMap<String, Vec<RequestRecord>>,
    fail_next: VecDeque<u16>,
    latency_next: VecDeque<Duration>,
    delay: Duration,
    delay_next: VecDeque<Duration>,
    /// List requests answered 200.
    served: usize,
    hooks: Vec<(usize, Hook)>,
    /// Path and query of every list request, in order.
    queries: Vec<String>,
}

struct Shared {
    url: String,
    state: Mutex<Truth>,
}

struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The fake Backend API; the server stops when the `FakeClerk` returned by `start` is dropped.
#[derive(Clone)]
pub struct FakeClerk {
    shared: Arc<Shared>,
    _server: Option<Arc<ServerTask>>,
}

impl fmt::Debug for FakeClerk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeClerk")
            .field("url", &self.shared.url)
            .finish_non_exhaustive()
    }
}

impl FakeClerk {
    /// Serves on `127.0.0.1` on a free port; no keys, no objects, no limit.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            url,
            state: Mutex::new(Truth::default()),
        });
        let mut router = Router::new();
        for kind in Kind::ALL {
            router = router.route(
                kind.path(),
                get(
                    move |State(shared): State<Arc<Shared>>, headers: HeaderMap, uri: Uri| {
                        list(shared, kind, headers, uri)
                    },
                ),
            );
        }
        let router = router.with_state(Arc::clone(&shared));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            shared,
            _server: Some(Arc::new(ServerTask(task))),
        }
    }

    /// The base URL, to pass as the client's `api_url` (paths start with `/v1`).
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Truth> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // --- keys, limits, failures ---

    /// Stamps objects from now on with a clock running `by` behind this machine's: objects
    /// seeded by a test then look as old as real ones, and tests of clock skew can be written.
    pub fn clock_behind(&self, by: Duration) {
        self.state().behind_ms = by.as_millis() as i64;
    }

    /// Accepts `key` as a bearer key from now on.
    pub fn add_key(&self, key: &str) {
        self.state().keys.insert(key.to_owned());
    }

    /// Lets each key through `requests` times in any window of `window`; more answer 429.
    pub fn set_limit(&self, requests: u32, window: Duration) {
        self.state().limit = Some((requests, window));
    }

    pub fn clear_limit(&self) {
        self.state().limit = None;
    }

    /// The next `n` list requests answer `status` (with Clerk's error body), before any check.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.state()
            .fail_next
            .extend(std::iter::repeat_n(status, n));
    }

    /// The next `n` list requests reach the fake `latency` late, as over a slow network: they
    /// are recorded (and counted by the rate limit) only then.
    pub fn latency_next(&self, n: usize, latency: Duration) {
        self.state()
            .latency_next
            .extend(std::iter::repeat_n(latency, n));
    }

    /// Every list request waits `delay` before it is answered (zero to stop).
    pub fn delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// The next `n` list requests wait `delay` before they are answered.
    pub fn delay_next(&self, n: usize, delay: Duration) {
        self.state()
            .delay_next
            .extend(std::iter::repeat_n(delay, n));
    }

    /// Runs `change` once the `n`-th successful (200) list request, counted from the start, has
    /// been read and before it is answered, so the next request sees the change.
    pub fn on_request(&self, n: usize, change: impl FnOnce(&FakeClerk) + Send + 'static) {
        self.state().hooks.push((n, Box::new(change)));
    }

    // --- what the fake saw ---

    /// Every list request made with `key` (empty: no key), answered or not.
    pub fn records(&self, key: &str) -> Vec<RequestRecord> {
        self.state().records.get(key).cloned().unwrap_or_default()
    }

    /// How many list requests were made with `key`.
    pub fn requests(&self, key: &str) -> usize {
        self.state().records.get(key).map_or(0, Vec::len)
    }

    /// How many requests with `key` were answered 429.
    pub fn rate_limited(&self, key: &str) -> usize {
        self.records(key).iter().filter(|r| r.status == 429).count()
    }

    /// The most requests made with `key` within any sliding window of `window`.
    pub fn max_in_window(&self, key: &str, window: Duration) -> usize {
        let mut times: Vec<Instant> = self.records(key).iter().map(|r| r.at).collect();
        times.sort();
        let mut most = 0;
        let mut first = 0;
        for (last, &at) in times.iter().enumerate() {
            while first <= last && times[first] + window <= at {
                first += 1;
            }
            most = most.max(last + 1 - first);
        }
        most
    }

    /// How many list requests the fake received, with any key or none.
    pub fn list_requests(&self) -> usize {
        self.state().queries.len()
    }

    /// The path and query of every list request, in order.
    pub fn queries(&self) -> Vec<String> {
        self.state().queries.clone()
    }

    // --- the truth ---

    /// Every object of `kind`, oldest first: the truth a backfill is compared with.
    pub fn all(&self, kind: Kind) -> Vec<Value> {
        let mut all = self.state().objects.get(&kind).cloned().unwrap_or_default();
        all.sort_by_key(|object| (created_at(object), id_of(object)));
        all
    }

    /// The ids of [`FakeClerk::all`].
    pub fn ids(&self, kind: Kind) -> Vec<String> {
        self.all(kind).iter().map(id_of).collect()
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<Value> {
        let state = self.state();
        state
            .objects
            .get(&kind)?
            .iter()
            .find(|object| object["id"] == id)
            .cloned()
    }

    /// Adds `object` as it is, giving it an id, `created_at` and `updated_at` where it has none;
    /// returns its id.
    pub fn add(&self, kind: Kind, object: Value) -> String {
        self.state().add(kind, object)
    }

    /// Changes a field of the object (as an edit in Clerk would) and bumps its `updated_at`;
    /// returns the object as it now is.
    pub fn update(&self, kind: Kind, id: &str) -> Value {
        let mut state = self.state();
        let now = state.tick();
        let object = state
            .objects
            .get_mut(&kind)
            .and_then(|objects| objects.iter_mut().find(|o| o["id"] == id))
            .unwrap_or_else(|| panic!("no {kind} {id} to update"));
        let field = match kind {
            Kind::Users => "first_name",
            Kind::Organizations => "name",
            Kind::OrganizationMemberships => "role_name",
            Kind::OrganizationInvitations => "role_name",
            Kind::OrganizationDomains => "affiliation_email_address",
            Kind::Roles | Kind::Permissions => "description",
            Kind::WaitlistEntries => "email_address",
        };
        let old = object[field].as_str().unwrap_or_default().to_owned();
        object[field] = json!(format!("{old} (edited at {now})"));
        object["updated_at"] = json!(now);
        let object = object.clone();
        state.texts.insert(id.to_owned(), object.to_string());
        object
    }

    /// Removes the object; returns it.
    pub fn delete(&self, kind: Kind, id: &str) -> Value {
        let mut state = self.state();
        let objects = state.objects.entry(kind).or_default();
        let at = objects
            .iter()
            .position(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("no {kind} {id} to delete"));
        let object = objects.remove(at);
        state.texts.remove(id);
        if let Some(ids) = state.ids.get_mut(&kind) {
            ids.remove(id);
        }
        if kind == Kind::OrganizationMemberships {
            state.pairs.remove(&membership_pair(&object));
        }
        state
            .deleted
            .entry(kind)
            .or_default()
            .insert(id.to_owned(), created_at(&object));
        object
    }

    /// Adds `n` objects of `kind` built from its fixture; returns their ids, oldest first.
    /// Memberships, invitations and domains belong to existing organizations (and memberships
    /// to existing users, one membership per pair); they create what they need when there is none.
    pub fn seed(&self, kind: Kind, n: usize) -> Vec<String> {
        let mut state = self.state();
        (0..n).map(|_| state.seed_one(kind)).collect()
    }

    pub fn seed_users(&self, n: usize) -> Vec<String> {
        self.seed(Kind::Users, n)
    }

    pub fn seed_organizations(&self, n: usize) -> Vec<String> {
        self.seed(Kind::Organizations, n)
    }

    pub fn seed_memberships(&self, n: usize) -> Vec<String> {
        self.seed(Kind::OrganizationMemberships, n)
    }

    pub fn seed_invitations(&self, n: usize) -> Vec<String> {
        self.seed(Kind::OrganizationInvitations, n)
    }

    pub fn seed_domains(&self, n: usize) -> Vec<String> {
        self.seed(Kind::OrganizationDomains, n)
    }

    pub fn seed_roles(&self, n: usize) -> Vec<String> {
        self.seed(Kind::Roles, n)
    }

    pub fn seed_permissions(&self, n: usize) -> Vec<String> {
        self.seed(Kind::Permissions, n)
    }

    pub fn seed_waitlist_entries(&self, n: usize) -> Vec<String> {
        self.seed(Kind::WaitlistEntries, n)
    }
}

impl Truth {
    fn add(&mut self, kind: Kind, mut object: Value) -> String {
        if !object["id"].is_string() {
            object["id"] = json!(self.new_id(kind));
        }
        if !object["created_at"].is_i64() {
            object["created_at"] = json!(self.tick());
        }
        if !object["updated_at"].is_i64() {
            object["updated_at"] = object["created_at"].clone();
        }
        let id = id_of(&object);
        assert!(
            self.ids.entry(kind).or_default().insert(id.clone()),
            "{kind} {id} exists already"
        );
        if kind == Kind::OrganizationMemberships {
            self.pairs.insert(membership_pair(&object));
        }
        self.texts.insert(id.clone(), object.to_string());
        self.objects.entry(kind).or_default().push(object);
        id
    }

    fn seed_one(&mut self, kind: Kind) -> String {
        let mut object = kind.template();
        self.serial += 1;
        let n = self.serial;
        match kind {
            Kind::Users => {
                object["username"] = json!(format!("user{n}"));
                object["external_id"] = json!(format!("ext-{n}"));
                let primary = object["primary_email_address_id"].clone();
                if let Some(emails) = object["email_addresses"].as_array_mut() {
                    for email in emails.iter_mut().filter(|e| e["id"] == primary) {
                        email["email_address"] = json!(format!("user{n}@example.com"));
                    }
                }
            }
            Kind::Organizations => {
                object["name"] = json!(format!("Organization {n}"));
                object["slug"] = json!(format!("organization-{n}"));
            }
            Kind::OrganizationMemberships => {
                let (org, user) = self.free_membership_pair();
                let organization = &mut object["organization"];
                for field in ["id", "name", "slug", "created_at", "updated_at"] {
                    organization[field] = org[field].clone();
                }
                let primary = &user["primary_email_address_id"];
                let identifier = user["email_addresses"]
                    .as_array()
                    .and_then(|emails| emails.iter().find(|e| e["id"] == *primary))
                    .map_or(Value::Null, |e| e["email_address"].clone());
                let public = &mut object["public_user_data"];
                public["user_id"] = user["id"].clone();
                public["identifier"] = identifier;
                public["first_name"] = user["first_name"].clone();
                public["last_name"] = user["last_name"].clone();
            }
            Kind::OrganizationInvitations | Kind::OrganizationDomains => {
                let org = self.some_organization(n);
                object["organization_id"] = org["id"].clone();
                if kind == Kind::OrganizationInvitations {
                    object["email_address"] = json!(format!("invitee{n}@example.com"));
                    for field in ["id", "name", "slug"] {
                        object["public_organization_data"][field] = org[field].clone();
                    }
                } else {
                    object["name"] = json!(format!("domain-{n}.example.com"));
                }
            }
            Kind::Roles => {
                object["key"] = json!(format!("org:role_{n}"));
                object["name"] = json!(format!("Role {n}"));
            }
            Kind::Permissions => {
                object["key"] = json!(format!("org:feature_{n}:read"));
                object["name"] = json!(format!("Read feature {n}"));
            }
            Kind::WaitlistEntries => {
                object["email_address"] = json!(format!("waiter{n}@example.com"));
            }
        }
        object["id"] = json!(self.new_id(kind));
        let now = self.tick();
        object["created_at"] = json!(now);
        object["updated_at"] = json!(now);
        self.add(kind, object)
    }

    fn list(&self, kind: Kind) -> &[Value] {
        self.objects.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// An existing organization (creating one when there is none), chosen by `n`.
    fn some_organization(&mut self, n: u64) -> Value {
        if self.list(Kind::Organizations).is_empty() {
            self.seed_one(Kind::Organizations);
        }
        let orgs = self.list(Kind::Organizations);
        orgs[(n as usize) % orgs.len()].clone()
    }

    /// An organization and a user with no membership between them, creating a user if every
    /// pair is taken.
    fn free_membership_pair(&mut self) -> (Value, Value) {
        if self.list(Kind::Organizations).is_empty() {
            self.seed_one(Kind::Organizations);
        }
        let orgs = self.list(Kind::Organizations);
        let users = self.list(Kind::Users);
        let all = orgs.len() * users.len();
        for at in self.next_pair..all {
            let (user, org) = (&users[at / orgs.len()], &orgs[at % orgs.len()]);
            let pair = (id_of(org), id_of(user));
            if !self.pairs.contains(&pair) {
                let found = (org.clone(), user.clone());
                self.next_pair = at + 1;
                return found;
            }
        }
        let org = orgs[0].clone();
        self.next_pair = all;
        let user_id = self.seed_one(Kind::Users);
        let user = self
            .list(Kind::Users)
            .iter()
            .find(|u| u["id"] == user_id.as_str())
            .cloned()
            .unwrap();
        (org, user)
    }

    /// A fresh millisecond timestamp: now, and always later than the last one given.
    fn tick(&mut self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.clock_ms = (now - self.behind_ms).max(self.clock_ms + 1);
        self.clock_ms
    }

    fn new_id(&mut self, kind: Kind) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        // 27 characters like Clerk's, from two random 128-bit values (21 digits each).
        let mut text = String::from("2");
        for _ in 0..2 {
            let mut value = uuid::Uuid::new_v4().as_u128();
            for _ in 0..13 {
                text.push(ALPHABET[(value % 62) as usize] as char);
                value /= 62;
            }
        }
        format!("{}{text}", kind.id_prefix())
    }
}

fn membership_pair(membership: &Value) -> (String, String) {
    (
        membership["organization"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        membership["public_user_data"]["user_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn id_of(object: &Value) -> String {
    object["id"].as_str().unwrap_or_default().to_owned()
}

fn created_at(object: &Value) -> i64 {
    object["created_at"].as_i64().unwrap_or_default()
}

// --- serving ---

fn clerk_error(status: StatusCode, code: &str, message: &str, long_message: &str) -> Response {
    let body = json!({
        "errors": [{"message": message, "long_message": long_message, "code": code}],
        "clerk_trace_id": "fake_trace",
    });
    (status, axum::Json(body)).into_response()
}

fn invalid_param(name: &str, long_message: &str) -> Response {
    let body = json!({
        "errors": [{
            "message": "is invalid",
            "long_message": long_message,
            "code": "form_param_value_invalid",
            "meta": {"param_name": name},
        }],
        "clerk_trace_id": "fake_trace",
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .map(|key| key.trim().to_owned())
}

async fn list(shared: Arc<Shared>, kind: Kind, headers: HeaderMap, uri: Uri) -> Response {
    let key = bearer(&headers);
    let record_key = key.clone().unwrap_or_default();
    let latency = shared.state.lock().unwrap().latency_next.pop_front();
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let (slot, failure, delay) = {
        let mut state = shared.state.lock().unwrap();
        state.queries.push(uri.to_string());
        let records = state.records.entry(record_key.clone()).or_default();
        records.push(RequestRecord {
            at: Instant::now(),
            status: 0,
        });
        let slot = records.len() - 1;
        let failure = state.fail_next.pop_front();
        let delay = state.delay_next.pop_front().unwrap_or(state.delay);
        (slot, failure, delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (response, hooks) = {
        let mut state = shared.state.lock().unwrap();
        let response = match failure {
            Some(status) => {
                let status = StatusCode::from_u16(status).unwrap();
                clerk_error(
                    status,
                    "internal_clerk_error",
                    "Oops, an unexpected error occurred",
                    "There was an internal error on our servers. We've been notified and are working on fixing it.",
                )
            }
            None => answer(&mut state, kind, key.as_deref(), &uri),
        };
        if let Some(record) = state
            .records
            .get_mut(&record_key)
            .and_then(|records| records.get_mut(slot))
        {
            record.status = response.status().as_u16();
        }
        let mut hooks = Vec::new();
        if response.status() == StatusCode::OK {
            state.served += 1;
            let served = state.served;
            let (due, later) = std::mem::take(&mut state.hooks)
                .into_iter()
                .partition(|(n, _)| *n == served);
            state.hooks = later;
            hooks = due;
        }
        (response, hooks)
    };
    if !hooks.is_empty() {
        let fake = FakeClerk {
            shared: Arc::clone(&shared),
            _server: None,
        };
        for (_, hook) in hooks {
            hook(&fake);
        }
    }
    response
}

/// The answer to a list request once any injected failure and delay are past.
fn answer(state: &mut Truth, kind: Kind, key: Option<&str>, uri: &Uri) -> Response {
    let Some(key) = key.filter(|key| state.keys.contains(*key)) else {
        return clerk_error(
            StatusCode::UNAUTHORIZED,
            "authentication_invalid",
            "Invalid authentication",
            "Unable to authenticate the request, you need to supply an active API key",
        );
    };
    if let Some((requests, window)) = state.limit {
        let now = Instant::now();
        let admitted = state.admitted.entry(key.to_owned()).or_default();
        while admitted.front().is_some_and(|&at| at + window <= now) {
            admitted.pop_front();
        }
        if admitted.len() >= requests as usize {
            let free_at = admitted[0] + window;
            let seconds = (free_at - now).as_secs_f64().ceil().max(1.0) as u64;
            let mut response = clerk_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too Many Requests",
                "Too many requests, retry later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            return response;
        }
        admitted.push_back(now);
    }

    let params: Vec<(String, String)> = match Query::try_from_uri(uri) {
        Ok(Query(params)) => params,
        Err(_) => return invalid_param("query", "the query string cannot be read"),
    };
    let first = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = match first("limit").map(str::parse::<u32>) {
        None => 10,
        Some(Ok(limit)) if (1..=500).contains(&limit) => limit as usize,
        Some(_) => return invalid_param("limit", "limit must be between 1 and 500"),
    };
    let offset = match first("offset").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(_) => return invalid_param("offset", "offset must be an integer of 0 or more"),
    };
    let order_by = first("order_by").unwrap_or("-created_at");
    let (descending, field) = match order_by.as_bytes().first() {
        Some(b'-') => (true, &order_by[1..]),
        Some(b'+') => (false, &order_by[1..]),
        _ => (false, order_by),
    };
    if !matches!(field, "created_at" | "updated_at") {
        return invalid_param(
            "order_by",
            "the fake Clerk orders by created_at or updated_at (with + or -) only",
        );
    }

    let mut objects: Vec<&Value> = state.list(kind).iter().collect();
    // Compared in place: a listing of tens of thousands allocates nothing per comparison.
    fn order<'v>(object: &'v Value, field: &str) -> (i64, &'v str) {
        (
            object[field].as_i64().unwrap_or_default(),
            object["id"].as_str().unwrap_or_default(),
        )
    }
    objects.sort_by(|a, b| order(a, field).cmp(&order(b, field)));
    if descending {
        objects.reverse();
    }
    let total_count = objects.len();

    let starting_after = first("starting_after").filter(|_| kind == Kind::Users);
    let start = match starting_after {
        None => offset,
        Some(_) if field != "created_at" => {
            return invalid_param(
                "starting_after",
                "starting_after can only be used when ordering by created_at",
            );
        }
        Some(_) if offset != 0 => {
            return invalid_param(
                "starting_after",
                "starting_after cannot be combined with a non-zero offset",
            );
        }
        Some(after) => {
            let place = objects
                .iter()
                .find(|o| o["id"] == after)
                .map(|o| created_at(o))
                .or_else(|| state.deleted.get(&kind)?.get(after).copied());
            let Some(place) = place else {
                return invalid_param("starting_after", "no user has the starting_after id");
            };
            let anchor = (place, after);
            objects
                .iter()
                .position(|o| {
                    let key = (created_at(o), o["id"].as_str().unwrap_or_default());
                    if descending {
                        key < anchor
                    } else {
                        key > anchor
                    }
                })
                .unwrap_or(objects.len())
        }
    };
    let mut page = String::from("[");
    for (n, object) in objects.into_iter().skip(start).take(limit).enumerate() {
        if n > 0 {
            page.push(',');
        }
        let id = object["id"].as_str().unwrap_or_default();
        match state.texts.get(id) {
            Some(text) => page.push_str(text),
            None => page.push_str(&object.to_string()),
        }
    }
    page.push(']');
    let body = if kind == Kind::Users {
        page
    } else {
        format!("{{\"data\":{page},\"total_count\":{total_count}}}")
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
