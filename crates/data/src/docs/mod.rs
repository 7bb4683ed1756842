//! A documentation site as search passages: one passage per section (heading to heading,
//! long sections split with overlap), each with its page URL, `#anchor`, page and section
//! titles and language.
//!
//! Sources: an mdBook (`book.toml` or `SUMMARY.md`; chapters in the summary's order, URLs
//! as mdBook writes them), any other Markdown tree (Docusaurus / MkDocs `docs/`: front-matter
//! titles, directory URLs), or a built HTML site (main content, headings with ids). Bad
//! pages are skipped with a warning naming the file; only a site with nothing to index is an
//! error.

mod html;
mod markdown;
pub mod slug;
mod split;

pub use split::split_text;

use std::path::{Path, PathBuf};

pub use slug::{Anchors, SlugRule, slug};

use crate::error::{DataError, Result};

/// How code blocks enter a passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodePolicy {
    /// Prose only.
    Drop,
    /// Code blocks as text, mdBook `{{#include}}` listings resolved. The default: on the
    /// Rust book it put the right page in the top 5 for 43 of 44 questions in other
    /// languages against 41 for prose alone (docs/browser.md, "Code in passages").
    #[default]
    Keep,
}

impl std::str::FromStr for CodePolicy {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "drop" => Ok(Self::Drop),
            "keep" => Ok(Self::Keep),
            o => Err(format!("unknown code policy `{o}` (drop, keep)")),
        }
    }
}

#[derive(Debug, Clone)]
pub struct DocsOptions {
    /// Prefix of every page URL (`https://example.org/book/`, or `/book/`).
    pub base_url: String,
    pub code: CodePolicy,
    /// Characters a passage holds at most before its section is split.
    pub max_chars: usize,
    /// Characters of the previous piece repeated at the start of the next.
    pub overlap_chars: usize,
    /// Pages larger than this are skipped with a warning.
    pub max_page_bytes: u64,
    /// The anchor rule; `None`: mdBook's for mdBook sources, GitHub's for other Markdown.
    pub slugs: Option<SlugRule>,
}

impl Default for DocsOptions {
    fn default() -> Self {
        DocsOptions {
            base_url: String::new(),
            code: CodePolicy::Keep,
            max_chars: 1200,
            overlap_chars: 200,
            max_page_bytes: 8 << 20,
            slugs: None,
        }
    }
}

/// One search passage: a section, or a piece of a long one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Section {
    /// Page URL with the anchor (`…/ch04-01-what-is-ownership.html#the-stack-and-the-heap`).
    pub url: String,
    pub page_title: String,
    pub section_title: String,
    pub lang: String,
    /// What is embedded and shown: titles on the first line, then the section's text.
    pub text: String,
    /// The source file, relative to the site folder.
    pub file: String,
}

#[derive(Debug, Clone, Default)]
pub struct Site {
    pub kind: SiteKind,
    pub sections: Vec<Section>,
    pub pages: usize,
    /// Every heading's link (`page#anchor`, below the page title), empty sections included.
    pub headings: Vec<String>,
    /// Files skipped or read with a caveat, each naming the file.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SiteKind {
    #[default]
    MdBook,
    Markdown,
    Html,
}

impl SiteKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::MdBook => "mdBook source",
            Self::Markdown => "Markdown tree",
            Self::Html => "built HTML site",
        }
    }
}

/// A page as its parser returns it: titles, a language if the page says one, and sections
/// in order (the first may have no heading: the text before it).
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub title: Option<String>,
    pub lang: Option<String>,
    pub sections: Vec<RawSection>,
    pub warnings: Vec<String>,
    /// The page asks not to be indexed (`<meta name="robots" content="noindex">`: mdBook's
    /// print.html, which repeats every chapter).
    pub noindex: bool,
}

#[derive(Debug, Default)]
pub(crate) struct RawSection {
    pub title: String,
    /// `None` before the page's first heading.
    pub anchor: Option<String>,
    pub level: u8,
    pub text: String,
}

/// Read the site under `dir` (an mdBook root or its `src/`, a Markdown tree, or built HTML).
pub fn read_site(dir: &Path, opts: &DocsOptions) -> Result<Site> {
    if !dir.is_dir() {
        return Err(DataError::Corpus {
            path: dir.to_path_buf(),
            message: "not a folder (hbt export --docs takes a docs site's folder)".into(),
        });
    }
    let mut site = Site::default();
    // mdBook titles a chapter by its summary entry.
    let mut summary_titles = std::collections::HashMap::<String, String>::new();
    let pages: Vec<(PathBuf, String)> = if let Some(src) = mdbook_src(dir) {
        site.kind = SiteKind::MdBook;
        let chapters = markdown::summary_pages(&src, &mut site.warnings)?;
        summary_titles = chapters.iter().cloned().collect();
        chapters.into_iter().map(|(rel, _)| (src.join(&rel), rel)).collect()
    } else {
        let (md, html) = walk(dir, &mut site.warnings);
        if !md.is_empty() && md.len() >= html.len() {
            site.kind = SiteKind::Markdown;
            md.into_iter().map(|rel| (dir.join(&rel), rel)).collect()
        } else {
            site.kind = SiteKind::Html;
            html.into_iter().map(|rel| (dir.join(&rel), rel)).collect()
        }
    };
    let rule = opts.slugs.unwrap_or(match site.kind {
        SiteKind::Markdown => SlugRule::GitHub,
        _ => SlugRule::MdBook,
    });
    let root = dir.to_path_buf();
    let mut seen = std::collections::HashSet::new();
    for (path, rel) in pages {
        let Some(bytes) = read_page(&path, &rel, opts, &mut site.warnings) else {
            continue;
        };
        let mut page = match site.kind {
            SiteKind::Html => html::parse(&bytes, opts.code),
            _ => markdown::parse(&bytes, &path, &root, opts.code, rule),
        };
        if page.noindex || rel == "404.html" {
            continue;
        }
        if page.title.is_none() {
            page.title = summary_titles.get(&rel).cloned();
        }
        site.warnings
            .extend(page.warnings.iter().map(|w| format!("{rel}: {w}")));
        // A page with the text of an earlier one (mdBook's index.html, a copy of its first
        // chapter) would give every search two equal results.
        let key: String = page
            .sections
            .iter()
            .map(|s| format!("{}\n{}\n", s.title, s.text))
            .collect();
        if !seen.insert(key) {
            site.warnings
                .push(format!("{rel}: the same text as an earlier page (skipped)"));
            continue;
        }
        let url = page_url(&opts.base_url, &rel, site.kind);
        if add_page(&mut site, page, &rel, &url, opts) {
            site.pages += 1;
        }
    }
    if site.sections.is_empty() {
        return Err(DataError::Corpus {
            path: dir.to_path_buf(),
            message: format!(
                "no text to index in this {} ({} warning(s){})",
                site.kind.label(),
                site.warnings.len(),
                site.warnings
                    .first()
                    .map(|w| format!("; first: {w}"))
                    .unwrap_or_default()
            ),
        });
    }
    Ok(site)
}

/// The `src/` folder of an mdBook: `dir` itself when it holds `SUMMARY.md`, or the `src`
/// that `dir/book.toml` names (`src` by default).
fn mdbook_src(dir: &Path) -> Option<PathBuf> {
    if dir.join("SUMMARY.md").is_file() {
        return Some(dir.to_path_buf());
    }
    let toml = std::fs::read_to_string(dir.join("book.toml")).ok()?;
    // `[book] src = "…"`: one key, read without a TOML parser.
    let src = toml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("src"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .next()
        .unwrap_or_else(|| "src".into());
    let src = dir.join(src);
    src.join("SUMMARY.md").is_file().then_some(src)
}

/// Markdown and HTML files under `dir`, relative and sorted; unreadable entries and
/// symlink loops become warnings.
fn walk(dir: &Path, warnings: &mut Vec<String>) -> (Vec<String>, Vec<String>) {
    let (mut md, mut html) = (Vec::new(), Vec::new());
    for entry in walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let at = e.path().map(|p| p.display().to_string()).unwrap_or_default();
                let why = if e.loop_ancestor().is_some() {
                    "a symlink loop (skipped)".to_string()
                } else {
                    format!("{e} (skipped)")
                };
                warnings.push(format!("{at}: {why}"));
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .replace('\\', "/");
        // Hidden folders (.git, .docusaurus) and node_modules are not the site.
        if rel.split('/').any(|c| c.starts_with('.') || c == "node_modules") {
            continue;
        }
        match Path::new(&rel).extension().and_then(|e| e.to_str()) {
            Some("md" | "markdown" | "mdx") => md.push(rel),
            Some("html" | "htm") => html.push(rel),
            _ => {}
        }
    }
    // A folder's index.html is often a copy of another page (mdBook's repeats the first
    // chapter): read last, it is the one a duplicate check drops, and links keep the name
    // the site's own navigation uses.
    html.sort_by_key(|r| r == "index.html" || r.ends_with("/index.html"));
    (md, html)
}

fn read_page(path: &Path, rel: &str, opts: &DocsOptions, warnings: &mut Vec<String>) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > opts.max_page_bytes => {
            warnings.push(format!(
                "{rel}: {:.1} MB, over the {:.0} MB a page may have (skipped)",
                m.len() as f64 / 1e6,
                opts.max_page_bytes as f64 / 1e6
            ));
            return None;
        }
        Ok(_) => {}
        Err(e) => {
            warnings.push(format!("{rel}: {e} (skipped)"));
            return None;
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            warnings.push(format!("{rel}: {e} (skipped)"));
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(s) => Some(s),
        Err(e) => {
            warnings.push(format!(
                "{rel}: not UTF-8 (invalid byte at offset {}; skipped)",
                e.utf8_error().valid_up_to()
            ));
            None
        }
    }
}

/// Where a page is served: mdBook writes `a/b.md` as `a/b.html` (a `README.md` as
/// `index.html`); Markdown generators (MkDocs, Docusaurus) as the folder `a/b/`; HTML as is.
pub fn page_url(base: &str, rel: &str, kind: SiteKind) -> String {
    let mut base = base.to_string();
    if !base.is_empty() && !base.ends_with('/') {
        base.push('/');
    }
    let (dir, file) = match rel.rsplit_once('/') {
        Some((d, f)) => (format!("{d}/"), f),
        None => (String::new(), rel),
    };
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    let index = stem.eq_ignore_ascii_case("readme") || stem == "index";
    let path = match kind {
        SiteKind::Html => rel.to_string(),
        SiteKind::MdBook if index => format!("{dir}index.html"),
        SiteKind::MdBook => format!("{dir}{stem}.html"),
        SiteKind::Markdown if index => dir,
        SiteKind::Markdown => format!("{dir}{stem}/"),
    };
    format!("{base}{path}")
}

/// The language a path says (`de/guide.md`, `docs/zh-cn/…`): its first folder that is an
/// ISO 639-1 code, alone or with a region.
fn path_lang(rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = rel.split('/').collect();
    parts.pop();
    parts.into_iter().find_map(|p| {
        let region_ok = p.len() == 2 || (p.len() <= 7 && p.as_bytes().get(2).is_some_and(|&b| b == b'-' || b == b'_'));
        if region_ok { crate::iso::primary_code(p) } else { None }
    })
}

/// Add a parsed page's sections; false when it had no text.
fn add_page(site: &mut Site, page: Page, rel: &str, url: &str, opts: &DocsOptions) -> bool {
    // The front matter's or summary's title, else the page's top heading.
    let top = page.sections.iter().filter(|s| s.level > 0).map(|s| s.level).min();
    let page_title = page
        .title
        .clone()
        .or_else(|| {
            page.sections
                .iter()
                .find(|s| Some(s.level) == top)
                .map(|s| s.title.clone())
        })
        .unwrap_or_else(|| {
            let file = rel.rsplit('/').next().unwrap_or(rel);
            file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file).to_string()
        });
    let all_text: String = page
        .sections
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if all_text.trim().is_empty() && page.sections.iter().all(|s| s.title.trim().is_empty()) {
        site.warnings.push(format!("{rel}: no text (skipped)"));
        return false;
    }
    let lang = page
        .lang
        .clone()
        .or_else(|| path_lang(rel))
        .or_else(|| {
            let sample: String = all_text.chars().take(4000).collect();
            crate::iso::detect(&sample).map(str::to_string)
        })
        .unwrap_or_else(|| "und".into());
    let before = site.sections.len();
    for s in &page.sections {
        if let (Some(a), true) = (&s.anchor, s.level > 1) {
            site.headings.push(format!("{url}#{a}"));
        }
    }
    let only = page.sections.len() == 1;
    for s in page.sections {
        let body = s.text.trim();
        // A heading directly followed by a subheading has no text of its own, and its title
        // heads each subsection's passage: it stays only when it is all the page has.
        if body.is_empty() && !only {
            continue;
        }
        let section_title = if s.title.is_empty() {
            page_title.clone()
        } else {
            s.title.clone()
        };
        let head = if section_title == page_title {
            page_title.clone()
        } else {
            format!("{page_title} › {section_title}")
        };
        let link = match &s.anchor {
            Some(a) if s.level > 1 => format!("{url}#{a}"),
            _ => url.to_string(),
        };
        for piece in split_text(body, opts.max_chars, opts.overlap_chars) {
            site.sections.push(Section {
                url: link.clone(),
                page_title: page_title.clone(),
                section_title: section_title.clone(),
                lang: lang.clone(),
                text: if piece.is_empty() {
                    head.clone()
                } else {
                    format!("{head}\n{piece}")
                },
                file: rel.to_string(),
            });
        }
    }
    site.sections.len() > before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_generators_write_them() {
        assert_eq!(
            page_url("https://x.org/book", "ch01-00.md", SiteKind::MdBook),
            "https://x.org/book/ch01-00.html"
        );
        assert_eq!(page_url("/b/", "README.md", SiteKind::MdBook), "/b/index.html");
        assert_eq!(
            page_url("/b/", "guide/README.md", SiteKind::MdBook),
            "/b/guide/index.html"
        );
        assert_eq!(
            page_url("/d/", "guide/install.md", SiteKind::Markdown),
            "/d/guide/install/"
        );
        assert_eq!(page_url("/d/", "index.md", SiteKind::Markdown), "/d/");
        assert_eq!(page_url("", "a/b.html", SiteKind::Html), "a/b.html");
    }

    #[test]
    fn languages_from_paths() {
        assert_eq!(path_lang("de/guide.md").as_deref(), Some("de"));
        assert_eq!(path_lang("docs/zh-cn/intro.md").as_deref(), Some("zh"));
        assert_eq!(path_lang("guide/de.md"), None);
        assert_eq!(path_lang("src/intro.md"), None);
    }
}
