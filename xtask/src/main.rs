//! hookgate's developer tasks: `cargo xtask <task>`. Dependencies stay few on purpose.

mod bench;
mod ci;
mod deny;
mod dev;
mod fuzz;
mod fuzz_api;
mod helm;
mod ingest;
mod lag;
mod openapi;
mod send;
mod server;
mod tools;

use anyhow::bail;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci      rustfmt check, clippy with warnings denied, the whole test suite, helm, cargo deny
          (licenses, bans, sources), a 15 s run of each fuzz target and 20 s of fuzz-api per
          class of operations
  deny    cargo deny check licenses bans sources against deny.toml; installs cargo-deny:
            cargo xtask deny [--advisories]   (advisories need GitHub reachable)
  bench   benchmarks (release builds):
            cargo xtask bench decode    decoding a ~2.5 KB user.created
            cargo xtask bench process [sqlite|postgres] [events]
                                        applying stored events; lag at light load
            cargo xtask bench backfill [sqlite|postgres] [users]
                                        listing users from a local fake of Clerk's Backend
                                        API (no rate limit) into the users table
            cargo xtask bench forward <http|nats|amqp|redis> [sqlite|postgres] [events]
                                        draining a backlog of deliveries into a local
                                        receiver or the machine's broker
            cargo xtask bench ingest [--db sqlite|postgres] [--connections 64] [--seconds 10]
                                     [--runs 3]
                                        durable ingest against the Node.js @clerk/backend
                                        handler and a verify-only Rust server, same load
            cargo xtask bench lag [--db sqlite|postgres] [--split] [--rate 2000] [--seconds 10]
                                        arrival → applied at a steady rate, in one `all`
                                        process or (--split) an api and a worker process
  helm    lint and render the Helm chart (defaults and deploy/examples), validate the manifests
          against the Kubernetes schemas, and check the rendered settings with hookgate
  openapi write docs/openapi.json from the code
  dev     migrate the local SQLite database, make sure the `demo` tenant exists, print its
          endpoint and signing secret, and run the gateway
  fuzz    run the libFuzzer targets in fuzz/ (verify, decode, tenant_slug), seeded from the
          event fixtures; installs cargo-fuzz on first use:
            cargo xtask fuzz [--seconds 600] [verify|decode|tenant_slug ...]
  fuzz-api
          schemathesis (installed from PyPI on first use) against the served OpenAPI document,
          every operation with real credentials: no 5xx, every answer as documented:
            cargo xtask fuzz-api [--seconds 300]   (per class of operations)
  send    sign a Clerk event like Svix does and POST it to a running hookgate:
            cargo xtask send [<event-type|file>] [--tenant <slug>] [--secret whsec_...]
                             [--url <base or endpoint>] [--repeat N] [--id msg_...]
";

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    match task.as_deref() {
        Some("ci") => ci::run(),
        Some("bench") => bench::run(&rest),
        Some("helm") => helm::run(),
        Some("openapi") => openapi::run(),
        Some("send") => send::run(&rest),
        Some("dev") => dev::run(&rest),
        Some("fuzz") => fuzz::run(&rest),
        Some("fuzz-api") => fuzz_api::run(&rest),
        Some("deny") => deny::run(&rest),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`\n\n{USAGE}"),
    }
}
