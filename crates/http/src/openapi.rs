//! The OpenAPI document, generated from the handlers' annotations. Served at `/openapi.json` and
//! checked in as `docs/openapi.json` (a test keeps the two equal; `cargo xtask openapi` writes it).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{admin, public, tenant};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookgate",
        description = "A multi-tenant gateway for Clerk webhooks: signed ingest, synced tables, operators' admin API and tenants' read API.",
    ),
    paths(
        public::ingest::ingest,
        public::health::healthz,
        public::health::readyz,
        public::openapi,
        public::metrics,
        admin::tenants::list,
        admin::tenants::create,
        admin::tenants::show,
        admin::tenants::update,
        admin::tenants::remove,
        admin::tenants::disable,
        admin::tenants::enable,
        admin::keys::list,
        admin::keys::create,
        admin::keys::revoke,
        admin::secrets::list,
        admin::secrets::add,
        admin::secrets::rotate,
        admin::secrets::revoke,
        admin::destinations::list,
        admin::destinations::create,
        admin::destinations::show,
        admin::destinations::update,
        admin::destinations::remove,
        admin::destinations::deliveries,
        admin::destinations::replay,
        admin::events::list,
        admin::events::dead_letters,
        admin::events::show,
        admin::events::replay_one,
        admin::events::replay_matching,
        admin::events::stats,
        tenant::users::list,
        tenant::users::show,
        tenant::resources::organizations,
        tenant::resources::organization,
        tenant::resources::organization_memberships,
        tenant::resources::organization_invitations,
        tenant::resources::organization_domains,
        tenant::resources::user_memberships,
        tenant::resources::user_sessions,
        tenant::resources::session,
        tenant::resources::roles,
        tenant::resources::role,
        tenant::resources::permissions,
        tenant::resources::permission,
        tenant::resources::waitlist_entries,
        tenant::resources::waitlist_entry,
        tenant::resources::events,
    ),
    modifiers(&Security),
    tags(
        (name = "public", description = "Signed webhook ingest and health: no credentials."),
        (name = "admin", description = "Operators: `Authorization: Bearer <admin token>`."),
        (name = "tenant", description = "App teams: `Authorization: Bearer <tenant API key>`; the key decides the tenant."),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["admin_token", "api_key"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// The document, as pretty JSON with a final newline (the checked-in form).
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_document_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == document(),
            "docs/openapi.json is stale: run `cargo xtask openapi` and commit it"
        );
    }

    #[test]
    fn every_documented_route_is_listed() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        for (path, operations) in doc["paths"].as_object().unwrap() {
            for method in operations.as_object().unwrap().keys() {
                let listed = crate::ROUTES
                    .iter()
                    .any(|(m, p)| m.eq_ignore_ascii_case(method) && p == path);
                assert!(
                    listed,
                    "{method} {path} is documented but missing from ROUTES"
                );
            }
        }
    }

    #[test]
    fn every_route_is_documented() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        for (method, path) in crate::ROUTES {
            let operation = &doc["paths"][path][method.to_lowercase()];
            assert!(
                operation.is_object(),
                "{method} {path} is missing from the OpenAPI document"
            );
        }
    }
}
