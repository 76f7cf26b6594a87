"""Checks one rendering of the hookgate chart beyond the Kubernetes schemas.

argv: <rendered manifests> <repository root> <hookgate binary> <scratch dir>

- the ConfigMap's production.toml, layered over config/default.toml, is accepted by
  `hookgate config check` (hookgate refuses unknown keys, so a misspelt value fails here);
- every container runs as non-root with a read-only root filesystem and drops ALL capabilities;
- each Deployment's grace period covers the drain delay and the shutdown deadline.
"""
import base64
import os
import shutil
import subprocess
import sys
import tomllib

import yaml

# Values whose contents are free-form Kubernetes objects: documented as one value.
OPAQUE = ("resources", "nodeSelector", "affinity", "annotations", "labels",
          "podSecurityContext", "securityContext")


def value_paths(prefix, value, out):
    if isinstance(value, dict) and value and not prefix.endswith(OPAQUE):
        for key, inner in value.items():
            value_paths(f"{prefix}.{key}" if prefix else key, inner, out)
    else:
        out.append(prefix)


if sys.argv[1] == "values-doc":
    chart = sys.argv[2]
    paths = []
    value_paths("", yaml.safe_load(open(os.path.join(chart, "values.yaml"))), paths)
    readme = open(os.path.join(chart, "README.md")).read()
    missing = [p for p in paths if f"| `{p}` |" not in readme]
    if missing:
        print("values missing from the chart README: " + ", ".join(missing))
        sys.exit(1)
    print(f"ok: the chart README lists all {len(paths)} values")
    sys.exit(0)

rendered, root, binary, scratch = sys.argv[1:5]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
failures = []

config_maps = [d for d in docs if d["kind"] == "ConfigMap"]
if len(config_maps) != 1:
    failures.append(f"expected one ConfigMap, found {len(config_maps)}")
else:
    production = config_maps[0]["data"]["production.toml"]
    os.makedirs(scratch, exist_ok=True)
    shutil.copy(os.path.join(root, "config", "default.toml"), scratch)
    with open(os.path.join(scratch, "production.toml"), "w") as f:
        f.write(production)
    env = dict(os.environ)
    env.update(
        HOOKGATE_CONFIG_DIR=scratch,
        HOOKGATE_ENV="production",
        HOOKGATE__DATABASE__URL="postgres://hookgate:x@db.invalid:5432/hookgate",
        HOOKGATE__SECRETS__KEY=base64.b64encode(os.urandom(32)).decode(),
        # As the pods get them from the chart's Secret when the lists are empty.
        HOOKGATE__ADMIN__TOKEN_HASHES="",
        HOOKGATE__SECRETS__PREVIOUS_KEYS="",
        RUST_LOG="",
        RUST_BACKTRACE="0",
    )
    check = subprocess.run([binary, "config", "check"], env=env, capture_output=True, text=True)
    if check.returncode != 0:
        failures.append(f"hookgate config check refused the chart's settings:\n{check.stderr}")
    settings = tomllib.loads(production)
    server = settings.get("server", {})
    budget_s = (server.get("drain_delay_ms", 0) + server.get("shutdown_timeout_ms", 20000)) / 1000

for doc in docs:
    if doc["kind"] not in ("Deployment", "Job"):
        continue
    name = doc["metadata"]["name"]
    pod = doc["spec"]["template"]["spec"]
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        failures.append(f"{name}: the pod does not require a non-root user")
    for container in pod["containers"]:
        sc = container.get("securityContext", {})
        if not sc.get("readOnlyRootFilesystem"):
            failures.append(f"{name}: root filesystem is writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            failures.append(f"{name}: privilege escalation is allowed")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            failures.append(f"{name}: capabilities are not all dropped")
    if doc["kind"] == "Deployment" and config_maps:
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace < budget_s:
            failures.append(f"{name}: grace period {grace}s is under drain + shutdown ({budget_s}s)")
        annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
        if "checksum/config" not in annotations:
            failures.append(f"{name}: no checksum/config annotation (pods would not roll on config changes)")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"ok: {len(docs)} manifests")
