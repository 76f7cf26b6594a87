//! The documents operators read are held to the code: the configuration reference to
//! `config/default.toml` and the settings hookgate reads, the README's metric table and the Grafana
//! dashboard to the catalogue of exported metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hookgate::Settings;
use hookgate::prometheus::{CATALOGUE, Kind};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap()
}

/// `section.key` → value, for every leaf of a TOML table.
fn flatten_toml(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten_toml(&path, inner, out),
            leaf => {
                out.insert(path, leaf.to_string());
            }
        }
    }
}

fn flatten_json(prefix: &str, value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_json(&path, inner, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

/// The rows of `docs/configuration.md`: key → (default, environment variable).
fn documented_keys() -> BTreeMap<String, (String, String)> {
    read("docs/configuration.md")
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let unquote = |cell: &str| cell.trim_matches('`').to_owned();
            (unquote(cells[0]), (unquote(cells[1]), unquote(cells[2])))
        })
        .collect()
}

#[test]
fn the_configuration_reference_matches_the_defaults_and_the_settings() {
    let documented = documented_keys();
    let defaults: toml::Table = read("config/default.toml").parse().unwrap();
    let mut default_values = BTreeMap::new();
    flatten_toml("", &defaults, &mut default_values);

    // Every key the settings have (secrets.key included, which has no default) is documented.
    let settings = Settings::load_from(&repo("config"), "development", false).unwrap();
    let mut keys = BTreeSet::new();
    flatten_json("", &serde_json::to_value(&settings).unwrap(), &mut keys);
    assert_eq!(
        documented.keys().cloned().collect::<BTreeSet<_>>(),
        keys,
        "docs/configuration.md lists exactly the settings hookgate reads"
    );

    for (key, (default, env)) in &documented {
        let expected_env = format!("HOOKGATE__{}", key.to_uppercase().replace('.', "__"));
        assert_eq!(env, &expected_env, "environment variable of {key}");
        match default_values.get(key) {
            Some(value) => assert_eq!(default, value, "default of {key}"),
            None => assert_eq!(default, "—", "{key} has no default in config/default.toml"),
        }
    }
    for key in default_values.keys() {
        assert!(
            documented.contains_key(key),
            "{key} is in config/default.toml but not documented"
        );
    }
}

/// Metric names in `text`: `hookgate_…` words, histogram series reduced to their metric.
fn metric_names(text: &str) -> BTreeSet<String> {
    let histograms: BTreeSet<&str> = CATALOGUE
        .iter()
        .filter(|m| m.kind == Kind::Histogram)
        .map(|m| m.name)
        .collect();
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("hookgate_") {
        let word: String = rest[start..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[start + word.len()..];
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                word.strip_suffix(suffix)
                    .filter(|base| histograms.contains(base))
            })
            .unwrap_or(&word);
        names.insert(name.to_owned());
    }
    names
}

fn catalogue() -> BTreeSet<String> {
    CATALOGUE.iter().map(|m| m.name.to_owned()).collect()
}

#[test]
fn the_grafana_dashboard_uses_exactly_the_exported_metrics() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/hookgate.json")).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().iter())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(metric_names(&exprs.join("\n")), catalogue());
}

#[test]
fn the_readme_lists_every_metric() {
    let readme = read("README.md");
    let table: String = readme
        .lines()
        .filter(|line| line.starts_with("| `hookgate_"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(metric_names(&table), catalogue());
}

#[test]
fn the_alerting_rules_use_only_exported_metrics() {
    let rules = read("deploy/prometheus/alerts.yaml");
    let exprs: String = rules
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let used = metric_names(&exprs);
    assert!(used.len() >= 6, "{used:?}");
    let exported = catalogue();
    let unknown: Vec<_> = used.difference(&exported).collect();
    assert!(unknown.is_empty(), "not exported: {unknown:?}");
}
