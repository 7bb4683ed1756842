//! Helpers shared by the CLI tests: the binary, shared data, a tiny random BERT.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn hbt() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hbt"));
    c.env("HBT_BACKEND", "cpu");
    c
}

pub fn shared(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared").join(p)
}

pub fn minilm() -> PathBuf {
    let d = std::env::var_os("HBT_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/hbt-fixtures/all-MiniLM-L6-v2"));
    assert!(
        d.join("tokenizer.json").is_file(),
        "MiniLM fixture missing at {} (see .ci/run)",
        d.display()
    );
    d
}

/// A tiny random BERT: hidden 16, 2 layers, MiniLM's 30522-token vocabulary.
pub fn tiny_bert(dir: &Path, seed: u64, hidden: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let vocab = 30522;
    let (h, i, layers, max_pos) = (hidden, 32, 2, 64);
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = |n: usize, scale: f32, off: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale + off
            })
            .collect()
    };
    let mut t: Vec<(String, Vec<usize>, Vec<f32>)> = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![vocab, h],
            rnd(vocab * h, 0.5, 0.0),
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![max_pos, h],
            rnd(max_pos * h, 0.5, 0.0),
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![2, h],
            rnd(2 * h, 0.1, 0.0),
        ),
        ("embeddings.LayerNorm.weight".into(), vec![h], rnd(h, 0.05, 1.0)),
        ("embeddings.LayerNorm.bias".into(), vec![h], rnd(h, 0.05, 0.0)),
    ];
    for l in 0..layers {
        for (n, o, inn) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            t.push((
                format!("encoder.layer.{l}.{n}.weight"),
                vec![o, inn],
                rnd(o * inn, 0.3, 0.0),
            ));
            t.push((format!("encoder.layer.{l}.{n}.bias"), vec![o], rnd(o, 0.05, 0.0)));
        }
        for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
            t.push((format!("encoder.layer.{l}.{n}.weight"), vec![h], rnd(h, 0.05, 1.0)));
            t.push((format!("encoder.layer.{l}.{n}.bias"), vec![h], rnd(h, 0.05, 0.0)));
        }
    }
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = t
        .into_iter()
        .map(|(n, s, v)| (n, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views: Vec<_> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(
        dir.join("model.safetensors"),
        safetensors::serialize(views, None).unwrap(),
    )
    .unwrap();
    let cfg = serde_json::json!({"model_type": "bert", "vocab_size": vocab, "hidden_size": h, "num_hidden_layers": layers,
        "num_attention_heads": 4, "intermediate_size": i, "hidden_act": "gelu", "max_position_embeddings": max_pos,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "pad_token_id": 0});
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    std::fs::copy(minilm().join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    std::fs::copy(
        minilm().join("tokenizer_config.json"),
        dir.join("tokenizer_config.json"),
    )
    .unwrap();
}

/// `hbt train` on MLQA-R with a tiny model: batch 6, a checkpoint every step, CPU.
pub fn train_args(model: &Path, out: &Path, steps: usize) -> Vec<String> {
    [
        "train",
        "--model",
        model.to_str().unwrap(),
        "--train",
        shared("data/mlqa-r").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sampler",
        "hybrid",
        "--batch",
        "6",
        "--steps",
        &steps.to_string(),
        "--warmup",
        "3",
        "--lr",
        "1e-3",
        "--seed",
        "5",
        "--checkpoint-every",
        "1",
        "--eval-every",
        "0",
        "--max-query-len",
        "24",
        "--max-passage-len",
        "32",
        "--backend",
        "cpu",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The step of a run's newest checkpoint (`checkpoints/latest`), if it has one.
pub fn checkpoint_step(run: &Path) -> Option<usize> {
    std::fs::read_to_string(run.join("checkpoints/latest"))
        .ok()?
        .trim()
        .trim_start_matches("step-")
        .parse()
        .ok()
}

/// Waits (up to 5 minutes) until a running training has checkpointed step `at_least`.
pub fn wait_for_checkpoint(run: &Path, at_least: usize) {
    let t0 = std::time::Instant::now();
    while checkpoint_step(run).is_none_or(|s| s < at_least) {
        assert!(t0.elapsed().as_secs() < 300, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

pub fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

pub fn weights_f32(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let b = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&b).unwrap();
    let mut v: Vec<(String, Vec<f32>)> = st.tensors().into_iter().map(|(n, t)| (n, f32s(t.data()))).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

pub fn dump(dir: &Path, step: usize) -> serde_json::Value {
    let p = dir.join(format!("step-{step}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// ‖a − b‖₂ / ‖a‖₂: the usual relative error of a gradient (an element near zero has no
/// meaningful relative error of its own).
pub fn rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let n: f64 = a.iter().map(|x| x * x).sum();
    (d / n.max(1e-300)).sqrt()
}

/// Two trainings that must be the same computation to float rounding (each dumped with
/// `HBT_TEST_DUMP_DIR`): per step the losses agree to 1e-5; the loss's gradients with respect
/// to the embeddings agree to 1e-6 at step 1 (same weights: the step's arithmetic alone) and
/// to 1e-5 after; the final weights agree to 1e-4 and to a tenth of how far training moved
/// them. `runs`: (run directory, dump directory) of each.
pub fn assert_same_training(model: &Path, runs: [(&Path, &Path); 2], steps: usize, name: &str) {
    let [(one, d1), (two, d2)] = runs;
    for step in 1..=steps {
        let (a, b) = (dump(d1, step), dump(d2, step));
        let (la, lb) = (a["loss"].as_f64().unwrap(), b["loss"].as_f64().unwrap());
        assert!(
            (la - lb).abs() <= 1e-5 * la.abs(),
            "{name}, step {step}: loss {la} vs {lb}"
        );
        // Step 1 starts both runs from the same weights: it checks the step's math
        // alone. From step 2 on the weights differ in their last bits (the gradient
        // is summed in another order; the attention key bias, whose true gradient is
        // zero, takes noise-signed AdamW steps, which moves every attention score's
        // rounding by an ulp whatever the learning rate): measured ~1e-6 at lr 1e-4
        // and 1e-3 alike, and 0 at lr 1e-12. Those steps get ten times the room.
        let tol = if step == 1 { 1e-6 } else { 1e-5 };
        for side in ["queries", "passages"] {
            let r = rel(&floats(&a[side]), &floats(&b[side]));
            eprintln!(
                "{name}, step {step}: {side} gradient relative difference {r:e}, loss {:e}",
                (la - lb).abs() / la.abs()
            );
            assert!(
                r <= tol,
                "{name}, step {step}: the loss's gradient w.r.t. the {side} differs by {r:e}"
            );
        }
    }
    // Float order differs (each rank pads to its own longest text, the gradient is
    // summed in two halves), so weights agree to float precision, not bitwise. AdamW's
    // update lr·m̂/(√v̂+ε) is about lr·sign(g) for any |g| ≫ ε = 1e-8 whatever g's size,
    // so a relative gradient error δ moves a weight by ~lr·δ — except where |g| is near
    // ε or at float noise (a true gradient of zero), where the two runs may step apart
    // by up to 2·lr a step. The attention key bias is such a weight (it adds the same
    // q·b to every score of a softmax row: its true gradient is exactly zero): it may
    // differ by 2·Σlr. Every other weight must agree to 1e-4 — a third of Σlr, so a
    // wrong gradient (a rank's rows lost, negatives from one rank only), which moves
    // weights by about Σlr in other directions, cannot pass — and to a tenth of
    // how far training moved it.
    let (wa, wb) = (weights_f32(&one.join("model")), weights_f32(&two.join("model")));
    let w0 = weights_f32(model);
    // The learning rates the steps used (linear decay), from the run's own log.
    let lr_sum: f64 = std::fs::read_to_string(one.join("train-log.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["lr"].as_f64())
        .sum();
    let (mut max_diff, mut max_moved) = (0f32, 0f32);
    for ((n, a), (m, b)) in wa.iter().zip(&wb) {
        assert_eq!(n, m);
        let d = a.iter().zip(b).fold(0f32, |x, (p, q)| x.max((p - q).abs()));
        if n.ends_with("attention.self.key.bias") {
            assert!((d as f64) <= 2.0 * lr_sum + 1e-6, "{name}: {n} differs by {d}");
            continue;
        }
        max_diff = max_diff.max(d);
        // The start's tensor of the same name (the fixture's files may name and order
        // them differently from hbt's).
        let start = w0
            .iter()
            .find(|(k, _)| k == n || k.ends_with(&format!(".{n}")) || n.ends_with(&format!(".{k}")));
        if let Some((_, s)) = start {
            max_moved = max_moved.max(a.iter().zip(s).fold(0f32, |x, (p, q)| x.max((p - q).abs())));
        }
    }
    assert!(
        max_moved as f64 > 0.5 * lr_sum,
        "{name}: training did not move the weights ({max_moved})"
    );
    assert!(
        max_diff <= 1e-4 && max_diff <= max_moved / 10.0,
        "{name}: weights differ by {max_diff} (moved {max_moved})"
    );
    eprintln!("{name}: max |Δw| {max_diff:e} (weights moved up to {max_moved:e})");
}

/// Every tensor of a saved model as (name, raw bytes), sorted by name: bitwise comparisons.
pub fn weight_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let b = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&b).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = st.tensors().into_iter().map(|(n, t)| (n, t.data().to_vec())).collect();
    v.sort();
    v
}

/// The multilingual-e5-small fixture (`../shared/tools/make-e5-small.py`, made by .ci/run).
pub fn e5() -> PathBuf {
    let d = std::env::var_os("HBT_E5_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/hbt-fixtures/multilingual-e5-small")
    });
    assert!(
        d.join("model.safetensors").is_file(),
        "e5 fixture missing at {} (see .ci/run)",
        d.display()
    );
    d
}
