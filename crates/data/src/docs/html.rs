//! A built HTML page (mdBook, Docusaurus, MkDocs, Sphinx output) into sections: the main
//! content only, cut at headings, each heading's `id` as its anchor.

use scraper::{ElementRef, Html, Node, Selector};

use super::markdown::tidy;
use super::slug::Anchors;
use super::{CodePolicy, Page, RawSection};

/// Elements whose text is never content: chrome, scripts, and the headings' own link icons.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "button", "svg", "form", "iframe",
    "select", "textarea",
];

/// Block elements: their text ends a line.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "table",
    "tr",
    "blockquote",
    "section",
    "article",
    "figure",
    "figcaption",
    "details",
    "summary",
    "br",
    "hr",
];

pub(crate) fn parse(text: &str, code: CodePolicy) -> Page {
    let doc = Html::parse_document(text);
    let mut page = Page::default();
    let sel = |s: &str| Selector::parse(s).expect("a valid selector");
    page.lang = doc
        .select(&sel("html[lang]"))
        .next()
        .and_then(|h| h.value().attr("lang"))
        .and_then(crate::iso::primary_code);
    page.noindex = doc
        .select(&sel("meta[name=robots]"))
        .any(|m| m.value().attr("content").is_some_and(|c| c.contains("noindex")));
    let main = ["main", "[role=main]", "article", "#content", ".content", "body"]
        .iter()
        .find_map(|s| doc.select(&sel(s)).next());
    // mdBook and many themes append " - Site Name" to each page's <title>: the main
    // content's top heading names the page better, so the <title> is only the fallback.
    let top = main.and_then(|m| {
        ["h1", "h2", "h3"]
            .iter()
            .find_map(|h| m.select(&sel(h)).next())
            .map(|h| clean(&text_of(h)))
    });
    page.title = top.filter(|t| !t.is_empty()).or_else(|| {
        doc.select(&sel("title"))
            .next()
            .map(|t| clean(&text_of(t)))
            .filter(|t| !t.is_empty())
    });
    let Some(main) = main else {
        page.warnings.push("no <body> (skipped)".into());
        return page;
    };
    let mut w = Walker {
        code,
        anchors: Anchors::default(),
        cur: RawSection::default(),
        out: Vec::new(),
        warnings: Vec::new(),
    };
    w.walk(main);
    let Walker {
        cur, mut out, warnings, ..
    } = w;
    out.push(cur);
    out.retain(|s| !s.text.trim().is_empty() || s.anchor.is_some());
    for s in &mut out {
        s.text = tidy(&s.text);
    }
    page.sections = out;
    page.warnings.extend(warnings);
    page
}

struct Walker {
    code: CodePolicy,
    anchors: Anchors,
    cur: RawSection,
    out: Vec<RawSection>,
    warnings: Vec<String>,
}

impl Walker {
    fn walk(&mut self, el: ElementRef) {
        for child in el.children() {
            match child.value() {
                Node::Text(t) => self.cur.text.push_str(t),
                Node::Element(_) => {
                    let Some(e) = ElementRef::wrap(child) else { continue };
                    let name = e.value().name();
                    if SKIP.contains(&name) || (name == "pre" && self.code == CodePolicy::Drop) {
                        continue;
                    }
                    if let Some(level) = heading_level(name) {
                        self.heading(e, level);
                        continue;
                    }
                    self.walk(e);
                    if name == "pre" {
                        self.cur.text.push_str("\n\n");
                    } else if BLOCK.contains(&name) {
                        self.cur.text.push('\n');
                    } else if name == "td" || name == "th" {
                        self.cur.text.push_str(" | ");
                    }
                }
                _ => {}
            }
        }
    }

    fn heading(&mut self, e: ElementRef, level: u8) {
        let title = clean(&text_of(e));
        // The id on the heading, or on an anchor inside it (`<h2><a id=…>`), as themes put it.
        let id = e.value().attr("id").map(str::to_string).or_else(|| {
            e.descendants().filter_map(ElementRef::wrap).find_map(|a| {
                a.value()
                    .attr("id")
                    .or_else(|| a.value().attr("name"))
                    .map(str::to_string)
            })
        });
        let anchor = match id {
            Some(id) => {
                if !self.anchors.claim(&id) {
                    self.warnings.push(format!(
                        "the id `{id}` is used twice on this page (links go to the first)"
                    ));
                }
                Some(id)
            }
            None if level == 1 => None,
            None => {
                self.warnings
                    .push(format!("heading \"{title}\" has no id: its results link to the page"));
                None
            }
        };
        let done = std::mem::replace(
            &mut self.cur,
            RawSection {
                title,
                anchor,
                level,
                text: String::new(),
            },
        );
        self.out.push(done);
    }
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

fn text_of(e: ElementRef) -> String {
    e.text().collect::<Vec<_>>().join("")
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_content_cut_at_headings() {
        let html = r##"<!DOCTYPE html><html lang="fr"><head><title>Guide - Site</title><script>var x=1;</script></head>
<body><nav>Menu Home</nav><main><h1 id="guide"><a class="header" href="#guide">Guide</a></h1>
<p>Intro <code>text</code>.</p><pre><code>let x = 1;</code></pre>
<h2 id="install"><a href="#install">Install</a></h2><ul><li>one</li><li>two</li></ul>
<h2>No id</h2><p>t</p></main><footer>© 2026</footer></body></html>"##;
        let p = parse(html, CodePolicy::Drop);
        assert_eq!(p.lang.as_deref(), Some("fr"));
        assert_eq!(p.title.as_deref(), Some("Guide"));
        let got: Vec<(Option<&str>, &str, &str)> = p
            .sections
            .iter()
            .map(|s| (s.anchor.as_deref(), s.title.as_str(), s.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("guide"), "Guide", "Intro text."),
                (Some("install"), "Install", "one\ntwo"),
                (None, "No id", "t"),
            ]
        );
        assert_eq!(p.warnings.len(), 1);
        let kept = parse(html, CodePolicy::Keep);
        assert!(kept.sections[0].text.contains("let x = 1;"));
    }
}
