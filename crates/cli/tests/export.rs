//! `hbt export`: the bundle's files, sizes and vectors agree with each other and with
//! `hbt embed` on the exported model; bad input is a clear error.

mod common;

use common::{hbt, shared, tiny_bert};

fn read_json(p: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn f16_rows(p: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("passages").unwrap();
    assert_eq!(t.dtype(), safetensors::Dtype::F16);
    let v = t
        .data()
        .chunks_exact(2)
        .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    (t.shape().to_vec(), v)
}

/// IEEE half → f32, written out so the test does not share the exporter's conversion.
fn half_to_f32(h: u16) -> f32 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f32;
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 => f32::NAN,
        e => sign * (1.0 + frac / 1024.0) * 2f32.powi(e - 15),
    }
}

#[test]
fn export_writes_a_consistent_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 7, 16);
    let out = tmp.path().join("bundle");
    let data = shared("data/xquad-r");
    let o = hbt()
        .args(["export", "--model"])
        .arg(&model)
        .arg("--corpus")
        .arg(&data)
        .args(["--languages", "de,en,es", "--limit", "4", "--prune-vocab", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("vocabulary  30522 →"), "{stdout}");

    let m = read_json(&out.join("manifest.json"));
    assert_eq!(m["format"], "hbt-bundle/1");
    assert_eq!(m["languages"], serde_json::json!(["de", "en", "es"]));
    // Every file listed is there with its size, and every file is listed.
    let listed: Vec<(String, u64)> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f["bytes"].as_u64().unwrap()))
        .collect();
    for (p, n) in &listed {
        assert_eq!(std::fs::metadata(out.join(p)).unwrap().len(), *n, "{p}");
    }
    for f in [
        "corpus.json",
        "embeddings.safetensors",
        "model/model.safetensors",
        "model/tokenizer.json",
    ] {
        assert!(listed.iter().any(|(p, _)| p == f), "{f} not listed");
    }
    let corpus = read_json(&out.join("corpus.json"));
    let passages = corpus["passages"].as_array().unwrap();
    assert_eq!(m["passages"].as_u64().unwrap() as usize, passages.len());
    // 4 question ids in 3 languages; each has its answer in all three.
    let questions = corpus["questions"].as_array().unwrap();
    assert_eq!(questions.len(), 12);
    for q in questions {
        let langs: Vec<&str> = q["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| passages[a.as_u64().unwrap() as usize]["lang"].as_str().unwrap())
            .collect();
        assert_eq!(langs, ["de", "en", "es"]);
    }
    let vocab = &m["model"]["vocab"];
    assert!(vocab["after"].as_u64().unwrap() < vocab["before"].as_u64().unwrap() / 10);

    // The stored vectors are what `hbt embed` gives on the exported model (to f16).
    let (shape, rows) = f16_rows(&out.join("embeddings.safetensors"));
    assert_eq!(shape, [passages.len(), 16]);
    for i in [0, passages.len() / 2, passages.len() - 1] {
        let text = passages[i]["text"].as_str().unwrap();
        let o = hbt()
            .args(["embed", "--passage", "--model"])
            .arg(out.join("model"))
            .arg(text)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let v: Vec<f32> = line["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        for (a, b) in v.iter().zip(&rows[i * 16..(i + 1) * 16]) {
            assert!((a - b).abs() < 2e-3, "passage {i}: {a} vs {b}");
        }
    }

    // A second export into the same folder is refused without --force.
    let again = hbt()
        .args(["export", "--model"])
        .arg(&model)
        .arg("--corpus")
        .arg(&data)
        .args(["--limit", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn export_bad_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 3, 16);
    let run = |args: &[&str], corpus: &std::path::Path| {
        let o = hbt()
            .args(["export", "--model"])
            .arg(&model)
            .arg("--corpus")
            .arg(corpus)
            .args(args)
            .arg("--out")
            .arg(tmp.path().join("b"))
            .output()
            .unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(&[], &tmp.path().join("nowhere"));
    assert!(e.contains("nowhere") && e.contains("no such file"), "{e}");
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"id\": \"a\", \"lang\": \"en\", \"text\": \"ok\"}\n{\"id\": \"b\"}\n",
    )
    .unwrap();
    let e = run(&[], &bad);
    assert!(e.contains("bad.jsonl") && e.contains("line 2"), "{e}");
    let e = run(&["--languages", "xx"], &shared("data/xquad-r"));
    assert!(e.contains("xx"), "{e}");
    let e = run(&["--dtype", "f8"], &bad);
    assert!(e.contains("f8"), "{e}");
}

/// `hbt embed --compare-to`, the scripts' check of one encoder against another: its cosines
/// are the ones computed here from the two runs' vectors, and a file of other texts is refused.
#[test]
fn embed_compares_vectors_with_an_earlier_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    tiny_bert(&a, 1, 16);
    tiny_bert(&b, 2, 16);
    let texts = ["the first question?", "a second, longer question about the weather"];
    let embed = |model: &std::path::Path, extra: &[&std::ffi::OsStr]| {
        let o = hbt()
            .args(["embed", "--query", "--model"])
            .arg(model)
            .args(extra)
            .args(texts)
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let vectors = |out: &str| -> Vec<Vec<f64>> {
        out.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap())
                    .collect()
            })
            .collect()
    };
    let (ok, run_a, err) = embed(&a, &[]);
    assert!(ok, "{err}");
    let (_, run_b, _) = embed(&b, &[]);
    let file = tmp.path().join("a.jsonl");
    std::fs::write(&file, &run_a).unwrap();
    let (ok, out, err) = embed(&b, &["--compare-to".as_ref(), file.as_os_str()]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), texts.len() + 1);
    let (va, vb) = (vectors(&run_a), vectors(&run_b));
    let mut want = Vec::new();
    for (i, (x, y)) in va.iter().zip(&vb).enumerate() {
        let dot: f64 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        let n = |v: &[f64]| v.iter().map(|p| p * p).sum::<f64>().sqrt();
        want.push(dot / n(x) / n(y));
        assert_eq!(lines[i]["text"], texts[i]);
        let got = lines[i]["cosine"].as_f64().unwrap();
        assert!((got - want[i]).abs() < 1e-6, "text {i}: {got} vs {}", want[i]);
    }
    assert!(
        want.iter().all(|c| *c < 0.99),
        "two random models should disagree: {want:?}"
    );
    let total = &lines[texts.len()];
    assert_eq!(total["texts"], 2);
    let min = want.iter().copied().fold(f64::INFINITY, f64::min);
    assert!((total["min_cosine"].as_f64().unwrap() - min).abs() < 1e-6);
    assert_eq!(total["share_at_least_0_999"], 0.0);

    // The same model against itself: every cosine 1.
    let (ok, out, _) = embed(&a, &["--compare-to".as_ref(), file.as_os_str()]);
    assert!(ok);
    let total: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert!(total["min_cosine"].as_f64().unwrap() > 0.999_999, "{total}");

    // Other texts (or another order): refused, naming the file and line.
    let swapped: String = run_a.lines().rev().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, swapped).unwrap();
    let (ok, _, err) = embed(&b, &["--compare-to".as_ref(), file.as_os_str()]);
    assert!(!ok);
    assert!(err.contains(&format!("{}: line 1: its text", file.display())), "{err}");
}
