//! Training on one's own data: a JSON Lines file written here by hand (three languages,
//! groups by id, no LAReQA anywhere) trains with hybrid batches and writes a model card;
//! `hbt mine` then `hbt train` with the mined negatives; MLQA-R read as a LAReQA folder, as
//! JSON Lines and as Parquet trains the same weights bit for bit; unusable data and bad rows
//! are refused with one line and nothing written; a large JSON Lines file is read without
//! holding its texts.

mod common;

use std::path::{Path, PathBuf};

use common::{hbt, shared, tiny_bert, train_args};

/// (en question, en passage, de question, de passage, fr question, fr passage).
const ROWS: &[[&str; 6]] = &[
    [
        "When does the library open?",
        "The library opens at nine in the morning on weekdays.",
        "Wann öffnet die Bibliothek?",
        "Die Bibliothek öffnet werktags um neun Uhr morgens.",
        "Quand la bibliothèque ouvre-t-elle ?",
        "La bibliothèque ouvre à neuf heures du matin en semaine.",
    ],
    [
        "How do I reset my password?",
        "Use the link on the sign-in page to receive a reset email.",
        "Wie setze ich mein Passwort zurück?",
        "Über den Link auf der Anmeldeseite erhalten Sie eine E-Mail zum Zurücksetzen.",
        "Comment réinitialiser mon mot de passe ?",
        "Utilisez le lien de la page de connexion pour recevoir un courriel de réinitialisation.",
    ],
    [
        "Can I return a product after thirty days?",
        "Returns are accepted within thirty days of delivery only.",
        "Kann ich ein Produkt nach dreißig Tagen zurückgeben?",
        "Rücksendungen werden nur innerhalb von dreißig Tagen nach Lieferung angenommen.",
        "Puis-je retourner un produit après trente jours ?",
        "Les retours ne sont acceptés que dans les trente jours suivant la livraison.",
    ],
    [
        "Which payment methods do you accept?",
        "We accept credit cards, bank transfers and invoices for companies.",
        "Welche Zahlungsarten akzeptieren Sie?",
        "Wir akzeptieren Kreditkarten, Überweisungen und für Firmen auch Rechnungen.",
        "Quels moyens de paiement acceptez-vous ?",
        "Nous acceptons les cartes de crédit, les virements et les factures pour les entreprises.",
    ],
    [
        "How long does shipping take?",
        "Standard shipping takes three to five working days.",
        "Wie lange dauert der Versand?",
        "Der Standardversand dauert drei bis fünf Werktage.",
        "Combien de temps prend la livraison ?",
        "La livraison standard prend de trois à cinq jours ouvrables.",
    ],
    [
        "Is there a student discount?",
        "Students get ten percent off with a valid student card.",
        "Gibt es einen Studentenrabatt?",
        "Studierende erhalten mit gültigem Ausweis zehn Prozent Rabatt.",
        "Y a-t-il une réduction pour les étudiants ?",
        "Les étudiants bénéficient de dix pour cent de réduction avec une carte valide.",
    ],
    [
        "Where can I park my car?",
        "Free parking is available behind the main building.",
        "Wo kann ich mein Auto parken?",
        "Kostenlose Parkplätze gibt es hinter dem Hauptgebäude.",
        "Où puis-je garer ma voiture ?",
        "Un parking gratuit se trouve derrière le bâtiment principal.",
    ],
    [
        "Do you ship abroad?",
        "We deliver to all countries of the European Union.",
        "Liefern Sie ins Ausland?",
        "Wir liefern in alle Länder der Europäischen Union.",
        "Livrez-vous à l'étranger ?",
        "Nous livrons dans tous les pays de l'Union européenne.",
    ],
    [
        "How can I contact customer service?",
        "Customer service answers by phone from eight to six.",
        "Wie erreiche ich den Kundendienst?",
        "Der Kundendienst ist telefonisch von acht bis achtzehn Uhr erreichbar.",
        "Comment contacter le service client ?",
        "Le service client répond par téléphone de huit heures à dix-huit heures.",
    ],
    [
        "Can I change my order after paying?",
        "Orders can be changed until they leave the warehouse.",
        "Kann ich meine Bestellung nach dem Bezahlen ändern?",
        "Bestellungen können geändert werden, bis sie das Lager verlassen.",
        "Puis-je modifier ma commande après le paiement ?",
        "Les commandes peuvent être modifiées tant qu'elles n'ont pas quitté l'entrepôt.",
    ],
];

/// The hand-written file: one row per (id, language).
fn write_faq(path: &Path) {
    let mut out = String::new();
    for (i, r) in ROWS.iter().enumerate() {
        for (k, lang) in ["en", "de", "fr"].iter().enumerate() {
            out.push_str(
                &serde_json::json!({"id": format!("faq-{i}"), "lang": lang, "query": r[2 * k], "positive": r[2 * k + 1]})
                    .to_string(),
            );
            out.push('\n');
        }
    }
    std::fs::write(path, out).unwrap();
}

fn own_args(model: &Path, data: &Path, out: &Path, steps: usize) -> Vec<String> {
    let mut a = train_args(model, out, steps);
    let k = a.iter().position(|x| x == "--train").unwrap();
    a[k + 1] = data.to_str().unwrap().into();
    let k = a.iter().position(|x| x == "--batch").unwrap();
    a[k + 1] = "4".into();
    a
}

/// Replace a flag's value in `args` (clap refuses a flag given twice).
fn set(args: &mut [String], flag: &str, value: &str) {
    let k = args.iter().position(|x| x == flag).unwrap();
    args[k + 1] = value.into();
}

fn log_lines(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("train-log.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn run_ok(args: &[String]) -> std::process::Output {
    let o = hbt().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "hbt {}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

#[test]
fn hand_written_jsonl_trains_hybrid_writes_a_card_then_mines_and_trains_again() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 3, 16);
    let data = tmp.path().join("faq.jsonl");
    write_faq(&data);
    let run = tmp.path().join("run");
    let mut args = own_args(&model, &data, &run, 12);
    args.extend(["--dev-fraction".into(), "0".into()]);
    let o = run_ok(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("30 rows, 10 groups (10 in several languages)") && err.contains("de 10, en 10, fr 10"),
        "{err}"
    );
    let log = log_lines(&run);
    assert_eq!(log.len(), 12);
    let kinds: Vec<&str> = log.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"mono") && kinds.contains(&"cross"), "{kinds:?}");
    for l in &log {
        let langs = l["langs"].as_object().unwrap();
        let total: u64 = langs.values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(total, 4, "{l}");
        match l["kind"].as_str().unwrap() {
            "mono" => assert!(langs.len() == 1 && !langs.keys().next().unwrap().contains('→'), "{l}"),
            _ => assert!(langs.keys().all(|k| k.contains('→')), "{l}"),
        }
    }
    // The model card: Hugging Face's front matter, then the run.
    let card = std::fs::read_to_string(run.join("model/README.md")).unwrap();
    assert!(card.starts_with("---\nlibrary_name: sentence-transformers\n"), "{card}");
    for want in [
        "pipeline_tag: sentence-similarity",
        "base_model: \"tiny\"",
        "language:\n- de\n- en\n- fr\n",
        "datasets:\n- \"faq\"",
        "hybrid (α = 0.5",
        "| steps | 12 |",
        "| batch | 4 |",
        "| precision | f32 |",
    ] {
        assert!(card.contains(want), "card lacks {want:?}:\n{card}");
    }
    assert!(run.join("model/modules.json").is_file());

    // Mine with the trained model, then train on the mined negatives.
    let mined = tmp.path().join("faq-mined.jsonl");
    let m = run_ok(&[
        "mine".into(),
        "--model".into(),
        run.join("model").to_str().unwrap().into(),
        "--data".into(),
        data.to_str().unwrap().into(),
        "--out".into(),
        mined.to_str().unwrap().into(),
        "--num-negatives".into(),
        "2".into(),
        "--backend".into(),
        "cpu".into(),
    ]);
    assert!(String::from_utf8_lossy(&m.stdout).contains("\"rows\":30"));
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(&mined)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 30);
    for r in &rows {
        let negs = r["negatives"].as_array().unwrap();
        assert_eq!(negs.len(), 2, "{r}");
        // Never the positive, nor a translation of it (a passage of the same id).
        let i: usize = r["id"].as_str().unwrap()[4..].parse().unwrap();
        for n in negs {
            let n = n.as_str().unwrap();
            assert!(![1, 3, 5].iter().any(|&k| ROWS[i][k] == n), "{n} is a positive of {i}");
        }
    }
    // Mining refuses to overwrite.
    let again = hbt()
        .args(["mine", "--model", run.join("model").to_str().unwrap()])
        .args(["--data", data.to_str().unwrap(), "--out", mined.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let run2 = tmp.path().join("run2");
    let mut args = own_args(&model, &mined, &run2, 6);
    args.extend(["--dev-fraction".into(), "0".into(), "--hard-negatives".into()]);
    set(&mut args, "--eval-every", "3");
    args.extend(["--eval-data".into(), data.to_str().unwrap().into()]);
    args.extend(["--keep-best".into(), "ndcg@10".into()]);
    run_ok(&args);
    let log = log_lines(&run2);
    let evals: Vec<&serde_json::Value> = log.iter().filter(|l| l.get("eval").is_some()).collect();
    assert_eq!(evals.len(), 2, "{log:?}");
    for e in evals {
        let v = e["eval"]["ndcg@10"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v));
    }
    let card = std::fs::read_to_string(run2.join("model/README.md")).unwrap();
    assert!(
        card.contains("| ndcg@10 |") && card.contains("| hard negatives | true |"),
        "{card}"
    );
}

fn convert(input: &Path, to: &str, out: &Path) {
    run_ok(&[
        "data".into(),
        "convert".into(),
        input.to_str().unwrap().into(),
        "--to".into(),
        to.into(),
        "--out".into(),
        out.to_str().unwrap().into(),
    ]);
}

#[test]
fn mlqa_r_as_lareqa_jsonl_and_parquet_trains_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 4, 16);
    let jsonl = tmp.path().join("mlqa-r.jsonl");
    let parquet = tmp.path().join("mlqa-r.parquet");
    let back = tmp.path().join("mlqa-r-from-parquet.jsonl");
    convert(&shared("data/mlqa-r"), "jsonl", &jsonl);
    convert(&jsonl, "parquet", &parquet);
    convert(&parquet, "jsonl", &back);
    assert_eq!(
        std::fs::read(&jsonl).unwrap(),
        std::fs::read(&back).unwrap(),
        "JSON Lines → Parquet → JSON Lines changed the rows"
    );
    let mut runs: Vec<(PathBuf, Vec<serde_json::Value>)> = Vec::new();
    for (name, data) in [
        ("lareqa", shared("data/mlqa-r")),
        ("jsonl", jsonl),
        ("parquet", parquet),
    ] {
        let out = tmp.path().join(format!("run-{name}"));
        let mut args = own_args(&model, &data, &out, 8);
        set(&mut args, "--batch", "6");
        set(&mut args, "--eval-every", "4");
        args.push("--hard-negatives".into());
        run_ok(&args);
        runs.push((out.clone(), log_lines(&out)));
    }
    let key = |l: &serde_json::Value| {
        (
            l["step"].clone(),
            l["kind"].clone(),
            l["loss"].clone(),
            l["langs"].clone(),
            l["val_loss"].clone(),
        )
    };
    let (ref_dir, ref_log) = &runs[0];
    for (dir, log) in &runs[1..] {
        assert_eq!(log.len(), ref_log.len());
        for (a, b) in ref_log.iter().zip(log) {
            assert_eq!(key(a), key(b), "{} differs from the LAReQA run", dir.display());
        }
        assert!(
            common::weight_bytes(&ref_dir.join("model")) == common::weight_bytes(&dir.join("model")),
            "{}: weights differ",
            dir.display()
        );
    }
}

/// Every way a data set can be unusable or wrong: one line naming the file and place,
/// exit 1, nothing under --out.
#[test]
fn unusable_data_and_bad_rows_are_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 5, 16);
    let row = |id: &str, lang: &str, q: &str, p: &str| {
        serde_json::json!({"id": id, "lang": lang, "query": q, "positive": p}).to_string()
    };
    let mono: String = (0..8)
        .map(|i| row(&format!("q{i}"), "en", &format!("question {i}"), &format!("answer {i}")) + "\n")
        .collect();
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("no-cross.jsonl", mono.clone(), "hybrid", "needs X-Y pairs"),
        (
            "missing.jsonl",
            mono.clone() + "{\"id\": \"x\", \"lang\": \"en\", \"query\": \"q\"}\n",
            "mono",
            "line 9: no `positive`",
        ),
        (
            "empty.jsonl",
            mono.clone() + &row("x", "en", "  ", "p") + "\n",
            "mono",
            "line 9: the query is empty",
        ),
        (
            "type.jsonl",
            mono.clone() + "{\"id\": \"x\", \"lang\": \"en\", \"query\": 5, \"positive\": \"p\"}\n",
            "mono",
            "line 9: `query` is a number",
        ),
        (
            "lang.jsonl",
            mono.clone() + &row("x", "english", "q", "p") + "\n",
            "mono",
            "line 9: `query_lang`: unknown language code `english`",
        ),
        (
            "json.jsonl",
            mono.clone() + "{\"id\": \"x\",\n",
            "mono",
            "line 9: not JSON",
        ),
        (
            "clash.jsonl",
            mono.clone() + &row("q1", "en", "question 1", "another answer") + "\n",
            "mono",
            "line 9: id `q1` already has a different positive passage",
        ),
    ];
    for (name, text, sampler, want) in cases {
        let f = tmp.path().join(name);
        std::fs::write(&f, text).unwrap();
        let out = tmp.path().join(format!("out-{name}"));
        let mut args = own_args(&model, &f, &out, 2);
        let k = args.iter().position(|x| x == "--sampler").unwrap();
        args[k + 1] = sampler.into();
        args.extend(["--dev-fraction".into(), "0".into()]);
        let o = hbt().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{name}: {err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("hbt: error"))
            .unwrap_or_else(|| panic!("{name}: {err}"));
        assert!(
            line.contains(name) && line.contains(want),
            "{name}: wanted {want:?} in {line}"
        );
        assert!(!out.exists(), "{name}: something was written under --out");
    }
}

#[test]
fn a_large_jsonl_file_is_read_without_holding_its_texts() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("large.jsonl");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&f).unwrap());
        let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ".repeat(20);
        for i in 0..200_000u32 {
            let lang = ["en", "de", "fr", "es"][(i % 4) as usize];
            writeln!(
                w,
                "{}",
                serde_json::json!({"id": format!("g{}", i / 4), "lang": lang, "query": format!("question {i} {}", &filler[..40]), "positive": format!("passage {i} {filler}")})
            )
            .unwrap();
        }
    }
    let size = std::fs::metadata(&f).unwrap().len();
    assert!(size > 300_000_000, "{size}");
    let o = hbt()
        .args([
            "data",
            "sample",
            f.to_str().unwrap(),
            "--batch",
            "32",
            "--batches",
            "200",
        ])
        .env("HBT_TEST_PEAK_RSS", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let kb: u64 = err
        .lines()
        .find_map(|l| l.strip_prefix("hbt: peak resident "))
        .and_then(|v| v.trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    let peak = kb * 1024;
    eprintln!("{size} B of JSON Lines read and sampled in {peak} B peak resident");
    // Holding the texts would take at least the file; the process (its ~30 MB of code and
    // allocator included) holds under a third of it.
    assert!(peak < size / 3, "peak resident {peak} B for a {size} B file");
}
