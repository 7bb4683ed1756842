//! The model card a trained folder carries: Hugging Face's `README.md` (YAML front matter the
//! Hub reads, then what was trained on what, how, and how it scored), so that the folder is
//! a model others can load in sentence-transformers and judge.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::config::TrainConfig;

/// What the card says beyond the training options.
#[derive(Debug, Clone, Default)]
pub struct CardInfo {
    /// The initial model as given (a directory or hf:ORG/NAME).
    pub base_model: String,
    /// The training data sets: (name, path, format, rows).
    pub datasets: Vec<(String, String, String, usize)>,
    /// Languages of the training pairs, sorted.
    pub languages: Vec<String>,
    pub steps: usize,
    pub seconds: f64,
    /// The retrieval scores of the kept weights (`--eval-data`), by metric.
    pub eval: Option<(String, BTreeMap<String, f64>)>,
    pub best_val_loss: Option<f64>,
    pub device: Option<String>,
    pub query_prefix: String,
    pub passage_prefix: String,
}

/// A YAML string: quoted where YAML would read it otherwise.
fn yaml(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The base model's name as the Hub knows it, where the path says it.
fn hub_name(base: &str) -> String {
    if let Some(n) = base.strip_prefix("hf:") {
        return n.to_string();
    }
    let name = std::path::Path::new(base)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "multilingual-e5-small" | "multilingual-e5-base" | "multilingual-e5-large" => format!("intfloat/{name}"),
        "all-MiniLM-L6-v2" | "paraphrase-multilingual-MiniLM-L12-v2" | "LaBSE" => {
            format!("sentence-transformers/{name}")
        }
        _ => name,
    }
}

pub fn model_card(cfg: &TrainConfig, info: &CardInfo) -> String {
    let mut s = String::new();
    let base = hub_name(&info.base_model);
    s.push_str("---\nlibrary_name: sentence-transformers\npipeline_tag: sentence-similarity\n");
    let _ = writeln!(s, "base_model: {}", yaml(&base));
    s.push_str("language:\n");
    for l in &info.languages {
        let _ = writeln!(s, "- {l}");
    }
    s.push_str("tags:\n- sentence-transformers\n- sentence-similarity\n- feature-extraction\n- hbt\n- hybrid-batches\n- multilingual-retrieval\n");
    s.push_str("datasets:\n");
    for (name, ..) in &info.datasets {
        let _ = writeln!(s, "- {}", yaml(name));
    }
    s.push_str("---\n\n");
    let _ = writeln!(s, "# {base}, fine-tuned with hybrid batches\n");
    let _ = writeln!(
        s,
        "A multilingual sentence encoder for retrieval, fine-tuned from `{base}` by [hbt](https://github.com/hbt-project/hbt) \
         with a contrastive (InfoNCE) loss on {} language{}: {}.\n",
        info.languages.len(),
        if info.languages.len() == 1 { "" } else { "s" },
        info.languages.join(", ")
    );
    s.push_str("## Use\n\n```python\nfrom sentence_transformers import SentenceTransformer\n\nmodel = SentenceTransformer(\"path/to/this/folder\")\n");
    let _ = writeln!(
        s,
        "q = model.encode([{}], normalize_embeddings=True)\np = model.encode([{}], normalize_embeddings=True)\nprint(q @ p.T)\n```\n",
        yaml(&format!("{}How many people live in Berlin?", info.query_prefix)),
        yaml(&format!(
            "{}Berlin has about 3.7 million inhabitants.",
            info.passage_prefix
        )),
    );
    if !info.query_prefix.is_empty() || !info.passage_prefix.is_empty() {
        let _ = writeln!(
            s,
            "Queries take the prefix {} and passages {} (also in `config_sentence_transformers.json` as prompts); `hbt embed --query/--passage` adds them.\n",
            yaml(&info.query_prefix),
            yaml(&info.passage_prefix)
        );
    }
    s.push_str("## Training data\n\n| data set | format | rows |\n|---|---|---:|\n");
    for (name, path, format, rows) in &info.datasets {
        let _ = writeln!(s, "| {name} (`{path}`) | {format} | {rows} |");
    }
    s.push_str("\n## Training\n\n| setting | value |\n|---|---|\n");
    let sampler = match cfg.sampler {
        hbt_data::SamplerName::Hybrid => format!(
            "hybrid (α = {}: X-X-mono batches with probability α, else X-Y)",
            cfg.alpha
        ),
        o => o.to_string(),
    };
    let rows: Vec<(&str, String)> = vec![
        ("sampler", sampler),
        ("steps", info.steps.to_string()),
        ("batch", cfg.batch_size.to_string()),
        (
            "learning rate",
            format!(
                "{} (linear warm-up {} steps, then linear decay)",
                cfg.lr, cfg.warmup_steps
            ),
        ),
        ("weight decay", cfg.weight_decay.to_string()),
        ("temperature", cfg.temperature.to_string()),
        ("symmetric loss", cfg.symmetric.to_string()),
        ("hard negatives", cfg.hard_negatives.to_string()),
        ("precision", cfg.precision.to_string()),
        (
            "max query / passage tokens",
            format!("{} / {}", cfg.max_query_len, cfg.max_passage_len),
        ),
        ("seed", cfg.seed.to_string()),
        ("device", info.device.clone().unwrap_or_else(|| "-".into())),
        ("time", format!("{:.0} s", info.seconds)),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    s.push_str("\n## Evaluation\n\n");
    match &info.eval {
        Some((data, m)) => {
            let _ = writeln!(s, "Retrieval on `{data}` with the kept weights:\n\n| metric | value |\n|---|---:|");
            for (k, v) in m {
                let _ = writeln!(s, "| {k} | {v:.4} |");
            }
        }
        None => s.push_str("No retrieval evaluation ran during training (`hbt train --eval-data`); `hbt eval` scores the folder on XQuAD-R, MLQA-R or a BEIR set.\n"),
    }
    if let Some(v) = info.best_val_loss {
        let _ = writeln!(s, "\nBest validation loss (held-out pairs): {v:.4}.");
    }
    s
}
