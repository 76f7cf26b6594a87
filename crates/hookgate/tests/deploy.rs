//! The container image's Dockerfile, read as text (no Docker engine runs here): everything it
//! copies from the repository exists and is in the build context, and the image runs the
//! `hookgate` binary as a non-root user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn dockerfile() -> Vec<String> {
    std::fs::read_to_string(repo().join("deploy/Dockerfile"))
        .unwrap()
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_copy_source_exists_and_is_in_the_build_context() {
    let ignore = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    let included: Vec<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    let mut copies = 0;
    for line in dockerfile() {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        if rest.starts_with("--from") {
            continue;
        }
        let parts: Vec<&str> = rest.split_whitespace().collect();
        let (sources, _destination) = parts.split_at(parts.len() - 1);
        for source in sources {
            let source = source.trim_end_matches('/');
            copies += 1;
            assert!(
                repo().join(source).exists(),
                "COPY {source}: no such path in the repository"
            );
            assert!(
                included
                    .iter()
                    .any(|inc| source == *inc || source.starts_with(&format!("{inc}/"))),
                "COPY {source}: excluded from the build context by .dockerignore"
            );
        }
    }
    assert!(copies >= 5, "the Dockerfile copies the workspace");
    // Every workspace member is copied, or the build cannot find it.
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let workspace: toml::Table = manifest.parse().unwrap();
    let copied: Vec<String> = dockerfile()
        .iter()
        .filter_map(|l| l.strip_prefix("COPY "))
        .flat_map(|l| {
            l.split_whitespace()
                .map(|s| s.trim_end_matches('/').to_owned())
        })
        .collect();
    // Patched dependencies too (`[patch.crates-io]` paths), or `--locked` resolution fails.
    let patched = workspace
        .get("patch")
        .and_then(|p| p.get("crates-io"))
        .and_then(|p| p.as_table())
        .into_iter()
        .flat_map(|t| t.values())
        .filter_map(|dep| dep.get("path").and_then(|p| p.as_str()));
    let members = workspace["workspace"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap());
    for member in members.chain(patched) {
        assert!(
            copied
                .iter()
                .any(|c| member == c || member.starts_with(&format!("{c}/"))),
            "workspace member or patched crate {member} is not copied into the build stage"
        );
    }
}

#[test]
fn the_image_runs_the_hookgate_binary_as_non_root() {
    let lines = dockerfile();
    let binary = env!("CARGO_BIN_EXE_hookgate");
    let name = Path::new(binary).file_name().unwrap().to_str().unwrap();
    assert_eq!(name, "hookgate");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("RUN cargo build --release --locked -p hookgate")),
        "the build stage builds the hookgate package"
    );
    assert!(
        lines
            .iter()
            .any(|l| l
                == &format!("COPY --from=build /src/target/release/{name} /usr/local/bin/{name}")),
        "the runtime stage takes the built binary"
    );
    assert!(lines.contains(&format!("ENTRYPOINT [\"{name}\"]")));
    assert!(lines.contains(&"CMD [\"serve\"]".to_owned()));
    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER instruction");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "USER {user} is root");
    // The image's settings directory holds the files hookgate layers.
    assert!(
        lines
            .iter()
            .any(|l| l == "COPY config/default.toml config/production.toml /etc/hookgate/")
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("HOOKGATE_CONFIG_DIR=/etc/hookgate"))
    );
    // The toolchain image is at least the workspace's rust-version.
    let from = lines
        .iter()
        .find_map(|l| l.strip_prefix("FROM rust:"))
        .expect("a rust build stage");
    let version = from.split('-').next().unwrap();
    let manifest: toml::Table = std::fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let wanted = manifest["workspace"]["package"]["rust-version"]
        .as_str()
        .unwrap();
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|n| n.parse().unwrap()).collect() };
    assert!(parse(version) >= parse(wanted), "rust:{version} < {wanted}");
}
