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

/// `hbt train` options: the common test run with `--batch 8`, `--threads 1`, and `set`'s
/// options replacing or adding to them.
fn args(model: &Path, out: &Path, steps: usize, set: &[(&str, &str)]) -> Vec<String> {
    let mut a = train_args(model, out, steps);
    a.splice(0..0, ["--threads".to_string(), "1".to_string()]);
    for (k, v) in [("--batch", "8")].iter().chain(set) {
        match a.iter().position(|x| x == k) {
            Some(i) => a[i + 1] = v.to_string(),
            None => a.extend([k.to_string(), v.to_string()]),
        }
    }
    a
}

fn ok(o: &Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    err
}

#[test]
fn two_ranks_train_what_one_process_trains() {
    let tmp = tempfile::tempdir().unwrap();
    // A real pretrained encoder: a random one's embeddings are nearly parallel, so its
    // InfoNCE gradient is a difference of nearly equal terms that float noise dominates.
    let model = common::minilm();
    let steps = 3;
    for (name, extra) in [
        ("full batch", &[("--lr", "1e-4"), ("--warmup", "0")][..]),
        (
            "GradCache",
            &[("--lr", "1e-4"), ("--warmup", "0"), ("--micro-batch", "2")][..],
        ),
    ] {
        let tag = name.replace(' ', "-");
        let (one, d1) = (
            tmp.path().join(format!("one-{tag}")),
            tmp.path().join(format!("dump1-{tag}")),
        );
        // Two ranks laying their shares out as `batching` says: the run, its dump, stderr.
        let two_ranks = |batching: &str| {
            let (out, dump) = (
                tmp.path().join(format!("two-{batching}-{tag}")),
                tmp.path().join(format!("dump2-{batching}-{tag}")),
            );
            let err = ok(&mpirun(2)
                .arg(env!("CARGO_BIN_EXE_hbt"))
                .args(args(&model, &out, steps, extra))
                .args(["--batching", batching])
                .env("HBT_TEST_DUMP_DIR", &dump)
                .output()
                .unwrap());
            (out, dump, err)
        };
        // Padded batches on both sides: then step 1 is the same arithmetic, bit for bit. (In
        // packed rows or length groups each side lays out its own texts, equal only to float
        // rounding; train.rs checks both against the padded batch.)
        ok(&hbt()
            .args(args(&model, &one, steps, extra))
            .args(["--batching", "padded"])
            .env("HBT_TEST_DUMP_DIR", &d1)
            .output()
            .unwrap());
        let (two, d2, err) = two_ranks("padded");
        assert!(err.contains("world size 2"), "{err}");
        assert!(err.contains("rank 1 on "), "{err}");
        common::assert_same_training(
            &model,
            [(&one, &d1), (&two, &d2)],
            steps,
            &format!("{name}: two ranks vs one process"),
        );
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(two.join("summary.json")).unwrap()).unwrap();
        assert_eq!(s["world_size"], 2);
        assert_eq!(s["ranks"].as_array().unwrap().len(), 2);
        assert!(s["communication"]["reduced_bytes_per_step"].as_u64().unwrap() > 0);
        // Each rank packs its own share into rows (the default; under GradCache, passes of
        // rows): the same training to float rounding.
        let (packed, dp, _) = two_ranks("packed");
        common::assert_same_training(
            &model,
            [(&one, &d1), (&packed, &dp)],
            steps,
            &format!("{name}: two ranks in packed rows vs one process padded"),
        );
    }
}

/// A small retrieval set in three languages (rows of one `id`: one question each), the
/// `--eval-data` of the run below.
fn faq_eval(path: &Path) {
    let groups = [
        [
            "When does the library open?",
            "The library opens at nine in the morning on weekdays.",
        ],
        [
            "Wann öffnet die Bibliothek?",
            "Die Bibliothek öffnet werktags um neun Uhr morgens.",
        ],
        [
            "Quand la bibliothèque ouvre-t-elle ?",
            "La bibliothèque ouvre à neuf heures du matin en semaine.",
        ],
        [
            "How do I reset my password?",
            "Use the link on the sign-in page to receive a reset email.",
        ],
        [
            "Wie setze ich mein Passwort zurück?",
            "Über den Link auf der Anmeldeseite erhalten Sie eine E-Mail.",
        ],
        [
            "Comment réinitialiser mon mot de passe ?",
            "Utilisez le lien de la page de connexion.",
        ],
        [
            "Which payment methods do you accept?",
            "We accept credit cards, bank transfers and invoices.",
        ],
        [
            "Welche Zahlungsarten akzeptieren Sie?",
            "Wir akzeptieren Kreditkarten, Überweisungen und Rechnungen.",
        ],
        [
            "Quels moyens de paiement acceptez-vous ?",
            "Nous acceptons les cartes, les virements et les factures.",
        ],
    ];
    let mut out = String::new();
    for (i, [q, p]) in groups.iter().enumerate() {
        let lang = ["en", "de", "fr"][i % 3];
        out += &serde_json::json!({"id": format!("g{}", i / 3), "lang": lang, "query": q, "positive": p}).to_string();
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// Retrieval scored while training under `mpirun`: rank 0 scores, every rank takes its
/// value, so `--keep-best` and `--patience` decide alike on all ranks (a rank that decided
/// otherwise would wait forever for the others, or keep other weights); the log holds each
/// evaluation once, with the scores one process gets on the same steps.
#[test]
fn two_ranks_score_retrieval_once_as_one_process_does() {
    let tmp = tempfile::tempdir().unwrap();
    let model = common::minilm();
    let eval = tmp.path().join("faq.jsonl");
    faq_eval(&eval);
    let steps = 6;
    let run = |out: &Path, ranks: usize| {
        let mut a = args(
            &model,
            out,
            steps,
            &[("--lr", "1e-4"), ("--warmup", "0"), ("--eval-every", "1")],
        );
        a.extend(
            [
                "--batching",
                "padded",
                "--keep-best",
                "ndcg@10",
                "--patience",
                "2",
                "--eval-data",
            ]
            .map(String::from),
        );
        a.push(eval.to_str().unwrap().into());
        let o = if ranks == 1 {
            hbt().args(&a).output().unwrap()
        } else {
            mpirun(ranks).arg(env!("CARGO_BIN_EXE_hbt")).args(&a).output().unwrap()
        };
        ok(&o);
        let log: Vec<serde_json::Value> = std::fs::read_to_string(out.join("train-log.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        (log, summary)
    };
    let (one_log, one) = run(&tmp.path().join("one"), 1);
    let (two_log, two) = run(&tmp.path().join("two"), 2);
    assert_eq!(two["world_size"], 2);
    let evals = |log: &[serde_json::Value]| -> Vec<(u64, serde_json::Value)> {
        log.iter()
            .filter(|l| l.get("eval").is_some())
            .map(|l| (l["step"].as_u64().unwrap(), l["eval"].clone()))
            .collect()
    };
    let (e1, e2) = (evals(&one_log), evals(&two_log));
    assert!(!e1.is_empty(), "no evaluation in the one-process log");
    // One line per evaluated step: rank 1 wrote none of its own.
    assert_eq!(
        e1.iter().map(|e| e.0).collect::<Vec<_>>(),
        e2.iter().map(|e| e.0).collect::<Vec<_>>(),
        "evaluated steps differ"
    );
    // The weights agree to float rounding (the test above), so the scores agree: a
    // ranking flips only for passages tied to ~1e-6.
    for ((step, a), (_, b)) in e1.iter().zip(&e2) {
        for (metric, va) in a.as_object().unwrap() {
            let (va, vb) = (va.as_f64().unwrap(), b[metric].as_f64().unwrap());
            assert!(
                (va - vb).abs() <= 1e-6,
                "step {step}, {metric}: one process {va}, two ranks {vb}"
            );
        }
    }
    // Early stopping and the kept best decided alike.
    assert_eq!(one["stopped"], two["stopped"], "{one} vs {two}");
    assert_eq!(one["steps"], two["steps"]);
    let card = std::fs::read_to_string(tmp.path().join("two/model/README.md")).unwrap();
    assert!(card.contains("| ndcg@10 |"), "{card}");
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
    c.args(args(&a, &out, 2, &[("--temperature", "0.1")]));
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("other training options"), "{err}");
    // A batch the ranks cannot share evenly.
    let out = tmp.path().join("odd");
    let odd = args(&a, &out, 2, &[("--batch", "7")]);
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
    ok(&mpirun(2)
        .arg(bin)
        .args(args(&model, &straight, n, &[]))
        .output()
        .unwrap());
    let killed = tmp.path().join("killed");
    let child = mpirun(2)
        .arg(bin)
        .args(args(&model, &killed, n, &[]))
        .env("HBT_TEST_STEP_DELAY_MS", "300")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_for_checkpoint(&killed, n / 2);
    let victim = rank_pid(child.id(), 1).expect("rank 1's process");
    Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "the job went on without rank 1");
    assert!(
        err.contains("rank 1") && (err.contains("signal 9") || err.contains("Killed")),
        "mpirun did not say which rank died and how:\n{err}"
    );
    let at = common::checkpoint_step(&killed).expect("a checkpoint");
    assert!(at < n, "the run finished before it could be killed");
    // The same checkpoint, resumed by one process (the global batch unchanged), too.
    let single = tmp.path().join("single");
    copy_dir(&killed, &single);
    let mut again = args(&model, &killed, n, &[]);
    again.push("--resume".into());
    ok(&mpirun(2).arg(bin).args(&again).output().unwrap());
    let (a, b) = (
        common::weights_f32(&straight.join("model")),
        common::weights_f32(&killed.join("model")),
    );
    for ((na, wa), (nb, wb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(wa == wb, "{na} differs after the resumed run (killed at step {at})");
    }
    let log = std::fs::read_to_string(killed.join("train-log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), n, "{log}");
    let mut again = args(&model, &single, n, &[]);
    again.push("--resume".into());
    ok(&hbt().args(&again).output().unwrap());
    let c = common::weights_f32(&single.join("model"));
    for ((na, wa), (_, wc)) in a.iter().zip(&c) {
        // As in two_ranks_train_what_one_process_trains: the key bias's true gradient is
        // zero, its update is noise-signed.
        let tol = if na.ends_with("attention.self.key.bias") {
            1e-2
        } else {
            1e-4
        };
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

#[test]
fn a_study_trains_its_runs_on_ranks() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("tiny");
    tiny_bert(&model, 5, 16);
    let out = tmp.path().join("study");
    let o = hbt()
        .args(["experiment", "--init", model.to_str().unwrap(), "--train"])
        .arg(common::shared("data/mlqa-r"))
        .arg("--test")
        .arg(format!("xquad-r={}", common::shared("data/xquad-r").display()))
        .args([
            "--steps",
            "2",
            "--batch",
            "4",
            "--lr",
            "1e-3",
            "--limit",
            "6",
            "--samplers",
            "hybrid",
        ])
        .args(["--seeds", "1", "--ranks", "2", "--out", out.to_str().unwrap()])
        .env("HBT_MPIRUN_ARGS", "--oversubscribe")
        .output()
        .unwrap();
    ok(&o);
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(md.contains("trainings on 2 ranks (mpirun)"), "{md}");
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("runs/hybrid-a0.5-s1/summary.json")).unwrap()).unwrap();
    assert_eq!(s["world_size"], 2, "{s}");
    assert_eq!(s["ranks"].as_array().unwrap().len(), 2, "{s}");
    assert_eq!(s["config"]["batch_size"], 4, "the ranks trained another config: {s}");
    assert!(out.join("runs/hybrid-a0.5-s1/eval-xquad-r/report.json").is_file());
}
