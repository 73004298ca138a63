//! The layering of `src/` (docs/development.md, "Layers"): a module may import only
//! from layers strictly below its own, so no import runs upward and no cycle can form.
//! Read from the source text: every `crate::<module>` a file names. The table in
//! docs/development.md is read too, and must say what `LAYERS` says.

use std::collections::BTreeMap;
use std::path::Path;

/// Top-level modules of the library, by layer (0 is the bottom).
const LAYERS: &[(&str, u8)] = &[
    ("secret", 0),
    ("schema", 0),
    ("net", 0),
    ("metrics", 0),
    ("domain", 1),
    ("settings", 1),
    ("credentials", 2),
    ("telemetry", 2),
    ("mail", 2),
    ("error", 3),
    ("db", 4),
    ("models", 5),
    ("request_context", 5),
    ("cache", 6),
    ("state", 7),
    ("change_feed", 7),
    ("auth", 8),
    ("services", 9),
    ("routes", 10),
    ("startup", 11),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

/// Every `.rs` file under `dir` with the top-level module it belongs to.
fn files(dir: &Path, top: Option<&str>, out: &mut Vec<(String, std::path::PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let module = top.map(str::to_string).unwrap_or(name);
        if path.is_dir() {
            files(&path, Some(&module), out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((module, path));
        }
    }
}

/// The top-level modules a file names as `crate::<module>`.
fn imports(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for part in code.split("crate::").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn every_import_in_src_runs_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, None, &mut all);
    let mut upward = Vec::new();
    let mut seen: BTreeMap<String, u8> = BTreeMap::new();
    for (module, path) in &all {
        if module == "main" || module == "lib" {
            continue;
        }
        let own = layer(module).unwrap_or_else(|| {
            panic!(
                "{module} ({}) has no layer: add it to LAYERS and docs/development.md",
                path.display()
            )
        });
        seen.insert(module.clone(), own);
        let text = std::fs::read_to_string(path).unwrap();
        for dep in imports(&text) {
            if &dep == module {
                continue;
            }
            match layer(&dep) {
                Some(l) if l < own => {}
                Some(l) => upward.push(format!(
                    "{}: {module} (layer {own}) imports {dep} (layer {l})",
                    path.display()
                )),
                None => upward.push(format!("{}: unknown module {dep}", path.display())),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not run downward:\n{}",
        upward.join("\n")
    );
    for (module, _) in LAYERS {
        assert!(
            seen.contains_key(*module),
            "{module} is listed but does not exist"
        );
    }
}

/// The layer table of docs/development.md: the rows under its `| layer | modules |`
/// header, each module named in backticks in the second column.
fn documented_layers() -> BTreeMap<String, u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/development.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("| layer | modules |"))
        .skip(1);
    assert!(
        lines.next().is_some_and(|l| l.starts_with("|---")),
        "docs/development.md has no `| layer | modules | ... |` table"
    );
    let mut out = BTreeMap::new();
    for row in lines.take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let layer: u8 = cells[1]
            .parse()
            .unwrap_or_else(|_| panic!("not a layer number in docs/development.md: {row}"));
        for module in cells[2].split('`').skip(1).step_by(2) {
            let previous = out.insert(module.to_string(), layer);
            assert!(
                previous.is_none(),
                "{module} is listed twice in docs/development.md"
            );
        }
    }
    out
}

#[test]
fn the_layer_table_of_the_docs_is_the_one_checked_here() {
    let documented = documented_layers();
    let checked: BTreeMap<String, u8> = LAYERS.iter().map(|(m, l)| (m.to_string(), *l)).collect();
    let mut problems = Vec::new();
    for (module, layer) in &checked {
        match documented.get(module) {
            None => problems.push(format!("{module} (layer {layer}) is missing")),
            Some(l) if l != layer => {
                problems.push(format!("{module} is in layer {l}, but LAYERS says {layer}"))
            }
            Some(_) => {}
        }
    }
    for (module, layer) in &documented {
        if !checked.contains_key(module) {
            problems.push(format!("{module} (layer {layer}) is not in LAYERS"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/development.md, \"Layers\", disagrees with LAYERS:\n{}",
        problems.join("\n")
    );
}
