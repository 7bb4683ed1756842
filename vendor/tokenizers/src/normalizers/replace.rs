use crate::tokenizer::pattern::Pattern;
use crate::tokenizer::Decoder;
use crate::tokenizer::{NormalizedString, Normalizer, Result};
use crate::utils::SysRegex;
use serde::{Deserialize, Serialize};

/// Represents the different patterns that `Replace` can use
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Eq)]
pub enum ReplacePattern {
    String(String),
    Regex(String),
}

impl From<String> for ReplacePattern {
    fn from(v: String) -> Self {
        Self::String(v)
    }
}

impl From<&str> for ReplacePattern {
    fn from(v: &str) -> Self {
        Self::String(v.to_owned())
    }
}

/// We use this custom deserializer to provide the value for `regex` for `Replace`
#[doc(hidden)]
#[derive(Deserialize)]
#[serde(tag = "type")]
struct ReplaceDeserializer {
    pattern: ReplacePattern,
    content: String,
}

impl std::convert::TryFrom<ReplaceDeserializer> for Replace {
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn try_from(v: ReplaceDeserializer) -> Result<Self> {
        Self::new(v.pattern, v.content)
    }
}

/// This normalizer will take a `pattern` (for now only a String)
/// and replace every occurrence with `content`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", try_from = "ReplaceDeserializer")]
pub struct Replace {
    pattern: ReplacePattern,
    pub content: String,
    #[serde(skip)]
    regex: Matcher,
}

/// hbt's patch: how a `Replace` finds its pattern. A regex that is one literal character
/// repeated at least `min` times — the `Replace(Regex(" {2,}"), " ")` Hugging Face's converter
/// gives every SentencePiece tokenizer (XLM-R, e5, bge-m3) — is matched by a scan for runs of
/// that character, with the regex's matches (each maximal run of `min` or more): compiling
/// the regex engine for it was ~20 ms of a browser's cold start, in code not yet optimised.
#[derive(Debug)]
enum Matcher {
    Regex(SysRegex),
    Run(CharRun),
}

impl Matcher {
    fn find_matches(&self, inside: &str) -> Result<Vec<(crate::Offsets, bool)>> {
        match self {
            Matcher::Regex(r) => r.find_matches(inside),
            Matcher::Run(r) => r.find_matches(inside),
        }
    }
}

impl Pattern for &Matcher {
    fn find_matches(&self, inside: &str) -> Result<Vec<(crate::Offsets, bool)>> {
        Matcher::find_matches(self, inside)
    }
}

/// Runs of `min` or more of one character (hbt's patch, see [`Matcher`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharRun {
    pub ch: char,
    pub min: usize,
}

impl CharRun {
    /// The run a regex stands for when it is exactly `C{m,}` for a literal `C` and `m ≥ 1`.
    pub fn parse(regex: &str) -> Option<CharRun> {
        let mut chars = regex.chars();
        let ch = chars.next()?;
        if "\\.+*?()|[]{}^$#&-~".contains(ch) || (ch.is_whitespace() && ch != ' ') {
            return None;
        }
        let rest = chars.as_str().strip_prefix('{')?.strip_suffix(",}")?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let min: usize = rest.parse().ok()?;
        (min >= 1).then_some(CharRun { ch, min })
    }

    /// The splits `&Regex`'s `find_matches` gives for the same regex: leftmost, greedy.
    pub fn find_matches(&self, inside: &str) -> Result<Vec<(crate::Offsets, bool)>> {
        if inside.is_empty() {
            return Ok(vec![((0, 0), false)]);
        }
        let mut splits = Vec::new();
        let mut prev = 0;
        let mut chars = inside.char_indices().peekable();
        while let Some((start, c)) = chars.next() {
            if c != self.ch {
                continue;
            }
            let (mut end, mut count) = (start + c.len_utf8(), 1);
            while let Some(&(i, d)) = chars.peek() {
                if d != self.ch {
                    break;
                }
                end = i + d.len_utf8();
                count += 1;
                chars.next();
            }
            if count >= self.min {
                if prev != start {
                    splits.push(((prev, start), false));
                }
                splits.push(((start, end), true));
                prev = end;
            }
        }
        if prev != inside.len() {
            splits.push(((prev, inside.len()), false));
        }
        Ok(splits)
    }
}

impl Clone for Replace {
    fn clone(&self) -> Self {
        Self::new(self.pattern.clone(), &self.content).unwrap()
    }
}

impl PartialEq for Replace {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.content == other.content
    }
}

impl Replace {
    pub fn new<I: Into<ReplacePattern>, C: Into<String>>(pattern: I, content: C) -> Result<Self> {
        let pattern: ReplacePattern = pattern.into();
        let regex = match &pattern {
            ReplacePattern::String(s) => Matcher::Regex(SysRegex::new(&regex::escape(s))?),
            ReplacePattern::Regex(r) => match CharRun::parse(r) {
                Some(run) => Matcher::Run(run),
                None => Matcher::Regex(SysRegex::new(r)?),
            },
        };

        Ok(Self {
            pattern,
            content: content.into(),
            regex,
        })
    }
}

impl Normalizer for Replace {
    fn normalize(&self, normalized: &mut NormalizedString) -> Result<()> {
        normalized.replace(&self.regex, &self.content)
    }
}

impl Decoder for Replace {
    fn decode_chain(&self, tokens: Vec<String>) -> Result<Vec<String>> {
        tokens
            .into_iter()
            .map(|token| -> Result<String> {
                let mut new_token = "".to_string();

                for ((start, stop), is_match) in self.regex.find_matches(&token)? {
                    if is_match {
                        new_token.push_str(&self.content);
                    } else {
                        new_token.push_str(&token[start..stop]);
                    }
                }
                Ok(new_token)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_replace() {
        let original = "This is a ''test''";
        let normalized = "This is a \"test\"";

        let mut n = NormalizedString::from(original);
        Replace::new("''", "\"").unwrap().normalize(&mut n).unwrap();

        assert_eq!(&n.get(), &normalized);
    }

    #[test]
    fn test_replace_regex() {
        let original = "This     is   a         test";
        let normalized = "This is a test";

        let mut n = NormalizedString::from(original);
        Replace::new(ReplacePattern::Regex(r"\s+".into()), ' ')
            .unwrap()
            .normalize(&mut n)
            .unwrap();

        assert_eq!(&n.get(), &normalized);
    }

    #[test]
    fn serialization() {
        let replace = Replace::new("Hello", "Hey").unwrap();
        let replace_s = r#"{"type":"Replace","pattern":{"String":"Hello"},"content":"Hey"}"#;
        assert_eq!(serde_json::to_string(&replace).unwrap(), replace_s);
        assert_eq!(serde_json::from_str::<Replace>(replace_s).unwrap(), replace);

        let replace = Replace::new(ReplacePattern::Regex(r"\s+".into()), ' ').unwrap();
        let replace_s = r#"{"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "}"#;
        assert_eq!(serde_json::to_string(&replace).unwrap(), replace_s);
        assert_eq!(serde_json::from_str::<Replace>(replace_s).unwrap(), replace);
    }

    #[test]
    fn test_replace_decode() {
        let original = vec!["hello".to_string(), "_hello".to_string()];
        let replace = Replace::new("_", " ").unwrap();
        assert_eq!(
            replace.decode_chain(original).unwrap(),
            vec!["hello", " hello"]
        );
    }
}
