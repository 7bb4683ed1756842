//! The vendored `tokenizers`' `Replace` matches a regex that is one literal character repeated
//! (`" {2,}"`: every SentencePiece tokenizer Hugging Face converts) by scanning for runs
//! instead of compiling a regex engine (`vendor/README.md`, patch 10). Held here to the regex
//! crate itself: the same splits as `&regex::Regex`'s, and the same normalized text and
//! alignments through `NormalizedString::replace`, on strings built to hit every edge (runs at
//! either end, runs one short, multi-byte characters in and around runs).

use tokenizers::normalizers::replace::CharRun;
use tokenizers::tokenizer::pattern::Pattern;
use tokenizers::{NormalizedString, Normalizer};

/// Every string over `alphabet` up to `len` characters long.
fn strings(alphabet: &[char], len: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..len {
        let next: Vec<String> = last
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        out.extend(next.iter().cloned());
        last = next;
    }
    out
}

#[test]
fn runs_split_as_the_regex_does() {
    for (ch, min, alphabet) in [
        (' ', 2, vec![' ', 'a', 'é']),
        (' ', 1, vec![' ', 'b']),
        (' ', 3, vec![' ', '\u{3000}', 'x']),
        ('é', 2, vec!['é', 'e', ' ']),
        ('▁', 2, vec!['▁', '字']),
    ] {
        let pattern = format!("{ch}{{{min},}}");
        let run = CharRun::parse(&pattern).unwrap_or_else(|| panic!("{pattern:?} is a run"));
        assert_eq!(run, CharRun { ch, min });
        let re = regex::Regex::new(&pattern).unwrap();
        for s in strings(&alphabet, 6) {
            assert_eq!(
                run.find_matches(&s).unwrap(),
                (&re).find_matches(&s).unwrap(),
                "{pattern:?} in {s:?}"
            );
        }
    }
}

#[test]
fn only_plain_runs_take_the_scan() {
    for not_a_run in [
        " {2}", " {2,3}", " {0,}", "\\s{2,}", ". {2,}", ".{2,}", "a+", "  ", " {,2}", " {x,}", "\t{2,}",
    ] {
        assert_eq!(CharRun::parse(not_a_run), None, "{not_a_run:?}");
    }
    assert_eq!(CharRun::parse(" {12,}"), Some(CharRun { ch: ' ', min: 12 }));
}

#[test]
fn normalized_text_and_alignments_match_the_regex() {
    let replace: tokenizers::normalizers::Replace =
        serde_json::from_str(r#"{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}"#).unwrap();
    let re = regex::Regex::new(" {2,}").unwrap();
    for s in strings(&[' ', 'a', 'ß', '語'], 7) {
        let mut ours = NormalizedString::from(s.as_str());
        replace.normalize(&mut ours).unwrap();
        let mut reference = NormalizedString::from(s.as_str());
        reference.replace(&re, " ").unwrap();
        assert_eq!(ours.get(), reference.get(), "{s:?}");
        for i in 0..=ours.len() {
            assert_eq!(
                ours.convert_offsets(tokenizers::normalizer::Range::Normalized(0..i)),
                reference.convert_offsets(tokenizers::normalizer::Range::Normalized(0..i)),
                "{s:?} at {i}"
            );
        }
    }
}
