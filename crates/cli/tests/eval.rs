//! `hbt eval` / `hbt compare` end to end on a quick run (a tiny random BERT, a few XQuAD-R
//! questions), and their bad-input errors.

mod common;

use common::{hbt, shared, tiny_bert};

fn eval(model: &std::path::Path, bench: &str, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let data = shared(&format!("data/{bench}"));
    let mut args = vec![
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--bench",
        bench,
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--limit",
        "6",
        "--languages",
        "de,en,zh",
    ];
    args.extend(extra);
    hbt().args(args).output().unwrap()
}

#[test]
fn quick_eval_writes_every_output_and_compare_works() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 7, 16);
    let runs = tmp.path().join("runs");
    let out_a = tmp.path().join("a");
    let o = eval(
        &model,
        "xquad-r",
        &out_a,
        &["--runs", runs.to_str().unwrap(), "--label", "tiny-a"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "report.json",
        "report.md",
        "table.txt",
        "map-heatmap.svg",
        "map-heatmap.png",
        "rank-distance.svg",
        "rank-distance.png",
    ] {
        assert!(out_a.join(f).is_file(), "{f} missing");
    }
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out_a.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["benchmark"], "xquad-r");
    assert_eq!(r["languages"], serde_json::json!(["de", "en", "zh"]));
    assert_eq!(r["tasks"].as_array().unwrap().len(), 9);
    assert_eq!(r["multi"].as_array().unwrap().len(), 3);
    let s = &r["summary"];
    for k in ["mono_map", "cross_map", "multi_map", "multi_r_10"] {
        let v = s[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    // Every task gets TREC files that trec_eval could read.
    assert!(
        runs.join("de-en.run").is_file() && runs.join("de-en.qrels").is_file() && runs.join("zh-multi.run").is_file()
    );
    // The same model scored again is the same report (deterministic), and a second model
    // compares against it.
    let model_b = tmp.path().join("tiny-b");
    tiny_bert(&model_b, 8, 16);
    let out_b = tmp.path().join("b");
    assert!(eval(&model_b, "xquad-r", &out_b, &[]).status.success());
    let cmp = tmp.path().join("cmp");
    let o = hbt()
        .args([
            "compare",
            out_a.join("report.json").to_str().unwrap(),
            out_b.join("report.json").to_str().unwrap(),
            "--out",
            cmp.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("tiny-a"));
    for f in ["compare.md", "compare.json", "compare-map.png", "compare-bias.png"] {
        assert!(cmp.join(f).is_file(), "{f}");
    }
    // compare.json: one paired test per measure, each difference the reports' own
    // difference (the sum of per-question shares equals the table's), and a figure is bold
    // in compare.md exactly where a significant best is named.
    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(cmp.join("compare.json")).unwrap()).unwrap();
    let tests = c["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 4, "{c}");
    let ra: serde_json::Value = serde_json::from_slice(&std::fs::read(out_a.join("report.json")).unwrap()).unwrap();
    let rb: serde_json::Value = serde_json::from_slice(&std::fs::read(out_b.join("report.json")).unwrap()).unwrap();
    for (t, key, scale) in [
        (0, "mono_map", 100.0),
        (1, "cross_map", 100.0),
        (2, "multi_map", 100.0),
        (3, "rank_distance", 1.0),
    ] {
        let want = scale * (ra["summary"][key].as_f64().unwrap() - rb["summary"][key].as_f64().unwrap());
        let got = tests[t]["test"]["diff"].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{key}: {got} vs {want}"
        );
        let p = tests[t]["test"]["p"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
    }
    let named = c["significant_best"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| !x[1].is_null())
        .count();
    let md = std::fs::read_to_string(cmp.join("compare.md")).unwrap();
    let table_rows: String = md.lines().filter(|l| l.starts_with("| tiny")).collect();
    assert_eq!(table_rows.matches("**").count() / 2, named, "{md}");
    // A report of another benchmark is refused by compare, naming the file.
    let out_m = tmp.path().join("m");
    let o = eval(&model, "mlqa-r", &out_m, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = hbt()
        .args([
            "compare",
            out_a.join("report.json").to_str().unwrap(),
            out_m.join("report.json").to_str().unwrap(),
            "--out",
            cmp.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("m/report.json") && e.contains("report on mlqa-r"), "{e}");
    // Not a report at all.
    let o = hbt()
        .args([
            "compare",
            out_a.join("report.md").to_str().unwrap(),
            out_a.join("report.json").to_str().unwrap(),
            "--out",
            cmp.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    // An existing report is not overwritten without --force.
    let o = eval(&model, "xquad-r", &out_a, &[]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--force"));
}

#[test]
fn eval_bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 9, 16);
    // Unknown language.
    let o = eval(&model, "xquad-r", &tmp.path().join("x"), &["--languages", "de,xx"]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("unknown language code `xx`"), "{e}");
    // A language the corpus does not have.
    let o = eval(&model, "mlqa-r", &tmp.path().join("y"), &["--languages", "th"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("`th` is not in this corpus"));
    // A model directory without its tokenizer.
    std::fs::remove_file(model.join("tokenizer.json")).unwrap();
    let o = eval(&model, "xquad-r", &tmp.path().join("z"), &[]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("tokenizer.json"), "{e}");
    // Data that is not there: how to get it.
    let o = hbt()
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--bench",
            "xquad-r",
            "--data",
            "/nonexistent/xquad-r",
            "--out",
            tmp.path().join("w").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("hbt data fetch"));
}
