//! The OpenAPI document, generated from the handlers' annotations. Served at `/openapi.json` and
//! checked in as `docs/openapi.json` (a test keeps the two equal; `cargo xtask openapi` writes it).

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
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
        admin::jobs::show_key,
        admin::jobs::set_key,
        admin::jobs::clear_key,
        admin::jobs::backfill,
        admin::jobs::reconcile,
        admin::jobs::list,
        admin::jobs::show,
        admin::jobs::cancel,
        admin::notifications::show,
        admin::notifications::set,
        admin::notifications::clear,
        admin::notifications::test,
        admin::notifications::sent,
        admin::notifications::test_global,
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
    modifiers(&Security, &CommonAnswers),
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

/// What every operation of its kind may answer besides its own results, from the layers and
/// extractors they share, so the document lists every status a client can get: 401 without the
/// class's credentials; 404 for an unknown tenant or resource in the path; 422 for a slug that is
/// not one, or a body that does not parse; 400 for a query that does not; 408 for a body that
/// stalls; 503 when storage is unavailable or the request runs past its deadline. Tenant slugs in
/// paths are described by their rule, so clients (and API fuzzers) know what one looks like.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                common_answers(operation);
            }
        }
    }
}

fn common_answers(operation: &mut Operation) {
    let mut in_path = Vec::new();
    let mut queried = false;
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        match parameter.parameter_in {
            ParameterIn::Path => {
                if matches!(parameter.name.as_str(), "slug" | "tenant") {
                    parameter.schema = Some(slug_schema());
                }
                in_path.push(parameter.name.clone());
            }
            ParameterIn::Query => queried = true,
            _ => {}
        }
    }
    let authenticated = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = operation.request_body.is_some();
    let answers = [
        ("401", "missing or wrong credentials", authenticated),
        (
            "404",
            "no such tenant or resource",
            !in_path.is_empty() && authenticated,
        ),
        (
            "422",
            "invalid tenant slug in the path, or a body that does not parse",
            authenticated && (in_path.iter().any(|p| p == "slug") || has_body),
        ),
        ("400", "invalid query parameters", queried),
        ("408", "the body stalled", has_body),
        (
            "503",
            "storage unavailable, or the request ran past its deadline; see Retry-After",
            true,
        ),
    ];
    for (status, description, applies) in answers {
        if applies && !operation.responses.responses.contains_key(status) {
            operation
                .responses
                .responses
                .insert(status.to_owned(), error_response(description));
        }
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// A tenant slug, as `TenantSlug::parse` accepts it.
fn slug_schema() -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::T(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(hookgate_tenancy::TenantSlug::MAX_LEN))
            .pattern(Some("^[a-z0-9-]+$"))
            .description(Some("the tenant's slug: lowercase letters, digits and `-`"))
            .into(),
    )
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
