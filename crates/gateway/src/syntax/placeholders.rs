//! SQL `:name` placeholders: found outside quotes and comments (`::` casts skipped), so the
//! config can check that each names a declared param and the SQL source can bind them.

/// The names of the `:name` placeholders in `sql`, in order of first use.
pub(crate) fn placeholders(sql: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (name, _) in scan(sql) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Finds `:name` placeholders outside quotes and comments (skipping `::` casts); yields each
/// name with its byte range.
pub(crate) fn scan(sql: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b':' if b.get(i + 1) == Some(&b':') => i += 2,
            b':' if b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push((sql[start + 1..i].to_owned(), start..i));
            }
            _ => i += 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_skip_quotes_comments_and_casts() {
        let sql = "SELECT * FROM t WHERE a = :a AND b = ':not' AND c::text = :c -- :comment\n AND d = :a";
        assert_eq!(placeholders(sql), vec!["a", "c"]);
        assert_eq!(scan(sql).len(), 3);
    }
}
