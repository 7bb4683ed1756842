//! Heading anchors as the site generators write them, so a result links to `page#anchor`
//! and the browser scrolls to the section.

use std::collections::HashMap;

/// Whose rule turns a heading into its `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlugRule {
    /// mdBook (`utils::normalize_id`): ASCII letters lowercased, other letters and digits,
    /// `_` and `-` kept, whitespace to `-`, everything else dropped.
    #[default]
    MdBook,
    /// GitHub's Markdown and Docusaurus (github-slugger): every letter lowercased, spaces to
    /// `-`, punctuation and symbols dropped.
    GitHub,
}

impl std::str::FromStr for SlugRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mdbook" => Ok(Self::MdBook),
            "github" => Ok(Self::GitHub),
            o => Err(format!("unknown slug rule `{o}` (mdbook, github)")),
        }
    }
}

/// The anchor of a heading whose plain text is `text`.
pub fn slug(text: &str, rule: SlugRule) -> String {
    match rule {
        SlugRule::MdBook => text
            .trim()
            .chars()
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c.to_ascii_lowercase())
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect(),
        SlugRule::GitHub => {
            let mut out = String::new();
            for c in text.trim().chars() {
                if c == ' ' {
                    out.push('-');
                } else if c.is_alphanumeric() || c == '_' || c == '-' || is_mark(c) {
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
    }
}

/// Combining marks, which github-slugger keeps (Devanagari vowel signs, Thai tone marks):
/// dropping them would change the word.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0900..=0x097F | 0x0E31..=0x0E4E | 0x1AB0..=0x1AFF | 0x20D0..=0x20FF)
        && !c.is_alphanumeric()
}

/// Anchors of one page: a repeated slug gets `-1`, `-2`, … as mdBook and GitHub number them.
#[derive(Debug, Default)]
pub struct Anchors {
    seen: HashMap<String, usize>,
}

impl Anchors {
    /// A unique anchor for a heading with this slug.
    pub fn unique(&mut self, base: String) -> String {
        match self.seen.get_mut(&base) {
            None => {
                self.seen.insert(base.clone(), 0);
                base
            }
            Some(n) => {
                *n += 1;
                let id = format!("{base}-{n}");
                self.seen.insert(id.clone(), 0);
                id
            }
        }
    }

    /// Whether an explicit id (`{#id}`, `id="…"`) was already used on this page.
    pub fn claim(&mut self, id: &str) -> bool {
        self.seen.insert(id.to_string(), 0).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdbook_rule() {
        assert_eq!(slug("Hello, World!", SlugRule::MdBook), "hello-world");
        assert_eq!(
            slug("Storing Keys with Associated Values in Hash Maps", SlugRule::MdBook),
            "storing-keys-with-associated-values-in-hash-maps"
        );
        assert_eq!(
            slug(
                "The `Option` Enum and Its Advantages Over Null Values",
                SlugRule::MdBook
            ),
            "the-option-enum-and-its-advantages-over-null-values"
        );
        assert_eq!(
            slug("Using `Box<T>` to Point to Data", SlugRule::MdBook),
            "using-boxt-to-point-to-data"
        );
        // Only ASCII letters are lowercased by mdBook.
        assert_eq!(slug("Über Ära", SlugRule::MdBook), "Über-Ära");
        assert_eq!(slug("所有権とは？", SlugRule::MdBook), "所有権とは");
    }

    #[test]
    fn github_rule() {
        assert_eq!(slug("Über Ära", SlugRule::GitHub), "über-ära");
        assert_eq!(slug("A  B", SlugRule::GitHub), "a--b");
        assert_eq!(slug("C++ & Rust", SlugRule::GitHub), "c--rust");
    }

    #[test]
    fn repeats_are_numbered() {
        let mut a = Anchors::default();
        assert_eq!(a.unique("example".into()), "example");
        assert_eq!(a.unique("example".into()), "example-1");
        assert_eq!(a.unique("example".into()), "example-2");
        assert_eq!(a.unique("other".into()), "other");
    }
}
