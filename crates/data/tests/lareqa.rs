//! The LAReQA corpora reproduce the counts of the LAReQA README; malformed files are errors
//! that name the file and the place.

use std::path::{Path, PathBuf};

use hbt_data::{TaskKind, build_tasks, lareqa, load_dir};

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name)
}

#[test]
fn xquad_r_counts_match_the_lareqa_readme() {
    let c = load_dir(&shared("xquad-r")).unwrap();
    let want = [
        ("ar", 1222),
        ("de", 1276),
        ("el", 1234),
        ("en", 1180),
        ("es", 1215),
        ("hi", 1244),
        ("ru", 1219),
        ("th", 852),
        ("tr", 1167),
        ("vi", 1209),
        ("zh", 1196),
    ];
    let stats = lareqa::stats(&c);
    assert_eq!(stats.len(), 11);
    for (s, (lang, cands)) in stats.iter().zip(want) {
        assert_eq!(s.lang, lang);
        assert_eq!(s.questions, 1190, "{lang}");
        assert_eq!(s.candidates, cands, "{lang}");
        assert_eq!(s.skipped, 0);
        assert_eq!(
            (s.min_relevant, s.max_relevant),
            (11, 11),
            "11 relevant per question in XQuAD-R"
        );
    }
    let tasks = build_tasks(&c);
    assert_eq!(tasks.iter().filter(|t| t.kind == TaskKind::Mono).count(), 11);
    assert_eq!(tasks.iter().filter(|t| t.kind == TaskKind::Cross).count(), 110);
    assert_eq!(tasks.iter().filter(|t| t.kind == TaskKind::Multi).count(), 11);
    let multi = tasks.iter().find(|t| t.kind == TaskKind::Multi).unwrap();
    assert!(multi.qrels.iter().all(|r| r.len() == 11));
}

#[test]
fn mlqa_r_counts_match_the_lareqa_readme() {
    let c = load_dir(&shared("mlqa-r")).unwrap();
    let want = [
        ("ar", 517, 2545),
        ("de", 512, 2362),
        ("en", 1148, 6264),
        ("es", 500, 1787),
        ("hi", 507, 2426),
        ("vi", 511, 2828),
        ("zh", 504, 2322),
    ];
    let stats = lareqa::stats(&c);
    for (s, (lang, q, cands)) in stats.iter().zip(want) {
        assert_eq!((s.lang.as_str(), s.questions, s.candidates), (lang, q, cands));
        assert!(
            s.min_relevant >= 2 && s.max_relevant <= 4,
            "{lang}: {}..{}",
            s.min_relevant,
            s.max_relevant
        );
    }
    let tasks = build_tasks(&c);
    assert_eq!(tasks.iter().filter(|t| t.kind == TaskKind::Mono).count(), 7);
    assert_eq!(tasks.iter().filter(|t| t.kind == TaskKind::Cross).count(), 42);
}

#[test]
fn relevant_sentence_contains_the_answer() {
    // The relevant candidate of an XQuAD-R question is the sentence holding its answer text.
    let c = load_dir(&shared("xquad-r")).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shared("xquad-r/en.json")).unwrap()).unwrap();
    let en = &c.langs["en"];
    let mut checked = 0;
    for a in raw["data"].as_array().unwrap() {
        for p in a["paragraphs"].as_array().unwrap() {
            for q in p["qas"].as_array().unwrap() {
                let ans = q["answers"][0]["text"].as_str().unwrap();
                let qi = en.by_id[q["id"].as_str().unwrap()];
                let sent = &en.candidates[en.questions[qi].answer].text;
                if sent.contains(ans) {
                    checked += 1;
                }
            }
        }
    }
    // Answers may span a sentence break; the start is what decides, so nearly all match.
    assert!(checked as f64 / en.questions.len() as f64 > 0.97, "{checked}");
}

fn write_lang(dir: &Path, code: &str, value: serde_json::Value) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(format!("{code}.json"));
    std::fs::write(&p, value.to_string()).unwrap();
    p
}

fn para(context: &str, breaks: serde_json::Value, sentences: serde_json::Value, start: usize) -> serde_json::Value {
    serde_json::json!({"data": [{"title": "T", "paragraphs": [{
        "context": context, "sentence_breaks": breaks, "sentences": sentences,
        "qas": [{"id": "q1", "question": "Who?", "answers": [{"answer_start": start, "text": "x"}]}]
    }]}]})
}

#[test]
fn malformed_inputs_name_file_and_place() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Bad JSON: the line and column.
    std::fs::create_dir_all(d.join("badjson")).unwrap();
    std::fs::write(d.join("badjson/en.json"), "{\"data\": [\n  {\"title\": }\n]}").unwrap();
    let e = load_dir(&d.join("badjson")).unwrap_err().to_string();
    assert!(e.contains("en.json") && e.contains("line 2"), "{e}");
    // A sentence break outside its context.
    write_lang(
        &d.join("brk"),
        "de",
        para(
            "Ab. Cd.",
            serde_json::json!([[0, 3], [4, 40]]),
            serde_json::json!(["Ab.", "Cd."]),
            0,
        ),
    );
    let e = load_dir(&d.join("brk")).unwrap_err().to_string();
    assert!(
        e.contains("de.json") && e.contains("article 0 paragraph 0 sentence 1") && e.contains("outside the context"),
        "{e}"
    );
    // An answer beyond the context.
    write_lang(
        &d.join("ans"),
        "es",
        para(
            "Ab. Cd.",
            serde_json::json!([[0, 3], [4, 7]]),
            serde_json::json!(["Ab.", "Cd."]),
            99,
        ),
    );
    let e = load_dir(&d.join("ans")).unwrap_err().to_string();
    assert!(
        e.contains("es.json") && e.contains("question q1") && e.contains("beyond the context"),
        "{e}"
    );
    // Unknown language code.
    write_lang(
        &d.join("unk"),
        "xx",
        para("Ab.", serde_json::json!([[0, 3]]), serde_json::json!(["Ab."]), 0),
    );
    let e = load_dir(&d.join("unk")).unwrap_err().to_string();
    assert!(e.contains("xx.json") && e.contains("not a known language code"), "{e}");
    // Empty directory: says how to get the data.
    std::fs::create_dir_all(d.join("empty")).unwrap();
    let e = load_dir(&d.join("empty")).unwrap_err().to_string();
    assert!(e.contains("empty") && e.contains("hbt data fetch"), "{e}");
    // Missing directory.
    let e = load_dir(&d.join("nope")).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("hbt data fetch"), "{e}");
    // Unknown language asked for.
    write_lang(
        &d.join("ok"),
        "en",
        para(
            "Ab. Cd.",
            serde_json::json!([[0, 3], [4, 7]]),
            serde_json::json!(["Ab.", "Cd."]),
            4,
        ),
    );
    let c = load_dir(&d.join("ok")).unwrap();
    assert_eq!(c.langs["en"].questions[0].answer, 1);
    let e = c.restrict(&["fr".into()]).unwrap_err().to_string();
    assert!(e.contains("`fr` is not in this corpus"), "{e}");
}

#[test]
fn answers_between_sentences_are_counted_not_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    // The answer starts at the space between the two sentences (offset 3).
    write_lang(
        tmp.path(),
        "en",
        para(
            "Ab. Cd.",
            serde_json::json!([[0, 3], [4, 7]]),
            serde_json::json!(["Ab.", "Cd."]),
            3,
        ),
    );
    let c = load_dir(tmp.path()).unwrap();
    assert_eq!(c.langs["en"].questions.len(), 0);
    assert_eq!(c.langs["en"].skipped, vec!["q1".to_string()]);
    assert_eq!(lareqa::stats(&c)[0].skipped, 1);
}

#[test]
fn article_split_keeps_paragraphs_on_one_side() {
    let c = load_dir(&shared("mlqa-r")).unwrap();
    let s = hbt_data::split::split_by_article(&c, 0.2, 7);
    assert!(s.train.is_disjoint(&s.dev));
    let frac = s.dev.len() as f64 / (s.dev.len() + s.train.len()) as f64;
    assert!((0.1..0.3).contains(&frac), "{frac}");
    for d in c.langs.values() {
        let mut side = std::collections::HashMap::new();
        for q in &d.questions {
            let is_dev = s.dev.contains(&q.id);
            let prev = side.insert(q.paragraph, is_dev);
            assert!(prev.is_none() || prev == Some(is_dev), "paragraph on both sides");
        }
    }
    // Seeded: same seed, same split.
    assert_eq!(hbt_data::split::split_by_article(&c, 0.2, 7).dev, s.dev);
}

#[test]
fn limit_keeps_whole_paragraphs_of_kept_questions() {
    let c = load_dir(&shared("xquad-r"))
        .unwrap()
        .restrict(&["de".into(), "en".into()])
        .unwrap()
        .limit(20);
    for d in c.langs.values() {
        assert_eq!(d.questions.len(), 20);
        for q in &d.questions {
            let p = &d.paragraphs[q.paragraph];
            assert!(p.sentences.contains(&q.answer));
        }
        assert!(d.candidates.len() < 100);
    }
    let tasks = build_tasks(&c);
    assert_eq!(tasks.len(), 2 * 2 + 2);
    // Parallel answers still line up: the same id's answer in en and de.
    let en = &c.langs["en"];
    let de = &c.langs["de"];
    let q = &en.questions[3];
    assert!(de.by_id.contains_key(&q.id));
}
