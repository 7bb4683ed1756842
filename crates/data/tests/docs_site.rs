//! Docs sites as passages: the Rust book's Markdown, its anchors against the HTML mdBook
//! itself writes (when `mdbook` is installed; CI sets HBT_REQUIRE_MDBOOK so it must be), and
//! the bad inputs a real site has.

use std::path::{Path, PathBuf};
use std::process::Command;

use hbt_data::docs::{DocsOptions, SiteKind, read_site};

fn rust_book() -> PathBuf {
    let shared = std::env::var_os("HBT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    shared.join("data/docs/rust-book")
}

fn opts() -> DocsOptions {
    DocsOptions {
        base_url: "/book/".into(),
        ..Default::default()
    }
}

#[test]
fn the_rust_book_in_summary_order_with_mdbook_urls() {
    let site = read_site(&rust_book(), &opts()).unwrap();
    assert_eq!(site.kind, SiteKind::MdBook);
    assert!(site.pages >= 100, "{} pages", site.pages);
    assert!(site.warnings.is_empty(), "{:?}", site.warnings);
    // SUMMARY.md's order: the title page, then the foreword.
    assert_eq!(site.sections[0].url, "/book/title-page.html");
    let mut first_pages: Vec<&str> = site
        .sections
        .iter()
        .map(|s| s.url.as_str())
        .filter(|u| !u.contains('#'))
        .collect();
    first_pages.dedup();
    first_pages.truncate(3);
    assert_eq!(
        first_pages,
        [
            "/book/title-page.html",
            "/book/foreword.html",
            "/book/ch00-00-introduction.html"
        ]
    );
    let s = site
        .sections
        .iter()
        .find(|s| s.url == "/book/ch08-03-hash-maps.html#creating-a-new-hash-map")
        .expect("the hash-map section");
    assert_eq!(s.page_title, "Storing Keys with Associated Values in Hash Maps");
    assert_eq!(s.section_title, "Creating a New Hash Map");
    assert!(
        s.text
            .starts_with("Storing Keys with Associated Values in Hash Maps › Creating a New Hash Map\n")
    );
    assert!(s.text.contains("HashMap"), "{}", s.text);
    // Code is kept by default: the section holds its listing (an {{#rustdoc_include}} of
    // ../listings, resolved), and no include is left unresolved anywhere.
    assert!(s.text.contains("use std::collections::HashMap;"), "{}", s.text);
    assert!(
        site.sections.iter().all(|s| !s.text.contains("{{#")),
        "an include left unresolved"
    );
    let en = site.sections.iter().filter(|s| s.lang == "en").count();
    assert!(
        en as f64 >= 0.97 * site.sections.len() as f64,
        "{en} of {} detected as English",
        site.sections.len()
    );
    assert!(site.sections.iter().all(|s| s.text.chars().count() <= 1200 + 200));
    // --code drop: prose only, no listing line and no include directive.
    let prose = read_site(
        &rust_book(),
        &DocsOptions {
            code: hbt_data::docs::CodePolicy::Drop,
            ..opts()
        },
    )
    .unwrap();
    assert!(
        prose
            .sections
            .iter()
            .all(|s| !s.text.contains("use std::collections::HashMap;") && !s.text.contains("{{#"))
    );
}

/// Build the book with mdBook into a temporary folder (its own book.toml: the Rust book's
/// names preprocessors that are not part of the data).
fn build_with_mdbook(out: &Path) -> bool {
    let required = std::env::var_os("HBT_REQUIRE_MDBOOK").is_some();
    if Command::new("mdbook").arg("--version").output().is_err() {
        assert!(!required, "HBT_REQUIRE_MDBOOK is set but `mdbook` is not on PATH");
        eprintln!("mdbook not installed: the anchors are not checked against its output");
        return false;
    }
    let book = rust_book();
    std::fs::write(
        out.join("book.toml"),
        "[book]\ntitle = \"The Rust Programming Language\"\n",
    )
    .unwrap();
    for d in ["src", "listings"] {
        std::os::unix::fs::symlink(book.join(d), out.join(d)).unwrap();
    }
    let st = Command::new("mdbook")
        .arg("build")
        .arg(out)
        .arg("-d")
        .arg(out.join("book"))
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    true
}

#[test]
fn anchors_are_the_ones_mdbook_writes() {
    let tmp = tempfile::tempdir().unwrap();
    if !build_with_mdbook(tmp.path()) {
        return;
    }
    let md = read_site(&rust_book(), &opts()).unwrap();
    let html = read_site(&tmp.path().join("book"), &opts()).unwrap();
    assert_eq!(html.kind, SiteKind::Html);
    // The same pages (print.html, toc.html and 404.html are not pages to find; mdBook's
    // index.html repeats the first chapter and is read once)…
    let pages = |s: &hbt_data::docs::Site| {
        let mut v: Vec<String> = s
            .sections
            .iter()
            .map(|x| x.url.split('#').next().unwrap().to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let (pm, ph) = (pages(&md), pages(&html));
    let only = |a: &[String], b: &[String]| a.iter().filter(|x| !b.contains(x)).cloned().collect::<Vec<_>>();
    assert_eq!(
        (only(&pm, &ph), only(&ph, &pm)),
        (vec![], vec![]),
        "pages only in the source, only in the built site"
    );
    // …and every heading's anchor, page by page in order, as mdBook wrote it.
    assert!(md.headings.len() > 500, "{} headings", md.headings.len());
    let by_page = |s: &hbt_data::docs::Site| {
        let mut m = std::collections::BTreeMap::<String, Vec<String>>::new();
        for h in &s.headings {
            m.entry(h.split('#').next().unwrap().to_string())
                .or_default()
                .push(h.clone());
        }
        m
    };
    let (hm, hh) = (by_page(&md), by_page(&html));
    for (page, anchors) in &hm {
        assert_eq!(
            Some(anchors),
            hh.get(page),
            "{page}: the Markdown reader's anchors differ from mdBook's"
        );
    }
    assert_eq!(hm.len(), hh.len());
    // The built site reads as the source does: the same sections, titled alike.
    let titles = |s: &hbt_data::docs::Site| {
        let mut v: Vec<(String, String)> = s
            .sections
            .iter()
            .map(|x| (x.url.clone(), x.section_title.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let (tm, th) = (titles(&md), titles(&html));
    let same = tm.iter().filter(|t| th.binary_search(t).is_ok()).count();
    assert!(
        same as f64 >= 0.95 * tm.len() as f64,
        "{same} of {} sections agree",
        tm.len()
    );
}

#[test]
fn bad_pages_are_skipped_with_a_warning_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("good.md"),
        "# Good\n\nText about installing.\n\n## Install\n\nRun it.\n\n## Install\n\nAgain.\n",
    )
    .unwrap();
    std::fs::write(d.join("latin1.md"), b"# Caf\xe9\n\ntext\n").unwrap();
    std::fs::write(d.join("plain.md"), "Just a paragraph, no heading at all.\n").unwrap();
    std::fs::write(d.join("empty.md"), "<!-- nothing -->\n").unwrap();
    std::fs::write(d.join("broken.md"), "# [unclosed *emphasis\n\n```\nnever closed").unwrap();
    // A 50 MB page (sparse: its size is what is checked, before reading).
    std::fs::File::create(d.join("huge.md"))
        .unwrap()
        .set_len(50 << 20)
        .unwrap();
    std::fs::create_dir(d.join("loop")).unwrap();
    std::os::unix::fs::symlink(d.join("loop"), d.join("loop/again")).unwrap();
    let site = read_site(d, &opts()).unwrap();
    assert_eq!(site.kind, SiteKind::Markdown);
    let w = site.warnings.join("\n");
    for needle in [
        "latin1.md: not UTF-8",
        "huge.md: 52.4 MB",
        "empty.md: no text",
        "symlink loop",
    ] {
        assert!(w.contains(needle), "no warning with `{needle}` in:\n{w}");
    }
    let urls: Vec<&str> = site.sections.iter().map(|s| s.url.as_str()).collect();
    assert!(urls.contains(&"/book/good/#install"), "{urls:?}");
    assert!(urls.contains(&"/book/good/#install-1"), "{urls:?}");
    assert!(urls.contains(&"/book/plain/"), "{urls:?}");
    assert!(urls.iter().any(|u| u.starts_with("/book/broken/")), "{urls:?}");

    // An mdBook whose SUMMARY.md names a missing chapter: that chapter is named and skipped.
    let book = tmp.path().join("book");
    std::fs::create_dir_all(book.join("src")).unwrap();
    std::fs::write(book.join("book.toml"), "[book]\ntitle = \"t\"\n").unwrap();
    std::fs::write(
        book.join("src/SUMMARY.md"),
        "# Summary\n\n- [Here](here.md)\n- [Gone](gone.md)\n- [Draft]()\n",
    )
    .unwrap();
    std::fs::write(book.join("src/here.md"), "# Here\n\nSome text.\n").unwrap();
    let site = read_site(&book, &opts()).unwrap();
    assert_eq!(site.kind, SiteKind::MdBook);
    assert_eq!(
        site.warnings,
        vec!["SUMMARY.md names gone.md, which does not exist (skipped)".to_string()]
    );
    assert_eq!(site.sections.len(), 1);

    // Nothing to index is an error naming the folder.
    let empty = tmp.path().join("nothing");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("a.md"), "").unwrap();
    let e = read_site(&empty, &opts()).unwrap_err().to_string();
    assert!(e.contains("nothing") && e.contains("no text to index"), "{e}");
    let e = read_site(&tmp.path().join("missing"), &opts()).unwrap_err().to_string();
    assert!(e.contains("not a folder"), "{e}");
}

#[test]
fn languages_from_front_matter_paths_html_and_text() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("de")).unwrap();
    std::fs::write(d.join("de/start.md"), "# Start\n\nEine Seite.\n").unwrap();
    std::fs::write(d.join("fm.md"), "---\ntitle: Accueil\nlang: fr\n---\n\nBonjour.\n").unwrap();
    std::fs::write(
        d.join("es.md"),
        "# Instalación\n\nPara instalar el programa, descargue el archivo y ejecútelo en su ordenador. Después abra la aplicación.\n",
    )
    .unwrap();
    let site = read_site(d, &opts()).unwrap();
    let lang_of = |file: &str| {
        site.sections
            .iter()
            .find(|s| s.file == file)
            .map(|s| s.lang.clone())
            .unwrap()
    };
    assert_eq!(lang_of("de/start.md"), "de");
    assert_eq!(lang_of("fm.md"), "fr");
    assert_eq!(lang_of("es.md"), "es");
    let fm = site.sections.iter().find(|s| s.file == "fm.md").unwrap();
    assert_eq!(fm.page_title, "Accueil");
}
