//! Markdown pages (CommonMark with tables and heading ids, as mdBook parses them) into
//! sections, and an mdBook's `SUMMARY.md` into its chapter files.

use std::path::Path;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::slug::{Anchors, SlugRule, slug};
use super::{CodePolicy, Page, RawSection};
use crate::error::{DataError, Result};

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// The chapter files `SUMMARY.md` links to, in its order, relative to `src`. Draft chapters
/// (no link) are not pages; a link to a missing file is a warning, as is a repeat.
pub(crate) fn summary_pages(src: &Path, warnings: &mut Vec<String>) -> Result<Vec<(String, String)>> {
    let path = src.join("SUMMARY.md");
    let text = std::fs::read(&path).map_err(|e| DataError::io(&path, e))?;
    let text = String::from_utf8(text).map_err(|e| DataError::Corpus {
        path: path.clone(),
        message: format!("not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to()),
    })?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut link: Option<(String, String)> = None;
    for ev in Parser::new_ext(&text, options()) {
        match ev {
            Event::Start(Tag::Link { dest_url, .. }) => {
                link = Some((dest_url.to_string(), String::new()));
                continue;
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, title)) = link.as_mut() {
                    title.push_str(&t);
                }
                continue;
            }
            Event::End(TagEnd::Link) => {}
            _ => continue,
        }
        let Some((dest_url, title)) = link.take() else { continue };
        let dest = dest_url.split('#').next().unwrap_or("").trim();
        if dest.is_empty() || dest.contains("://") {
            continue;
        }
        let rel = dest.trim_start_matches("./").replace("%20", " ");
        if !src.join(&rel).is_file() {
            warnings.push(format!("SUMMARY.md names {rel}, which does not exist (skipped)"));
            continue;
        }
        if out.iter().any(|(r, _)| *r == rel) {
            warnings.push(format!("SUMMARY.md names {rel} twice (indexed once)"));
            continue;
        }
        out.push((rel, title.trim().to_string()));
    }
    if out.is_empty() {
        return Err(DataError::Corpus {
            path,
            message: "names no chapter file that exists".into(),
        });
    }
    Ok(out)
}

/// Front matter (`---` YAML or `+++` TOML): its `title` and `lang`, and the rest of the text.
fn front_matter(text: &str) -> (Option<String>, Option<String>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for fence in ["---", "+++"] {
        let Some(rest) = text
            .strip_prefix(fence)
            .and_then(|r| r.strip_prefix('\n').or_else(|| r.strip_prefix("\r\n")))
        else {
            continue;
        };
        let Some(end) = rest.find(&format!("\n{fence}")) else {
            continue;
        };
        let (head, body) = (&rest[..end], &rest[end + 1 + fence.len()..]);
        let mut title = None;
        let mut lang = None;
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':').or_else(|| line.split_once('=')) else {
                continue;
            };
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'').trim().to_string();
            match k.trim() {
                "title" if !v.is_empty() => title = Some(v),
                "lang" | "language" | "locale" if !v.is_empty() => {
                    if let Some(code) = crate::iso::primary_code(&v) {
                        lang = Some(code);
                    }
                }
                _ => {}
            }
        }
        return (title, lang, body);
    }
    (None, None, text)
}

/// mdBook's `{{#include file}}`, `{{#rustdoc_include file:anchor}}` and friends: the file's
/// text (an anchor's lines, `ANCHOR` markers removed) where code is kept, nothing otherwise.
/// Paths resolve from the page's folder and must stay inside `root`.
fn resolve_includes(text: &str, page: &Path, root: &Path, code: CodePolicy, warnings: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("{{#") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let directive = after[..end].trim();
        rest = &after[end + 2..];
        let Some((cmd, arg)) = directive.split_once(char::is_whitespace) else {
            continue;
        };
        if code == CodePolicy::Drop || !matches!(cmd, "include" | "rustdoc_include" | "playground") {
            continue;
        }
        let arg = arg.split_whitespace().next().unwrap_or("");
        let (file, anchor) = match arg.split_once(':') {
            Some((f, a)) => (f, Some(a)),
            None => (arg, None),
        };
        let base = page.parent().unwrap_or(Path::new("."));
        let path = base.join(file);
        let inside = match (path.canonicalize(), root.canonicalize()) {
            (Ok(p), Ok(r)) => p.starts_with(r.parent().unwrap_or(&r)),
            _ => false,
        };
        match std::fs::read_to_string(&path) {
            Ok(t) if inside => out.push_str(&anchor_lines(&t, anchor)),
            Ok(_) => warnings.push(format!("{{{{#{cmd} {file}}}}} is outside the site (left out)")),
            Err(e) => warnings.push(format!("{{{{#{cmd} {file}}}}}: {e} (left out)")),
        }
    }
    out.push_str(rest);
    out
}

fn anchor_lines(text: &str, anchor: Option<&str>) -> String {
    let is_marker = |l: &str| l.contains("ANCHOR:") || l.contains("ANCHOR_END:");
    let lines: Vec<&str> = match anchor {
        // A line range (`:3:10`) or a named anchor; a number alone is one line.
        Some(a) if a.split(':').all(|p| p.chars().all(|c| c.is_ascii_digit())) => {
            let all: Vec<&str> = text.lines().collect();
            let mut it = a.split(':').map(|p| p.parse::<usize>().ok());
            let from = it.next().flatten().unwrap_or(1).max(1) - 1;
            let to = it.next().flatten().unwrap_or(all.len()).min(all.len());
            all.get(from..to.max(from)).unwrap_or(&[]).to_vec()
        }
        Some(a) => {
            let mut on = false;
            let mut v = Vec::new();
            for l in text.lines() {
                if l.contains(&format!("ANCHOR: {a}")) {
                    on = true;
                } else if l.contains(&format!("ANCHOR_END: {a}")) {
                    on = false;
                } else if on && !is_marker(l) {
                    v.push(l);
                }
            }
            v
        }
        None => text.lines().filter(|l| !is_marker(l)).collect(),
    };
    lines.join("\n")
}

fn level_number(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// A Markdown page's sections. `root`: the folder includes must stay under (its parent,
/// for mdBook's `../listings`).
pub(crate) fn parse(text: &str, path: &Path, root: &Path, code: CodePolicy, rule: SlugRule) -> Page {
    let mut page = Page::default();
    let (title, lang, body) = front_matter(text);
    page.title = title;
    page.lang = lang;
    let body = resolve_includes(body, path, root, code, &mut page.warnings);
    let mut anchors = Anchors::default();
    let mut cur = RawSection::default();
    // Inside a heading: its text so far, its explicit id and level.
    let mut heading: Option<(String, Option<String>, u8)> = None;
    let mut skip_depth = 0usize;
    for ev in Parser::new_ext(&body, options()) {
        match ev {
            Event::Start(Tag::Heading { level, id, .. }) => {
                heading = Some((String::new(), id.map(|s| s.to_string()), level_number(level)));
            }
            Event::End(TagEnd::Heading(_)) => {
                let Some((t, id, level)) = heading.take() else { continue };
                let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
                let anchor = match id {
                    Some(id) => {
                        if !anchors.claim(&id) {
                            page.warnings.push(format!(
                                "the id `{id}` is used twice on this page (links go to the first)"
                            ));
                        }
                        id
                    }
                    None => anchors.unique(slug(&t, rule)),
                };
                let done = std::mem::replace(
                    &mut cur,
                    RawSection {
                        title: t,
                        anchor: Some(anchor),
                        level,
                        text: String::new(),
                    },
                );
                if !done.text.trim().is_empty() || done.anchor.is_some() {
                    page.sections.push(done);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                if code == CodePolicy::Drop {
                    skip_depth += 1;
                } else {
                    cur.text.push('\n');
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if code == CodePolicy::Drop {
                    skip_depth = skip_depth.saturating_sub(1);
                } else {
                    cur.text.push_str("\n\n");
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((h, _, _)) = heading.as_mut() {
                    h.push_str(&t);
                } else if skip_depth == 0 {
                    cur.text.push_str(&t);
                }
            }
            Event::SoftBreak => {
                if let Some((h, _, _)) = heading.as_mut() {
                    h.push(' ');
                } else if skip_depth == 0 {
                    cur.text.push(' ');
                }
            }
            Event::HardBreak => cur.text.push('\n'),
            Event::End(TagEnd::Paragraph | TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Table) => {
                cur.text.push_str("\n\n")
            }
            Event::End(TagEnd::Item | TagEnd::TableRow | TagEnd::TableHead) => cur.text.push('\n'),
            Event::End(TagEnd::TableCell) => cur.text.push_str(" | "),
            // Raw HTML (mdBook's `<span class="filename">`, comments) is markup, not text.
            _ => {}
        }
    }
    if !cur.text.trim().is_empty() || cur.anchor.is_some() {
        page.sections.push(cur);
    }
    for s in &mut page.sections {
        s.text = tidy(&s.text);
    }
    page
}

/// Runs of blank lines to one, trailing spaces off.
pub(crate) fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let l = line.trim_end();
        if l.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(md: &str, code: CodePolicy) -> Page {
        parse(
            md,
            Path::new("/nonexistent/page.md"),
            Path::new("/nonexistent"),
            code,
            SlugRule::MdBook,
        )
    }

    #[test]
    fn headings_split_sections_with_anchors() {
        let p = sections(
            "---\ntitle: \"Guide\"\nlang: de-DE\n---\nIntro text.\n\n# Getting `Started`\n\nFirst.\n\n## Install\n\nRun it.\n\n```rust\nfn main() {}\n```\n\n## Install\n\nAgain.\n\n### Custom {#mine}\n\nx\n",
            CodePolicy::Drop,
        );
        assert_eq!(p.title.as_deref(), Some("Guide"));
        assert_eq!(p.lang.as_deref(), Some("de"));
        let got: Vec<(Option<&str>, &str, &str)> = p
            .sections
            .iter()
            .map(|s| (s.anchor.as_deref(), s.title.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (None, "", "Intro text."),
                (Some("getting-started"), "Getting Started", "First."),
                (Some("install"), "Install", "Run it."),
                (Some("install-1"), "Install", "Again."),
                (Some("mine"), "Custom", "x"),
            ]
        );
        let kept = sections("# A\n\ntext\n\n```\nlet x = 1;\n```\n", CodePolicy::Keep);
        assert!(kept.sections[0].text.contains("let x = 1;"), "{:?}", kept.sections);
    }

    #[test]
    fn anchors_of_includes() {
        let src = "a\n// ANCHOR: here\nb\n// ANCHOR_END: here\nc\n";
        assert_eq!(anchor_lines(src, Some("here")), "b");
        assert_eq!(anchor_lines(src, None), "a\nb\nc");
        assert_eq!(anchor_lines("1\n2\n3\n4", Some("2:3")), "2\n3");
    }
}
