//! The crate layering the architecture promises, checked on the real
//! dependency graph.

use std::process::Command;

const CORE: &[&str] = &[
    "warmline-sip",
    "warmline-media",
    "warmline-teams",
    "warmline-store",
    "warmline-secrets",
    "warmline-agent",
    "warmline-lab",
    "warmline-cli",
];

fn dependency_names(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(warmline_e2e::workspace_root())
        .args(["tree", "--locked", "-p", package, "-e", "normal,build", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn core_crates_build_without_the_desktop_stack() {
    for package in CORE {
        let deps = dependency_names(package);
        assert!(deps.len() > 1, "cargo tree listed nothing for {package}");
        let desktop: Vec<&String> = deps
            .iter()
            .filter(|d| d.starts_with("tauri") || d.starts_with("wry") || d.starts_with("webkit2gtk"))
            .collect();
        assert!(desktop.is_empty(), "{package} must not depend on the desktop stack, but pulls in {desktop:?}");
    }
}

#[test]
fn only_the_secrets_crate_touches_the_keyring() {
    for package in CORE.iter().filter(|p| **p != "warmline-secrets") {
        let direct = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(warmline_e2e::workspace_root())
            .args(["tree", "--locked", "-p", package, "-e", "normal", "--depth", "1", "--prefix", "none"])
            .output()
            .expect("run cargo tree");
        let text = String::from_utf8_lossy(&direct.stdout);
        assert!(
            !text.lines().any(|l| l.starts_with("keyring") || l.contains("secret-service")),
            "{package} depends on a keyring crate directly; go through warmline-secrets:\n{text}"
        );
    }
}

/// The intended crate graph: the desktop shell and the CLI on top; the
/// agent below them; sip, media, teams, store and secrets below the agent;
/// the lab beside the agent (the shells compose the two; neither depends on
/// the other). Each crate may use only the Warmline crates listed here.
#[test]
fn the_crate_graph_is_the_one_the_architecture_draws() {
    let core = ["warmline-sip", "warmline-media", "warmline-teams", "warmline-store", "warmline-secrets"];
    let allowed: &[(&str, &[&str])] = &[
        ("warmline-secrets", &[]),
        ("warmline-sip", &[]),
        ("warmline-media", &[]),
        ("warmline-store", &["warmline-secrets"]),
        ("warmline-teams", &["warmline-secrets"]),
        ("warmline-agent", &core),
        ("warmline-lab", &["warmline-sip", "warmline-media", "warmline-store", "warmline-secrets"]),
        ("warmline-cli", &[&core[..], &["warmline-agent", "warmline-lab"]].concat()),
        ("warmline", &[&core[..], &["warmline-agent", "warmline-lab"]].concat()),
    ];
    for (package, may) in allowed {
        let used: std::collections::BTreeSet<String> =
            dependency_names(package).into_iter().filter(|d| d.starts_with("warmline") && d != package).collect();
        let extra: Vec<&String> = used.iter().filter(|d| !may.contains(&d.as_str())).collect();
        assert!(
            extra.is_empty(),
            "{package} depends on {extra:?}, which the layering does not allow (it may use {may:?})"
        );
    }
}
