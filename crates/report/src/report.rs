//! The evaluation report: every figure, the settings that produced them, and renderings
//! as a terminal table, JSON and Markdown.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{ReportError, Result};

/// 2: tasks and multi pools keep per-query ranks (`per_query`, `question_ids`), so paired
/// tests can be run on saved reports. Version-1 reports still load (without them).
pub const REPORT_VERSION: u32 = 2;

/// Per-query results of a mono or cross task: the answer's rank (1-based) for each query,
/// and the query's index in [`Report::question_ids`]. Every per-query metric (AP = 1/rank,
/// R@k, RR@k) follows from the rank, so this is exact and small.
/// Stored as space-separated numbers in one string (a pretty-printed JSON array would put
/// every number on a line of its own: ~3× the bytes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskQueries {
    #[serde(with = "packed")]
    pub qids: Vec<u32>,
    #[serde(with = "packed")]
    pub ranks: Vec<u32>,
}

/// Per-query results of a multilingual pool: the ranks of all relevant candidates
/// (stored as `"r,r,r r,r,r …"`, one comma-separated group per query).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PoolQueries {
    #[serde(with = "packed")]
    pub qids: Vec<u32>,
    #[serde(with = "packed_groups")]
    pub ranks: Vec<Vec<u32>>,
}

mod packed {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[u32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.iter().map(u32::to_string).collect::<Vec<_>>().join(" "))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
        String::deserialize(d)?
            .split_ascii_whitespace()
            .map(|x| x.parse().map_err(|_| D::Error::custom(format!("`{x}` is not a count"))))
            .collect()
    }
}

mod packed_groups {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[Vec<u32>], s: S) -> Result<S::Ok, S::Error> {
        let groups: Vec<String> = v
            .iter()
            .map(|g| g.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
            .collect();
        s.serialize_str(&groups.join(" "))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u32>>, D::Error> {
        String::deserialize(d)?
            .split_ascii_whitespace()
            .map(|g| {
                g.split(',')
                    .map(|x| x.parse().map_err(|_| D::Error::custom(format!("`{x}` is not a rank"))))
                    .collect()
            })
            .collect()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskResult {
    pub name: String,
    /// "mono" or "cross".
    pub kind: String,
    pub query_lang: String,
    pub cand_lang: String,
    pub queries: usize,
    pub candidates: usize,
    pub map: f64,
    pub map_20: f64,
    pub r_1: f64,
    pub r_10: f64,
    pub mrr_10: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_query: Option<TaskQueries>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MultiResult {
    pub query_lang: String,
    pub queries: usize,
    pub candidates: usize,
    pub map: f64,
    pub map_20: f64,
    pub r_10: f64,
    /// Mean over queries of (max rank - min rank) of the parallel relevant candidates.
    pub rank_distance: f64,
    /// Share of the top 10 in the query's own language.
    pub own_lang_top10: f64,
    /// The share a language-blind ranker would give: the own language's share of the pool.
    pub blind_own_lang: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_query: Option<PoolQueries>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Summary {
    pub mono_map: f64,
    pub cross_map: f64,
    pub multi_map: f64,
    pub mono_r_1: f64,
    pub cross_r_1: f64,
    pub multi_r_10: f64,
    pub mono_map_20: f64,
    pub cross_map_20: f64,
    pub multi_map_20: f64,
    pub rank_distance: f64,
    pub own_lang_top10: f64,
    pub blind_own_lang: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BeirResult {
    pub queries: usize,
    pub documents: usize,
    pub ndcg_10: f64,
    pub recall_100: f64,
    pub map: f64,
    pub mrr_10: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub hbt_report: u32,
    /// "xquad-r", "mlqa-r", or "beir:<name>".
    pub benchmark: String,
    pub model: String,
    pub data: String,
    pub settings: serde_json::Value,
    pub languages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default)]
    pub tasks: Vec<TaskResult>,
    #[serde(default)]
    pub multi: Vec<MultiResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beir: Option<BeirResult>,
    pub seconds: f64,
    /// Optional label used by `hbt compare` (defaults to the model name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Question ids (sorted) that `per_query.qids` index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub question_ids: Vec<String>,
}

impl Report {
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| {
            Path::new(&self.model)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.model.clone())
        })
    }

    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ReportError::Report {
            path: path.to_path_buf(),
            message: format!("not JSON: {e}"),
        })?;
        if v.get("hbt_report").is_none() {
            return Err(ReportError::Report {
                path: path.to_path_buf(),
                message: "not an hbt eval report (no \"hbt_report\" field)".into(),
            });
        }
        serde_json::from_value(v).map_err(|e| ReportError::Report {
            path: path.to_path_buf(),
            message: format!("malformed report: {e}"),
        })
    }

    /// Written durably (hbt-durable): a study treats a present report as finished work, so
    /// a crash must leave no torn one under this name.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let s = serde_json::to_string_pretty(self).expect("a report serializes");
        hbt_durable::write_atomic(path, (s + "\n").as_bytes())?;
        Ok(())
    }

    /// The mono/cross mAP of (query, candidate) languages, in percent.
    pub fn map_matrix(&self) -> Vec<Vec<Option<f64>>> {
        let n = self.languages.len();
        let mut m = vec![vec![None; n]; n];
        let idx = |l: &str| self.languages.iter().position(|x| x == l);
        for t in &self.tasks {
            if let (Some(i), Some(j)) = (idx(&t.query_lang), idx(&t.cand_lang)) {
                m[i][j] = Some(100.0 * t.map);
            }
        }
        m
    }

    /// A plain-text table for the terminal.
    pub fn table(&self) -> String {
        let mut s = String::new();
        if let Some(b) = &self.beir {
            s += &format!(
                "{}  {}: nDCG@10 {:.2}  Recall@100 {:.2}  MAP {:.2}  MRR@10 {:.2}  ({} queries, {} documents)\n",
                self.label(),
                self.benchmark,
                100.0 * b.ndcg_10,
                100.0 * b.recall_100,
                100.0 * b.map,
                100.0 * b.mrr_10,
                b.queries,
                b.documents
            );
            return s;
        }
        s += &format!(
            "{} on {} — mAP (%) by query language (rows) × candidate language (columns)\n",
            self.label(),
            self.benchmark
        );
        s += &format!("{:>6}", "");
        for l in &self.languages {
            s += &format!("{l:>7}");
        }
        s += &format!("{:>8}\n", "multi");
        let m = self.map_matrix();
        for (i, l) in self.languages.iter().enumerate() {
            s += &format!("{l:>6}");
            for v in &m[i] {
                match v {
                    Some(v) => s += &format!("{v:>7.1}"),
                    None => s += &format!("{:>7}", "–"),
                }
            }
            match self.multi.iter().find(|r| &r.query_lang == l) {
                Some(r) => s += &format!("{:>8.1}\n", 100.0 * r.map),
                None => s += "\n",
            }
        }
        if let Some(x) = &self.summary {
            s += &format!(
                "\nmono mAP {:.2}  cross mAP {:.2}  multi mAP {:.2}  |  mono R@1 {:.2}  cross R@1 {:.2}  multi R@10 {:.2}\n",
                100.0 * x.mono_map,
                100.0 * x.cross_map,
                100.0 * x.multi_map,
                100.0 * x.mono_r_1,
                100.0 * x.cross_r_1,
                100.0 * x.multi_r_10
            );
            s += &format!(
                "language bias: rank distance {:.1} (lower is better); own language in top-10 {:.1}% vs {:.1}% for a language-blind ranker\n",
                x.rank_distance,
                100.0 * x.own_lang_top10,
                100.0 * x.blind_own_lang
            );
        }
        s += &format!("({:.1} s)\n", self.seconds);
        s
    }

    pub fn markdown(&self) -> String {
        let mut s = format!("# {} on {}\n\n", self.label(), self.benchmark);
        s += &format!(
            "- model: `{}`\n- data: `{}`\n- settings: `{}`\n- time: {:.1} s\n\n",
            self.model, self.data, self.settings, self.seconds
        );
        if let Some(b) = &self.beir {
            s += "| nDCG@10 | Recall@100 | MAP | MRR@10 | queries | documents |\n|---:|---:|---:|---:|---:|---:|\n";
            s += &format!(
                "| {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
                100.0 * b.ndcg_10,
                100.0 * b.recall_100,
                100.0 * b.map,
                100.0 * b.mrr_10,
                b.queries,
                b.documents
            );
            return s;
        }
        if let Some(x) = &self.summary {
            s += "## Summary\n\n| mono mAP | cross mAP | multi mAP | mono R@1 | cross R@1 | multi R@10 | rank distance ↓ | own lang in top-10 | language-blind |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
            s += &format!(
                "| {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1}% | {:.1}% |\n\n",
                100.0 * x.mono_map,
                100.0 * x.cross_map,
                100.0 * x.multi_map,
                100.0 * x.mono_r_1,
                100.0 * x.cross_r_1,
                100.0 * x.multi_r_10,
                x.rank_distance,
                100.0 * x.own_lang_top10,
                100.0 * x.blind_own_lang
            );
        }
        s += "## mAP (%) by query language × candidate language\n\n| query \\ cand |";
        for l in &self.languages {
            s += &format!(" {l} |");
        }
        s += " multi |\n|---|";
        for _ in 0..=self.languages.len() {
            s += "---:|";
        }
        s += "\n";
        let m = self.map_matrix();
        for (i, l) in self.languages.iter().enumerate() {
            s += &format!("| **{l}** |");
            for v in &m[i] {
                s += &match v {
                    Some(v) => format!(" {v:.1} |"),
                    None => " – |".into(),
                };
            }
            match self.multi.iter().find(|r| &r.query_lang == l) {
                Some(r) => s += &format!(" {:.1} |\n", 100.0 * r.map),
                None => s += " – |\n",
            }
        }
        s += "\n## Multilingual pool and language bias\n\n| query language | mAP | R@10 | rank distance ↓ | own lang in top-10 | language-blind |\n|---|---:|---:|---:|---:|---:|\n";
        for r in &self.multi {
            s += &format!(
                "| {} | {:.2} | {:.2} | {:.1} | {:.1}% | {:.1}% |\n",
                r.query_lang,
                100.0 * r.map,
                100.0 * r.r_10,
                r.rank_distance,
                100.0 * r.own_lang_top10,
                100.0 * r.blind_own_lang
            );
        }
        s
    }
}
