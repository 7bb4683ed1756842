//! `hbt experiment` (the `hbt_pipeline::study` library behind it) end to end with a tiny BERT:
//! tables that match the reports they summarise, resume without redoing work, a changed
//! plan refused, and the α sweep's chart.

mod common;

use std::path::Path;

use common::{hbt, shared, tiny_bert};

fn experiment(model: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = [
        "experiment",
        "--init",
        model.to_str().unwrap(),
        "--train",
        shared("data/mlqa-r").to_str().unwrap(),
        "--test",
        &format!("xquad-r={}", shared("data/xquad-r").display()),
        "--steps",
        "2",
        "--batch",
        "4",
        "--lr",
        "1e-3",
        "--limit",
        "6",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    hbt().args(args).output().unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn multi_map(report: &Path) -> f64 {
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    100.0 * r["summary"]["multi_map"].as_f64().unwrap()
}

#[test]
fn a_study_summarises_its_reports_resumes_and_refuses_another_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 3, 16);
    let out = tmp.path().join("study");
    let md = ok(&experiment(
        &model,
        &out,
        &["--samplers", "mono,hybrid", "--seeds", "2"],
    ));
    assert_eq!(md, std::fs::read_to_string(out.join("summary.md")).unwrap());
    // The wall-time line names what each invocation ran on and in what precision.
    let wall = md.lines().find(|l| l.starts_with("Wall time")).expect(&md);
    assert!(
        wall.contains("device: CPU") && wall.contains("training in f32"),
        "{wall}"
    );
    // The settings line says how the trainings laid out their batches (the default).
    assert!(md.contains("batches packed several texts a row"), "{md}");
    // The table's mean ± std is the two seeds' reports, recomputed here.
    let v: Vec<f64> = (1..=2)
        .map(|s| multi_map(&out.join(format!("runs/mono-s{s}/eval-xquad-r/report.json"))))
        .collect();
    let mean = (v[0] + v[1]) / 2.0;
    let sd = ((v[0] - mean).powi(2) + (v[1] - mean).powi(2)).sqrt(); // n − 1 = 1
    let row = md.lines().find(|l| l.starts_with("| mono | 2 |")).expect(&md);
    let multi_cell = row.split('|').nth(5).unwrap().trim().trim_matches('*');
    assert_eq!(multi_cell, format!("{mean:.2} ± {sd:.2}"), "{row}");
    let seeds_row = md
        .lines()
        .find(|l| l.starts_with("| mono |") && l.contains(" / "))
        .expect(&md);
    assert!(seeds_row.contains(&format!("{:.2} / {:.2}", v[0], v[1])), "{seeds_row}");
    assert!(
        md.contains("| initial | 1 |") && md.contains("| hybrid-a0.5 | 2 |"),
        "{md}"
    );
    // Every pair of rows is tested on the four measures.
    assert_eq!(
        md.lines()
            .filter(|l| l.starts_with("| initial | mono |") || l.starts_with("| mono | hybrid-a0.5 |"))
            .count(),
        8,
        "{md}"
    );
    assert!(out.join("xquad-r-map.png").is_file() && out.join("xquad-r-bias.png").is_file());

    // The same command again: nothing is trained or evaluated twice.
    let weights = std::fs::read(out.join("runs/mono-s1/model/model.safetensors")).unwrap();
    let again = ok(&experiment(
        &model,
        &out,
        &["--samplers", "mono,hybrid", "--seeds", "2"],
    ));
    let timing: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("timing.json")).unwrap()).unwrap();
    let inv = timing["invocations"].as_array().unwrap();
    assert_eq!(inv.len(), 2);
    assert_eq!(
        (inv[0]["trained"].as_u64(), inv[0]["evaluated"].as_u64()),
        (Some(4), Some(5))
    );
    assert_eq!(
        (inv[1]["trained"].as_u64(), inv[1]["evaluated"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        weights,
        std::fs::read(out.join("runs/mono-s1/model/model.safetensors")).unwrap()
    );
    let table = |s: &str| {
        s.lines()
            .take_while(|l| !l.starts_with("Wall time"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(table(&md), table(&again));

    // Another plan in the same directory is refused, naming the file, and changes nothing.
    let other = experiment(&model, &out, &["--samplers", "mono,hybrid", "--seeds", "3"]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("plan.json") && err.contains("2 seeds vs 3"), "{err}");
    assert!(!out.join("runs/mono-s3").exists());
}

#[test]
fn an_alpha_sweep_draws_every_measure_against_alpha() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 4, 16);
    let out = tmp.path().join("sweep");
    let md = ok(&experiment(&model, &out, &["--alpha-sweep", "0,1", "--seeds", "2"]));
    for row in ["| hybrid-a0 | 2 |", "| hybrid-a1 | 2 |"] {
        assert!(md.contains(row), "{md}");
    }
    let svg = std::fs::read_to_string(out.join("xquad-r-alpha.svg")).unwrap();
    for panel in [
        "mono mAP",
        "cross mAP",
        "multi mAP",
        "rank distance (lower is better)",
        "each seed",
        "untrained",
    ] {
        assert!(svg.contains(panel), "{panel} missing from the α chart");
    }
    assert!(out.join("xquad-r-alpha.png").is_file());
    // α = 0 trains on X-Y batches only, α = 1 on X-X-mono only.
    let kinds = |d: &str| std::fs::read_to_string(out.join(format!("runs/{d}/train-log.jsonl"))).unwrap();
    assert!(
        kinds("hybrid-a0-s1").contains("\"kind\":\"cross\"") && !kinds("hybrid-a0-s1").contains("\"kind\":\"mono\"")
    );
    assert!(
        kinds("hybrid-a1-s1").contains("\"kind\":\"mono\"") && !kinds("hybrid-a1-s1").contains("\"kind\":\"cross\"")
    );
}
