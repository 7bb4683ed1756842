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
