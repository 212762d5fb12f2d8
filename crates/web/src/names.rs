//! The one rule for ids and names a control API takes (channel, fetcher, category,
//! configuration, schedule and asset ids): they become path segments, store keys and file
//! names, so every service refuses the same things the same way.

use crate::ApiError;

/// Longest id or name any service takes.
pub const NAME_MAX: usize = 64;

/// The rule in words, as every error answer states it.
pub const NAME_RULE: &str = "use 1 to 64 characters of A-Z a-z 0-9 _ -";

/// Whether `name` follows the rule: 1 to [`NAME_MAX`] characters of `A-Z a-z 0-9 _ -`
/// (no path separators, no dots, so never `..`, a hidden file or an extension).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// [`is_valid_name`] as a 400 naming `field`, with the offending value (cut short when
/// long, so a 10,000-character name does not come back whole).
pub fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    if is_valid_name(name) {
        return Ok(());
    }
    Err(ApiError::bad_field(field, name_problem(name)))
}

/// What is wrong with `name`, in words (for services whose errors are their own type).
pub fn name_problem(name: &str) -> String {
    let shown: String = name.chars().take(40).collect();
    let more = if name.chars().count() > 40 { "..." } else { "" };
    format!("{shown:?}{more} is not a valid id: {NAME_RULE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_refuses_separators_dots_and_length() {
        for ok in ["a", "ch-1", "A_b-9", &"x".repeat(64)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "a.b",
            "a b",
            "é",
            "%2e%2e",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_name(bad), "{bad}");
            let e = check_name("name", bad).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert_eq!(e.field.as_deref(), Some("name"));
            assert!(e.error.len() < 120, "{}", e.error);
        }
    }
}
