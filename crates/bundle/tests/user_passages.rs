//! A visitor's own passages (the web app's file drop): what is read, and that bad files are
//! refused with the file and line named rather than silently skipped.

use hbt_bundle::{MAX_USER_PASSAGES, UNKNOWN_LANG, parse_user_passages};

#[test]
fn jsonl_keeps_text_language_and_id_in_order() {
    let file = "{\"id\": \"a\", \"lang\": \"de\", \"text\": \"Berlin ist die Hauptstadt.\"}\n\n\
                {\"lang\": \"zh\", \"text\": \" 北京是首都。 \"}\n\
                {\"id\": 7, \"text\": \"no language given\"}\n";
    let p = parse_user_passages(file.as_bytes(), "mine.jsonl").unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(
        (p[0].id.as_str(), p[0].lang.as_str(), p[0].text.as_str()),
        ("a", "de", "Berlin ist die Hauptstadt.")
    );
    // Ids default to the line number (blank lines count), text is trimmed.
    assert_eq!(
        (p[1].id.as_str(), p[1].lang.as_str(), p[1].text.as_str()),
        ("line 3", "zh", "北京是首都。")
    );
    assert_eq!((p[2].id.as_str(), p[2].lang.as_str()), ("7", UNKNOWN_LANG));
}

#[test]
fn text_files_are_one_passage_per_line() {
    let p = parse_user_passages("first line\r\n\n  second line  \n".as_bytes(), "notes.txt").unwrap();
    let texts: Vec<&str> = p.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts, ["first line", "second line"]);
    assert!(p.iter().all(|p| p.lang == UNKNOWN_LANG));
    assert_eq!(p[1].id, "line 3");
}

#[test]
fn bad_files_name_the_file_and_line() {
    let cases: [(&[u8], &str, &str); 7] = [
        (
            b"{\"text\": \"ok\"}\n{not json}\n",
            "a.jsonl",
            "a.jsonl: line 2 is not JSON",
        ),
        (b"{\"lang\": \"de\"}\n", "b.jsonl", "b.jsonl: line 1: no `text`"),
        (b"{\"text\": \"  \"}\n", "c.jsonl", "c.jsonl: line 1: no `text`"),
        (
            b"{\"text\": [\"x\"]}\n",
            "d.jsonl",
            "d.jsonl: line 1: `text` is not a string",
        ),
        (b"[1, 2]\n", "e.ndjson", "e.ndjson: line 1: expected an object"),
        (b"\n \n", "f.txt", "f.txt: no passages"),
        (
            b"caf\xe9\n",
            "g.txt",
            "g.txt: not UTF-8 text (invalid byte at offset 3)",
        ),
    ];
    for (bytes, name, want) in cases {
        let err = parse_user_passages(bytes, name).unwrap_err().to_string();
        assert!(err.starts_with(want), "{name}: got `{err}`, want `{want}…`");
    }
}

#[test]
fn too_many_passages_is_an_error_not_a_cut() {
    let file = "x\n".repeat(MAX_USER_PASSAGES + 1);
    let err = parse_user_passages(file.as_bytes(), "big.txt").unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "more than {MAX_USER_PASSAGES} passages (line {})",
            MAX_USER_PASSAGES + 1
        )),
        "{err}"
    );
    assert_eq!(
        parse_user_passages("x\n".repeat(MAX_USER_PASSAGES).as_bytes(), "ok.txt")
            .unwrap()
            .len(),
        MAX_USER_PASSAGES
    );
}

#[test]
fn an_export_corpus_needs_ids_and_languages_whatever_its_name() {
    use hbt_bundle::{PassageRules, parse_passages};
    let good = "{\"id\": \"p1\", \"lang\": \"el\", \"text\": \"Η Αθήνα είναι πρωτεύουσα.\"}\n";
    let p = parse_passages(good.as_bytes(), "corpus.txt", PassageRules::EXPORT).unwrap();
    assert_eq!((p[0].id.as_str(), p[0].lang.as_str()), ("p1", "el"));
    for (line, missing) in [
        ("{\"lang\": \"el\", \"text\": \"x\"}", "id"),
        ("{\"id\": \"p2\", \"text\": \"x\"}", "lang"),
        ("{\"id\": \"p2\", \"lang\": \" \", \"text\": \"x\"}", "lang"),
    ] {
        let file = format!("{good}\n{line}\n");
        let err = parse_passages(file.as_bytes(), "corpus.jsonl", PassageRules::EXPORT)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("corpus.jsonl: line 3: no `{missing}`")),
            "{line}: got `{err}`"
        );
    }
    // The visitor's limit is the visitor's: an export corpus has none.
    let many = "{\"id\": \"p\", \"lang\": \"en\", \"text\": \"t\"}\n".repeat(MAX_USER_PASSAGES + 1);
    assert_eq!(
        parse_passages(many.as_bytes(), "big.jsonl", PassageRules::EXPORT)
            .unwrap()
            .len(),
        MAX_USER_PASSAGES + 1
    );
}
