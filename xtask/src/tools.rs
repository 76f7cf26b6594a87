//! Tools the tasks fetch on first use, into `target/tools`.

use std::path::{Path, PathBuf};

use crate::helm::run_tool;

/// The `bin` folder of a virtualenv under `tools` holding `requirements` (`name==version`
/// each), created and installed from PyPI the first time; `program` is what it must provide.
pub(crate) fn python_tool(
    tools: &Path,
    requirements: &[&str],
    program: &str,
) -> anyhow::Result<PathBuf> {
    let name = requirements.join("_").replace("==", "-");
    let venv = tools.join(format!("venv-{name}"));
    let bin = venv.join("bin");
    if bin.join(program).is_file() {
        return Ok(bin);
    }
    eprintln!("installing {} from PyPI", requirements.join(" "));
    run_tool(
        Path::new("python3"),
        &["-m".into(), "venv".into(), venv.display().to_string()],
        None,
    )?;
    let mut install: Vec<String> = vec![
        "install".into(),
        "--quiet".into(),
        "--disable-pip-version-check".into(),
    ];
    install.extend(requirements.iter().map(|r| (*r).to_owned()));
    run_tool(&bin.join("pip"), &install, None)?;
    Ok(bin)
}
