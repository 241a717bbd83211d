//! From a byte offset in a TOML file to what a person looks for: the line,
//! the column, and the field as a path (`customers[3].phones`).
//!
//! toml's own errors carry a span but not the path of tables above it, so
//! the path is rebuilt from the table headers before the offset. That
//! covers the layout scenario files use (`[table]`, `[[array]]`, nested
//! `[[a.b]]`, `key = value`, multi-line arrays); a key inside an inline
//! table is reported as the key that holds the inline table.

use std::collections::HashMap;

/// Where an offset is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// `customers[3].phones`, or the table alone, or empty at top level before any key.
    pub path: String,
}

pub(crate) fn locate(src: &str, offset: usize) -> Location {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;

    // Array-of-tables counters by dotted name, and the current table path.
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut table = String::new();
    let mut key: Option<String> = None;
    for text in src[..line_start].lines().chain(std::iter::once(&src[line_start..line_end(src, line_start)])) {
        let t = strip_comment(text).trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let name = normalise(name);
            *counts.entry(name.clone()).or_default() += 1;
            let nested = format!("{name}.");
            counts.retain(|k, _| !k.starts_with(&nested));
            table = render(&name, &counts);
            key = None;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            table = render(&normalise(name), &counts);
            key = None;
        } else if let Some((k, _)) = t.split_once('=').filter(|(k, _)| is_key(k)) {
            key = Some(k.trim().trim_matches('"').to_string());
        }
    }
    let path = match (table.is_empty(), key) {
        (_, None) => table,
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{table}.{k}"),
    };
    Location { line, column, path }
}

fn line_end(src: &str, start: usize) -> usize {
    src[start..].find('\n').map_or(src.len(), |i| start + i)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The line without a trailing `# comment` (a `#` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &line[..i],
            _ => {}
        }
    }
    line
}

fn is_key(k: &str) -> bool {
    let k = k.trim().trim_matches('"');
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn normalise(name: &str) -> String {
    name.split('.').map(|p| p.trim().trim_matches('"')).collect::<Vec<_>>().join(".")
}

/// `customers.interactions` with counters -> `customers[2].interactions[0]`.
fn render(name: &str, counts: &HashMap<String, usize>) -> String {
    let mut out = Vec::new();
    let mut prefix = String::new();
    for part in name.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
        }
        prefix.push_str(part);
        match counts.get(&prefix) {
            Some(n) => out.push(format!("{part}[{}]", n.saturating_sub(1))),
            None => out.push(part.to_string()),
        }
    }
    out.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "seed = 1\n\
        [tenant]\n\
        domain = \"x\"\n\
        [[customers]]\n\
        id = \"C-1\"\n\
        [[customers.interactions]]\n\
        days_ago = 1\n\
        [[customers]]\n\
        id = \"C-2\" # the second\n\
        phones = [\n\
          \"+1\",\n\
        ]\n\
        [[customers.interactions]]\n\
        days_ago = 2\n";

    fn at(needle: &str) -> Location {
        locate(SRC, SRC.find(needle).expect("needle"))
    }

    #[test]
    fn paths_count_array_tables_and_reset_nested_ones() {
        assert_eq!(at("seed").path, "seed");
        assert_eq!(at("\"x\"").path, "tenant.domain");
        assert_eq!(at("\"C-1\"").path, "customers[0].id");
        assert_eq!(at("1\n[[customers]]").path, "customers[0].interactions[0].days_ago");
        assert_eq!(at("\"C-2\"").path, "customers[1].id");
        assert_eq!(at("\"+1\"").path, "customers[1].phones", "inside a multi-line array");
        assert_eq!(at("2\n").path, "customers[1].interactions[0].days_ago", "nested counter restarts");
    }

    #[test]
    fn lines_and_columns_are_one_based() {
        let l = at("\"C-2\"");
        assert_eq!((l.line, l.column), (9, 6));
    }
}
