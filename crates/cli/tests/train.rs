//! `hbt train` end to end with a tiny BERT (MiniLM's real WordPiece tokenizer, random
//! 16-wide weights) on MLQA-R: exact resume after kill -9, HF-named output, bad inputs.

mod common;

use std::process::Stdio;

use common::{hbt, tiny_bert, train_args};

/// Little-endian f32 tensor bytes as values.
fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn resume_after_kill_9_gives_the_same_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 1, 16);
    let n = 16;
    // Straight through.
    let straight = tmp.path().join("straight");
    let st = hbt().args(train_args(&model, &straight, n)).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    // Killed with SIGKILL once at least n/2 steps are checkpointed, then resumed.
    let killed = tmp.path().join("killed");
    let mut child = hbt()
        .args(train_args(&model, &killed, n))
        .env("HBT_TEST_STEP_DELAY_MS", "150")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_for_checkpoint(&killed, n / 2);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at = common::checkpoint_step(&killed).expect("a checkpoint");
    assert!(at < n, "the run finished before it could be killed");
    let mut args = train_args(&model, &killed, n);
    args.push("--resume".into());
    let r = hbt().args(args).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // Bitwise equal weights.
    let a = common::weight_bytes(&straight.join("model"));
    let b = common::weight_bytes(&killed.join("model"));
    assert_eq!(a.len(), b.len());
    for ((na, wa), (nb, wb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(wa == wb, "{na} differs after resume (killed at step {at})");
    }
    // The log reads as one run: one line per step, replayed steps not duplicated.
    let log = std::fs::read_to_string(killed.join("train-log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), n, "{log}");
}

#[test]
fn trained_model_has_hf_names_and_embeds() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 2, 16);
    let out = tmp.path().join("run");
    let mut args = train_args(&model, &out, 4);
    let k = args.iter().position(|a| a == "--eval-every").unwrap();
    args[k + 1] = "2".into();
    args.extend(["--val-batches".into(), "2".into()]);
    let st = hbt().args(args).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let w = common::weight_bytes(&out.join("model"));
    assert!(
        w.iter()
            .any(|(n, _)| n == "encoder.layer.1.attention.self.query.weight")
    );
    assert!(w.iter().all(|(n, _)| !n.starts_with("bert.")));
    for f in [
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
        "1_Pooling/config.json",
    ] {
        assert!(out.join("model").join(f).is_file(), "{f}");
    }
    let log = std::fs::read_to_string(out.join("train-log.jsonl")).unwrap();
    assert!(log.contains("val_loss"));
    let e = hbt()
        .args([
            "embed",
            "--model",
            out.join("model").to_str().unwrap(),
            "--query",
            "wie viele",
        ])
        .output()
        .unwrap();
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let v: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert_eq!(v["embedding"].as_array().unwrap().len(), 16);
}

#[test]
fn bad_training_inputs_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 3, 16);
    let run = |extra: &[&str], out: &str| -> String {
        let mut args = train_args(&model, &tmp.path().join(out), 2);
        for kv in extra.chunks(2) {
            match args.iter().position(|a| a == kv[0]) {
                Some(k) => args[k + 1] = kv[1].to_string(),
                None => args.extend(kv.iter().map(|s| s.to_string())),
            }
        }
        let o = hbt().args(args).output().unwrap();
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(&["--alpha", "1.5"], "a");
    assert!(e.contains("alpha must lie in [0, 1]"), "{e}");
    let e = run(&["--batch", "100000"], "b");
    assert!(e.contains("larger than the number of distinct questions"), "{e}");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = hbt()
        .args([
            "train",
            "--model",
            model.to_str().unwrap(),
            "--train",
            empty.to_str().unwrap(),
            "--out",
            tmp.path().join("c").to_str().unwrap(),
            "--backend",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("empty") && e.contains("hbt data fetch"), "{e}");
    let e = run(&["--train-langs", "fr"], "d");
    assert!(e.contains("`fr` is in none of the training corpora"), "{e}");
    // A checkpoint from another model: train the 16-wide model, resume with a 32-wide one.
    let out = tmp.path().join("e");
    let mut args = train_args(&model, &out, 2);
    args.push("--keep-checkpoints".into());
    let o = hbt().args(args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let other = tmp.path().join("other");
    tiny_bert(&other, 4, 32);
    let mut args = train_args(&other, &out, 4);
    args.push("--resume".into());
    let o = hbt().args(args).output().unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("another model"), "{e}");
}

/// Gradient caching is exact: three steps with micro-batches of 2 end at the weights of
/// three full-batch steps (to float rounding: the sums are taken in another order;
/// measured: at most 6e-8 apart, while training moved weights by ~3e-3).
#[test]
fn gradient_caching_matches_the_full_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 4, 16);
    let run = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let o = hbt().args(train_args(&model, &out, 3)).args(extra).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        common::weight_bytes(&out.join("model"))
    };
    let full = run("full", &[]);
    let cached = run("cached", &["--micro-batch", "2"]);
    let start = common::weight_bytes(&model);
    let (mut max_diff, mut max_moved) = (0f32, 0f32);
    for ((n, a), (m, b)) in full.iter().zip(&cached) {
        assert_eq!(n, m);
        // The key bias adds the same q·b to every score of a softmax row, so its true
        // gradient is zero; Adam divides float noise by its own size there, so both runs
        // move it by ±lr in directions that noise decides. Every other weight must agree.
        if n.ends_with("attention.self.key.bias") {
            continue;
        }
        for (x, y) in f32s(a).iter().zip(f32s(b)) {
            max_diff = max_diff.max((x - y).abs());
        }
        if let Some((_, s)) = start.iter().find(|(k, _)| k == n) {
            for (x, y) in f32s(a).iter().zip(f32s(s)) {
                max_moved = max_moved.max((x - y).abs());
            }
        }
    }
    // Training moved the weights by far more than the two runs differ.
    assert!(max_moved > 1e-3, "training did not move the weights ({max_moved})");
    assert!(
        max_diff < 1e-5,
        "micro-batched training differs from the full batch by {max_diff}"
    );
}

/// With no `--backend`, hbt picks wgpu only for a real GPU, says which device runs and
/// why on stderr, and records it in summary.json. On a machine whose only wgpu adapter is a
/// software rasteriser (lavapipe here and in CI) that is the CPU.
#[test]
fn default_backend_is_honest_and_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    tiny_bert(&model, 2, 16);
    let out = tmp.path().join("run");
    let mut args = train_args(&model, &out, 1);
    let at = args.iter().position(|a| a == "--backend").unwrap();
    args.drain(at..at + 2);
    let o = hbt().args(&args).env_remove("HBT_BACKEND").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        !err.contains("XDG_RUNTIME_DIR"),
        "GPU-stack noise reached the user: {err}"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("hbt: device:"))
        .unwrap_or_else(|| panic!("no device line: {err}"));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let device = &summary["device"];
    let real_gpu = hbt_device::device_info::wgpu_adapters().iter().any(|a| a.is_gpu);
    let want = if real_gpu { "wgpu" } else { "cpu" };
    assert_eq!(device["backend"], want, "{line}\n{device}");
    assert!(!device["reason"].as_str().unwrap_or("").is_empty(), "{device}");
    if !real_gpu {
        assert!(line.contains("CPU") && line.contains("no GPU"), "{line}");
        assert!(device["threads"].as_u64().unwrap_or(0) >= 1, "{device}");
    }
}

/// `--precision bf16` (autocast: f32 weights and optimizer, bf16 products) trains the same
/// model as f32: the weights it writes are f32, they move, and they move the way the f32
/// run's do (mean difference far below the mean step).
#[test]
fn bf16_autocast_training_follows_f32() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 4, 16);
    let run = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let o = hbt().args(train_args(&model, &out, 3)).args(extra).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let b = std::fs::read(out.join("model/model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&b).unwrap();
        assert!(st.tensors().iter().all(|(_, t)| t.dtype() == safetensors::Dtype::F32));
        common::weight_bytes(&out.join("model"))
    };
    let f32_run = run("f32", &[]);
    let bf16_run = run("bf16", &["--precision", "bf16"]);
    let start = common::weight_bytes(&model);
    let (mut diff, mut moved, mut n) = (0f64, 0f64, 0usize);
    for ((name, a), (other, b)) in f32_run.iter().zip(&bf16_run) {
        assert_eq!(name, other);
        // The transformer layers (the word table's untouched rows would dilute the means).
        if !name.contains("encoder.layer") {
            continue;
        }
        let Some((_, s)) = start.iter().find(|(k, _)| k == name) else {
            continue;
        };
        for ((x, y), z) in f32s(a).iter().zip(f32s(b)).zip(f32s(s)) {
            diff += (x - y).abs() as f64;
            moved += (x - z).abs() as f64;
            n += 1;
        }
    }
    let (diff, moved) = (diff / n as f64, moved / n as f64);
    assert!(moved > 1e-4, "training did not move the weights ({moved})");
    assert!(
        diff < 0.25 * moved,
        "bf16 training strays from f32: mean difference {diff} vs mean step {moved}"
    );
}

/// Packed rows and length groups skip padding without changing the step: a batch embedded
/// several texts a row, or in groups of similar length, trains what the padded batch trains
/// — the same losses, gradients with respect to the embeddings and weights, to float
/// rounding (common::assert_same_training) — with and without gradient caching, and
/// computes fewer token slots (measured on these batches of 16 MLQA-R pairs over three
/// steps: packed 3,456, groups 4,592, padded 6,784; under GradCache at micro-batches of 3:
/// packed 6,912 — both passes hold the whole side's rows — against 7,824 for the others).
#[test]
fn packed_rows_and_length_groups_train_what_the_padded_batch_trains() {
    let tmp = tempfile::tempdir().unwrap();
    // A real pretrained encoder, as in distributed.rs: a random one's InfoNCE gradient is
    // float noise.
    let model = common::minilm();
    let steps = 3;
    for (name, extra) in [("full batch", &[][..]), ("GradCache", &["--micro-batch", "3"][..])] {
        let tag = name.replace(' ', "-");
        let run = |kind: &str, flag: &[&str]| {
            let out = tmp.path().join(format!("{kind}-{tag}"));
            let dump = tmp.path().join(format!("dump-{kind}-{tag}"));
            let mut args = train_args(&model, &out, steps);
            // Passages up to 128 tokens, so that a batch has groups worth a pass of their
            // own (a pass is priced at 256 token slots on the CPU).
            for (k, v) in [
                ("--lr", "1e-4"),
                ("--warmup", "0"),
                ("--batch", "16"),
                ("--max-passage-len", "128"),
            ] {
                let i = args.iter().position(|a| a == k).unwrap();
                args[i + 1] = v.to_string();
            }
            let o = hbt()
                .args(&args)
                .args(extra)
                .args(flag)
                .env("HBT_TEST_DUMP_DIR", &dump)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let log = std::fs::read_to_string(out.join("train-log.jsonl")).unwrap();
            let slots: Vec<(u64, u64)> = log
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .filter(|v| v["token_slots"].is_object())
                .map(|v| {
                    let s = &v["token_slots"];
                    (s["computed"].as_u64().unwrap(), s["padded"].as_u64().unwrap())
                })
                .collect();
            (out, dump, slots)
        };
        let (padded, dp, slots_p) = run("padded", &["--batching", "padded"]);
        assert_eq!(slots_p.len(), steps, "{name}: a token count per step");
        assert!(slots_p.iter().all(|(c, p)| c == p), "{name}: {slots_p:?}");
        let p: u64 = slots_p.iter().map(|s| s.1).sum();
        for (kind, what) in [("groups", "length groups"), ("packed", "packed rows")] {
            let (out, dump, slots) = run(kind, &["--batching", kind]);
            assert_eq!(slots.len(), steps, "{name}: a token count per step");
            let c: u64 = slots.iter().map(|s| s.0).sum();
            // GradCache's micro-batches of length groups are cut from the length-sorted batch
            // already, so their texts rarely pay for another group; packed micro-batches are
            // rows of the side's packing, and the whole batch always has padding to skip.
            let fewer = if extra.is_empty() || kind == "packed" {
                c < p
            } else {
                c <= p
            };
            assert!(fewer, "{name}: {what} computed {c} token slots, the padded batch {p}");
            eprintln!("{name}: {c} token slots computed in {what}, {p} padded");
            common::assert_same_training(
                &model,
                [(&padded, &dp), (&out, &dump)],
                steps,
                &format!("{name}: {what} vs padded"),
            );
        }
    }
}
