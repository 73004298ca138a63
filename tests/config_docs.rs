//! `docs/configuration.md` lists every key of `config/default.toml` with its default,
//! and no key the file does not know. Read from the text of both files.

use std::collections::BTreeMap;
use std::path::Path;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The environment name of a key: `APP__SECTION__KEY`.
fn env_name(section: &str, key: &str) -> String {
    format!("APP__{}__{}", section, key).to_ascii_uppercase()
}

/// The keys `config/default.toml` sets, with their values as written (strings
/// unquoted), and the keys without a default that its comments name
/// (`APP__AUTH__JWT_SECRET`: "set APP__AUTH__JWT_SECRET").
fn default_toml() -> (BTreeMap<String, String>, Vec<String>) {
    let text = read("config/default.toml");
    let sections: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.strip_suffix(']'))
        .map(str::to_string)
        .collect();
    let mut set = BTreeMap::new();
    let mut named = Vec::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(comment) = line.strip_prefix('#') {
            for word in comment.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                let Some(rest) = word.strip_prefix("APP__") else {
                    continue;
                };
                let Some((s, k)) = rest.split_once("__") else {
                    continue;
                };
                // "APP__SECTION__KEY" in prose is not a key.
                if sections.iter().any(|known| known.eq_ignore_ascii_case(s)) && !k.is_empty() {
                    named.push(word.to_string());
                }
            }
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().trim_matches('"').to_string();
            set.insert(env_name(&section, key.trim()), value);
        }
    }
    named.retain(|k| !set.contains_key(k));
    named.sort();
    named.dedup();
    (set, named)
}

/// The rows of the doc's tables that name a key: key -> default cell.
fn documented() -> BTreeMap<String, String> {
    let mut rows = BTreeMap::new();
    for line in read("docs/configuration.md").lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4 || !cells[1].starts_with("`APP__") {
            continue;
        }
        let key = cells[1].trim_matches('`').to_string();
        let previous = rows.insert(key.clone(), cells[2].to_string());
        assert!(
            previous.is_none(),
            "{key} has two rows in docs/configuration.md"
        );
    }
    rows
}

#[test]
fn every_key_of_default_toml_is_documented_with_its_default_and_no_other() {
    let (set, named) = default_toml();
    assert!(set.len() > 30, "default.toml read as {set:?}");
    assert!(
        named.contains(&"APP__AUTH__JWT_SECRET".to_string()),
        "the keys without a default, read from the comments: {named:?}"
    );
    let docs = documented();
    let mut problems = Vec::new();
    for (key, value) in &set {
        match docs.get(key) {
            None => problems.push(format!("{key} (default {value:?}) has no row")),
            Some(cell) => {
                let shown = match value.as_str() {
                    "" => cell.contains("empty"),
                    v => cell.contains(&format!("`{v}`")),
                };
                if !shown {
                    problems.push(format!("{key}: default {value:?}, documented as {cell:?}"));
                }
            }
        }
    }
    for key in &named {
        if !docs.contains_key(key) {
            problems.push(format!("{key} (no default) has no row"));
        }
    }
    for key in docs.keys() {
        if !set.contains_key(key) && !named.contains(key) {
            problems.push(format!(
                "{key} is documented but config/default.toml neither sets nor names it"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/configuration.md and config/default.toml disagree:\n{}",
        problems.join("\n")
    );
}
