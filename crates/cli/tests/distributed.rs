//! Data-parallel `hbt train` under `mpirun`, as a user starts it, on the CPU: two ranks
//! must train the model one process trains on the same global batch; ranks that disagree
//! are stopped; a rank that dies ends the job, and `--resume` continues it exactly.
//!
//! Needs OpenMPI's `mpirun` (`.ci/run` installs it) and a binary built with the
//! `distributed` feature (the CLI's default).

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{hbt, tiny_bert, train_args};

fn mpirun(np: usize) -> Command {
    let which = Command::new("sh").args(["-c", "command -v mpirun"]).output().unwrap();
    assert!(
        which.status.success(),
        "mpirun not found: install openmpi-bin and libopenmpi-dev (.ci/run does)"
    );
    let mut c = Command::new("mpirun");
    // As root (CI containers) OpenMPI wants its consent; on 2 cores two ranks with one
    // thread each fit, but allow more ranks than cores for machines with one.
    c.args(["--allow-run-as-root", "--oversubscribe", "-np", &np.to_string()]);
    c.env("HBT_BACKEND", "cpu");
    c
}

/// `args` with `--batch 8`, `--threads 1` and these extra options.
fn args(model: &Path, out: &Path, steps: usize, extra: &[&str]) -> Vec<String> {
    let mut a = train_args(model, out, steps);
    let i = a.iter().position(|x| x == "--batch").unwrap();
    a[i + 1] = "8".into();
    a.insert(0, "--threads".into());
    a.insert(1, "1".into());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn weights(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let b = std::fs::read(dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&b).unwrap();
    let mut v: Vec<(String, Vec<f32>)> = st.tensors().into_iter().map(|(n, t)| (n, f32s(t.data()))).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn dump(dir: &Path, step: usize) -> serde_json::Value {
    let p = dir.join(format!("step-{step}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// Max |a − b| over max |a|: a difference relative to the tensor's scale, not to each
/// element (an element near zero has no meaningful relative error).
fn rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f64, |m, x| m.max(x.abs())).max(1e-30);
    a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs())) / scale
}

#[test]
fn two_ranks_train_what_one_process_trains() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 7, 16);
    let steps = 3;
    let lr: f64 = 1e-3;
    for (name, extra) in [("full batch", &[][..]), ("GradCache", &["--micro-batch", "2"][..])] {
        let tag = name.replace(' ', "-");
        let (one, two) = (tmp.path().join(format!("one-{tag}")), tmp.path().join(format!("two-{tag}")));
        let (d1, d2) = (tmp.path().join(format!("dump1-{tag}")), tmp.path().join(format!("dump2-{tag}")));
        ok(&hbt()
            .args(args(&model, &one, steps, extra))
            .env("HBT_TEST_DUMP_DIR", &d1)
            .output()
            .unwrap());
        let err = ok(&mpirun(2)
            .arg(env!("CARGO_BIN_EXE_hbt"))
            .args(args(&model, &two, steps, extra))
            .env("HBT_TEST_DUMP_DIR", &d2)
            .output()
            .unwrap());
        assert!(err.contains("world size 2"), "{err}");
        assert!(err.contains("rank 1 on "), "{err}");
        for step in 1..=steps {
            let (a, b) = (dump(&d1, step), dump(&d2, step));
            let (la, lb) = (a["loss"].as_f64().unwrap(), b["loss"].as_f64().unwrap());
            assert!(
                (la - lb).abs() <= 1e-5 * la.abs(),
                "{name}, step {step}: loss {la} on one process, {lb} on two ranks"
            );
            for side in ["queries", "passages"] {
                let r = rel(&floats(&a[side]), &floats(&b[side]));
                assert!(
                    r <= 1e-6,
                    "{name}, step {step}: the loss's gradient w.r.t. the {side} differs by {r:e}"
                );
            }
        }
        // Float order differs (each rank pads to its own longest text, gradients are summed
        // in two parts), so the weights agree to float precision, not bitwise. AdamW's first
        // steps move a weight by about lr × sign(gradient) whatever the gradient's size, so
        // where the true gradient is zero the sign is noise and the two runs may move it in
        // opposite directions: the attention key bias adds the same q·b to every score of a
        // softmax row, its true gradient is exactly zero. It may differ by up to twice the
        // learning rates' sum; every other weight, whose gradient is far above float noise,
        // must agree to 1e-4 — 10% of one step's lr, far below what a wrong gradient (a
        // rank's rows lost, negatives from one rank only) moves it.
        let (wa, wb, w0) = (weights(&one.join("model")), weights(&two.join("model")), weights(&model));
        let lr_sum: f64 = (1..=steps).map(|s| lr * (s as f64 / 3.0).min(1.0)).sum();
        let (mut max_diff, mut max_moved) = (0f32, 0f32);
        for (((n, a), (m, b)), (_, s)) in wa.iter().zip(&wb).zip(&w0) {
            assert_eq!(n, m);
            let d = a.iter().zip(b).fold(0f32, |x, (p, q)| x.max((p - q).abs()));
            if n.ends_with("attention.self.key.bias") {
                assert!((d as f64) <= 2.0 * lr_sum + 1e-6, "{name}: {n} differs by {d}");
                continue;
            }
            max_diff = max_diff.max(d);
            max_moved = max_moved.max(a.iter().zip(s).fold(0f32, |x, (p, q)| x.max((p - q).abs())));
        }
        assert!(max_moved > 1e-3, "{name}: training did not move the weights ({max_moved})");
        assert!(
            max_diff <= 1e-4,
            "{name}: two ranks' weights differ from one process's by {max_diff}"
        );
        eprintln!("{name}: max |Δw| {max_diff:e} (weights moved up to {max_moved:e})");
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(two.join("summary.json")).unwrap()).unwrap();
        assert_eq!(s["world_size"], 2);
        assert_eq!(s["ranks"].as_array().unwrap().len(), 2);
        assert!(s["communication"]["reduced_bytes_per_step"].as_u64().unwrap() > 0);
    }
}

#[test]
fn ranks_that_disagree_are_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    tiny_bert(&a, 1, 16);
    tiny_bert(&b, 2, 16);
    let bin = env!("CARGO_BIN_EXE_hbt");
    // Two ranks started from different weights (one program per rank: MPI's MPMD form).
    let out = tmp.path().join("weights");
    let mut c = mpirun(1);
    c.arg(bin).args(args(&a, &out, 2, &[])).arg(":").args(["-np", "1", bin]);
    c.args(args(&b, &out, 2, &[]));
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("rank 1's weights differ from rank 0's"),
        "no clear error for diverging weights:\n{err}"
    );
    // Two ranks started with different options.
    let out = tmp.path().join("options");
    let mut c = mpirun(1);
    c.arg(bin).args(args(&a, &out, 2, &[])).arg(":").args(["-np", "1", bin]);
    c.args(args(&a, &out, 2, &["--temperature", "0.1"]));
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("other training options"), "{err}");
    // A batch the ranks cannot share evenly.
    let out = tmp.path().join("odd");
    let mut odd = args(&a, &out, 2, &[]);
    let i = odd.iter().position(|x| x == "--batch").unwrap();
    odd[i + 1] = "7".into();
    let o = mpirun(2).arg(bin).args(odd).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("cannot be split evenly over 2 ranks"), "{err}");
}

/// The pid of the process under `parent` (a descendant) that is MPI rank `rank`.
fn rank_pid(parent: u32, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        let mine = env.split(|&b| b == 0).any(|v| v == want.as_bytes());
        let exe = std::fs::read_link(e.path().join("exe")).unwrap_or_default();
        if mine && exe.ends_with("hbt") && descends_from(pid, parent) {
            return Some(pid);
        }
    }
    None
}

fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..16 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // The parent pid is the second field after the parenthesised command name.
        let Some(ppid) = stat.rsplit(')').next().and_then(|s| s.split_whitespace().nth(1)) else {
            return false;
        };
        pid = ppid.parse().unwrap_or(0);
        if pid == ancestor {
            return true;
        }
        if pid <= 1 {
            return false;
        }
    }
    false
}

#[test]
fn a_killed_rank_ends_the_job_and_resume_continues_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 3, 16);
    let bin = env!("CARGO_BIN_EXE_hbt");
    let n = 8;
    let straight = tmp.path().join("straight");
    ok(&mpirun(2).arg(bin).args(args(&model, &straight, n, &[])).output().unwrap());
    let killed = tmp.path().join("killed");
    let child = mpirun(2)
        .arg(bin)
        .args(args(&model, &killed, n, &[]))
        .env("HBT_TEST_STEP_DELAY_MS", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let latest = killed.join("checkpoints/latest");
    let t0 = std::time::Instant::now();
    loop {
        if let Ok(s) = std::fs::read_to_string(&latest)
            && s.trim().trim_start_matches("step-").parse::<usize>().unwrap_or(0) >= n / 2
        {
            break;
        }
        assert!(t0.elapsed().as_secs() < 300, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let victim = rank_pid(child.id(), 1).expect("rank 1's process");
    Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "the job went on without rank 1");
    assert!(
        err.contains("rank 1") && (err.contains("signal 9") || err.contains("Killed")),
        "mpirun did not say which rank died and how:\n{err}"
    );
    let at: usize = std::fs::read_to_string(&latest)
        .unwrap()
        .trim()
        .trim_start_matches("step-")
        .parse()
        .unwrap();
    assert!(at < n, "the run finished before it could be killed");
    // The same checkpoint, resumed by one process (the global batch unchanged), too.
    let single = tmp.path().join("single");
    copy_dir(&killed, &single);
    let mut again = args(&model, &killed, n, &[]);
    again.push("--resume".into());
    ok(&mpirun(2).arg(bin).args(&again).output().unwrap());
    let (a, b) = (weights(&straight.join("model")), weights(&killed.join("model")));
    for ((na, wa), (nb, wb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(wa == wb, "{na} differs after the resumed run (killed at step {at})");
    }
    let log = std::fs::read_to_string(killed.join("train-log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), n, "{log}");
    let mut again = args(&model, &single, n, &[]);
    again.push("--resume".into());
    ok(&hbt().args(&again).output().unwrap());
    let c = weights(&single.join("model"));
    for ((na, wa), (_, wc)) in a.iter().zip(&c) {
        // As in two_ranks_train_what_one_process_trains: the key bias's true gradient is
        // zero, its update is noise-signed.
        let tol = if na.ends_with("attention.self.key.bias") { 1e-2 } else { 1e-4 };
        let d = wa.iter().zip(wc).fold(0f32, |x, (p, q)| x.max((p - q).abs()));
        assert!(d <= tol, "{na}: resumed by one process, differs by {d}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}
