//! ARCHITECTURE.md is the map of the workspace: every module of every crate must be on it (refpod's
//! on its own map, reference/README.md, which ARCHITECTURE.md points to). A module added without a
//! line there fails here.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, as a path relative to it (`report/format.rs`).
fn modules(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = vec![];
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// How a map may name a module: `report/format.rs`, or its file name alone when that is unique in
/// the crate (`build_dir.rs`, a word of its own), or its folder for a `mod.rs` (`report/`).
fn named(map: &str, module: &str, all: &[String]) -> bool {
    if matches!(module, "lib.rs" | "main.rs") {
        return true;
    }
    if map.contains(module) {
        return true;
    }
    if let Some(folder) = module.strip_suffix("/mod.rs") {
        return map.contains(&format!("{folder}/"));
    }
    let file = module.rsplit('/').next().unwrap();
    let unique = all
        .iter()
        .filter(|m| m.rsplit('/').next() == Some(file))
        .count()
        == 1;
    unique && mentions(map, file)
}

/// `file` appears in `map` as a word of its own (`x.rs`, not the end of `y_x.rs`).
fn mentions(map: &str, file: &str) -> bool {
    map.match_indices(file).any(|(at, _)| {
        !map[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn every_module_is_on_the_map() {
    let root = workspace();
    let architecture = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let refpod_map = std::fs::read_to_string(root.join("reference/README.md")).unwrap();
    let mut missing = vec![];
    for (krate, map) in [
        ("sandbox", &architecture),
        ("conformance", &architecture),
        ("mutants", &architecture),
        ("xtask", &architecture),
        ("test-support", &architecture),
        ("reference", &refpod_map),
    ] {
        let src = root.join(krate).join("src");
        let all = modules(&src);
        for module in &all {
            if !named(map, module, &all) {
                missing.push(format!("{krate}/src/{module}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "modules missing from their map (ARCHITECTURE.md, or reference/README.md for refpod): {missing:#?}"
    );
}
