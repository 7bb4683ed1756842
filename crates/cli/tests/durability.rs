//! Runs that survive what users do to them: a damaged checkpoint (resume falls back to the
//! one before and still ends at the straight run's weights), a second writer on the same
//! `--out` (refused while the first lives, taken over once it is killed), a full disk
//! (refused before anything is written), and the disk a finished run leaves behind.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};

use common::{hbt, tiny_bert, train_args};

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

fn failed(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn args(model: &Path, out: &Path, steps: usize, extra: &[&str]) -> Vec<String> {
    let mut a = train_args(model, out, steps);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn model_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("model/model.safetensors")).unwrap()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

fn flip_byte(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    let i = b.len() / 2;
    b[i] ^= 0x55;
    std::fs::write(path, b).unwrap();
}

#[test]
fn a_damaged_checkpoint_falls_back_to_the_previous_one() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 2, 16);
    let straight = tmp.path().join("straight");
    ok(&hbt().args(args(&model, &straight, 4, &[])).output().unwrap());

    // The same 4 steps, keeping the last two checkpoints (step 3 and step 4).
    let run = tmp.path().join("run");
    ok(&hbt()
        .args(args(&model, &run, 4, &["--keep-last", "2", "--keep-checkpoints"]))
        .output()
        .unwrap());
    let ckpts = run.join("checkpoints");
    assert_eq!(
        std::fs::read_to_string(ckpts.join("latest")).unwrap().trim(),
        "step-0000004"
    );
    assert!(ckpts.join("step-0000003").is_dir() && !ckpts.join("step-0000002").exists());
    // The newest one rots: same size, one byte changed.
    flip_byte(&ckpts.join("step-0000004/optimizer.bpk"));
    let err = ok(&hbt()
        .args(args(&model, &run, 4, &["--keep-last", "2", "--resume"]))
        .output()
        .unwrap());
    assert!(
        err.contains("step-0000004 is damaged (optimizer.bpk fails its checksum"),
        "{err}"
    );
    assert!(summary(&run)["warnings"][0].as_str().unwrap().contains("falling back"));
    // Step 4 was replayed from step 3: the weights are the straight run's, bit for bit.
    assert!(
        model_bytes(&run) == model_bytes(&straight),
        "weights differ after the fallback"
    );

    // When every checkpoint is damaged the error says so (and names them).
    let run2 = tmp.path().join("run2");
    ok(&hbt()
        .args(args(&model, &run2, 3, &["--keep-checkpoints"]))
        .output()
        .unwrap());
    let w = run2.join("checkpoints/step-0000003/model.safetensors");
    let len = std::fs::metadata(&w).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&w)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let err = failed(&hbt().args(args(&model, &run2, 5, &["--resume"])).output().unwrap());
    assert!(
        err.contains("every checkpoint is damaged") && err.contains("model.safetensors has"),
        "{err}"
    );
}

#[test]
fn a_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 3, 16);
    let out = tmp.path().join("run");
    let mut first = hbt()
        .args(args(&model, &out, 40, &[]))
        .env("HBT_TEST_STEP_DELAY_MS", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let latest = out.join("checkpoints/latest");
    let t0 = std::time::Instant::now();
    while !latest.exists() {
        assert!(t0.elapsed().as_secs() < 300, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let err = failed(&hbt().args(args(&model, &out, 40, &["--resume"])).output().unwrap());
    assert!(
        err.contains("being written by another hbt process") && err.contains(&format!("pid {}", first.id())),
        "{err}"
    );
    // Also a fresh run (no --resume) on the busy directory.
    let err = failed(&hbt().args(args(&model, &out, 40, &[])).output().unwrap());
    assert!(err.contains("another hbt process"), "{err}");
    first.kill().unwrap(); // SIGKILL: the lock file stays behind, the lock does not
    first.wait().unwrap();
    assert!(out.join(".hbt.lock").exists());
    ok(&hbt().args(args(&model, &out, 5, &["--resume"])).output().unwrap());
}

#[test]
fn a_full_disk_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 4, 16);
    let out = tmp.path().join("run");
    ok(&hbt()
        .args(args(&model, &out, 2, &["--keep-checkpoints"]))
        .output()
        .unwrap());
    let latest = std::fs::read_to_string(out.join("checkpoints/latest")).unwrap();
    let err = failed(
        &hbt()
            .args(args(&model, &out, 4, &["--resume", "--keep-checkpoints"]))
            .env("HBT_TEST_FREE_BYTES", "1000")
            .output()
            .unwrap(),
    );
    assert!(
        err.contains("not enough free disk space") && err.contains("`latest` is unchanged"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(out.join("checkpoints/latest")).unwrap(), latest);
    // With room again the run goes on from where it was.
    ok(&hbt()
        .args(args(&model, &out, 4, &["--resume", "--keep-checkpoints"]))
        .output()
        .unwrap());
    assert_eq!(summary(&out)["steps"], 4);
}

#[test]
fn a_finished_run_keeps_its_model_and_not_its_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 5, 16);
    let out = tmp.path().join("run");
    ok(&hbt().args(args(&model, &out, 3, &[])).output().unwrap());
    assert!(!out.join("checkpoints").exists() && !out.join("best").exists());
    assert!(out.join("model/model.safetensors").is_file());
    let s = summary(&out);
    let on_disk = s["bytes_on_disk"].as_u64().unwrap();
    let written = s["bytes_written"].as_u64().unwrap();
    // Three checkpoints and the model were written; the model (and small files) remain.
    let model_len = std::fs::metadata(out.join("model/model.safetensors")).unwrap().len();
    assert!(written > 3 * model_len, "{written} bytes written, model {model_len}");
    assert!(
        on_disk >= model_len && on_disk < 2 * model_len + (1 << 20),
        "{on_disk} on disk"
    );
    // The same --out again would overwrite a finished run: refused.
    let err = failed(&hbt().args(args(&model, &out, 3, &[])).output().unwrap());
    assert!(err.contains("already holds a finished training run"), "{err}");
    let err = failed(&hbt().args(args(&model, &out, 5, &["--resume"])).output().unwrap());
    assert!(err.contains("--keep-checkpoints"), "{err}");
}
