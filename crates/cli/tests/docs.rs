//! `hbt export --docs` and `hbt search` on a small hand-written mdBook (three pages, written
//! for this test, no benchmark data): a question in German and one in Chinese find the
//! English section; a second export re-embeds only the changed section and keeps every
//! other vector byte for byte; a failed export leaves the bundle whole; bad input is one
//! line naming the file.

mod common;

use std::path::Path;

use common::{e5, hbt};

fn write_book(dir: &Path, storage_text: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("book.toml"), "[book]\ntitle = \"Garden Tools Manual\"\n").unwrap();
    std::fs::write(
        dir.join("src/SUMMARY.md"),
        "# Summary\n\n[Introduction](README.md)\n\n- [Watering](watering.md)\n- [Winter care](winter.md)\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/README.md"),
        "# Garden Tools Manual\n\nThis manual explains how to look after the tools of a small garden.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/watering.md"),
        "# Watering\n\n## Connecting the hose\n\nScrew the hose onto the outdoor tap and turn the tap slowly until water flows. \
         Check the connector for leaks.\n\n## How often to water tomatoes\n\nTomato plants need water every two days in summer, \
         early in the morning, directly at the roots.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/winter.md"),
        format!("# Winter care\n\n## Storing the lawn mower\n\n{storage_text}\n\n## Protecting roses from frost\n\nCover the base of each rose bush with mulch or straw before the first frost.\n"),
    )
    .unwrap();
}

fn search(bundle: &Path, q: &str) -> Vec<serde_json::Value> {
    let o = hbt()
        .args(["search", "--bundle"])
        .arg(bundle)
        .args(["-k", "3", q])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn export(book: &Path, out: &Path) -> std::process::Output {
    hbt()
        .args(["export", "--model"])
        .arg(e5())
        .arg("--docs")
        .arg(book)
        .args(["--base-url", "/manual/", "--out"])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_docs_site_exported_searched_and_updated() {
    let tmp = tempfile::tempdir().unwrap();
    let (book, bundle) = (tmp.path().join("book"), tmp.path().join("bundle"));
    write_book(
        &book,
        "Empty the fuel tank, clean the blades and keep the mower in a dry shed until spring.",
    );
    let o = export(&book, &bundle);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("3 pages, 5 sections"), "{err}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("sections    5 embedded\n"), "{stdout}");

    // Questions in other languages than the pages land on the English section.
    for (q, want) in [
        (
            "Wie oft muss ich Tomaten gießen?",
            "/manual/watering.html#how-often-to-water-tomatoes",
        ),
        (
            "冬天如何保护玫瑰不受霜冻?",
            "/manual/winter.html#protecting-roses-from-frost",
        ),
        (
            "¿Cómo conecto la manguera al grifo?",
            "/manual/watering.html#connecting-the-hose",
        ),
    ] {
        let hits = search(&bundle, q);
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0]["url"], want, "{q}: {hits:?}");
        assert_eq!(hits[0]["rank"], 1);
        assert_eq!(hits[0]["lang"], "en");
        assert!(hits[0]["page"].as_str().unwrap().len() > 3 && hits[0]["section"].as_str().unwrap().len() > 3);
        assert!(hits[0]["score"].as_f64().unwrap() > hits[2]["score"].as_f64().unwrap());
    }

    // Change one section: the next export re-embeds it alone; the other vectors stay.
    let before = std::fs::read(bundle.join("embeddings.safetensors")).unwrap();
    write_book(
        &book,
        "Drain the fuel, sharpen the blades, and store the mower indoors over the winter months.",
    );
    let o = export(&book, &bundle);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("sections    1 embedded, 4 unchanged"), "{stdout}");
    let after = std::fs::read(bundle.join("embeddings.safetensors")).unwrap();
    let rows = |b: &[u8]| {
        let st = safetensors::SafeTensors::deserialize(b).unwrap();
        let t = st.tensor("passages").unwrap();
        let dim = t.shape()[1];
        t.data()
            .chunks(dim * t.dtype().bitsize() / 8)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
    };
    let (rb, ra) = (rows(&before), rows(&after));
    let changed: Vec<usize> = (0..rb.len()).filter(|&i| rb[i] != ra[i]).collect();
    assert_eq!(changed.len(), 1, "rows that changed: {changed:?}");
    let hits = search(&bundle, "Wo bewahre ich den Rasenmäher im Winter auf?");
    assert_eq!(hits[0]["url"], "/manual/winter.html#storing-the-lawn-mower");

    // A failed export (nothing to index) leaves the bundle whole.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("a.md"), "<!-- -->\n").unwrap();
    let o = export(&empty, &bundle);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no text to index"), "{err}");
    assert_eq!(std::fs::read(bundle.join("embeddings.safetensors")).unwrap(), after);

    // Anything else at --out is not replaced without --force.
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "mine").unwrap();
    let o = export(&book, &other);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read_to_string(other.join("keep.txt")).unwrap(), "mine");
}

#[test]
fn search_refuses_what_it_cannot_use() {
    let tmp = tempfile::tempdir().unwrap();
    let o = hbt()
        .args(["search", "--bundle"])
        .arg(tmp.path())
        .arg("question")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("manifest.json"), "{err}");
    let o = hbt()
        .args(["search", "--bundle"])
        .arg(tmp.path())
        .arg("  ")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("empty question"));
}
