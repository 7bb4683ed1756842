//! The LAReQA layout (XQuAD-R, MLQA-R): one SQuAD-style JSON per language whose paragraphs
//! carry `sentences` and `sentence_breaks`; questions are parallel across languages by `id`.
//!
//! A candidate is one sentence, kept with its paragraph. A question's relevant candidate in
//! a language is the sentence (of the same-id question's paragraph in that language) that
//! contains that question's answer start.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{DataError, Result};
use crate::lang;

#[derive(Deserialize)]
struct File {
    data: Vec<Article>,
}
#[derive(Deserialize)]
struct Article {
    #[serde(default)]
    title: String,
    paragraphs: Vec<Paragraph>,
}
#[derive(Deserialize)]
struct Paragraph {
    context: String,
    qas: Vec<Qa>,
    sentence_breaks: Vec<[usize; 2]>,
    sentences: Vec<String>,
}
#[derive(Deserialize)]
struct Qa {
    id: String,
    question: String,
    answers: Vec<Answer>,
}
#[derive(Deserialize)]
struct Answer {
    answer_start: usize,
}

/// One candidate sentence.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub text: String,
    /// Index into [`LangData::paragraphs`].
    pub paragraph: usize,
}

#[derive(Debug, Clone)]
pub struct Para {
    pub article: usize,
    pub context: String,
    /// Candidate indices of this paragraph's sentences, in order.
    pub sentences: std::ops::Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub paragraph: usize,
    /// The candidate (in this language) containing the answer start.
    pub answer: usize,
}

/// One language of a corpus.
#[derive(Debug, Clone)]
pub struct LangData {
    pub lang: String,
    pub file: PathBuf,
    pub articles: Vec<String>,
    pub paragraphs: Vec<Para>,
    pub candidates: Vec<Candidate>,
    pub questions: Vec<Question>,
    /// Ids of questions whose answer start lies in no sentence (kept out, and reported).
    pub skipped: Vec<String>,
    pub by_id: HashMap<String, usize>,
}

/// How a candidate is presented to the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CandidateInput {
    /// The sentence alone (LAReQA's default for dual encoders).
    #[default]
    Sentence,
    /// The sentence followed by its paragraph.
    SentenceAndContext,
}

impl std::str::FromStr for CandidateInput {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "sentence" => Ok(Self::Sentence),
            "sentence-and-context" | "context" => Ok(Self::SentenceAndContext),
            o => Err(format!(
                "unknown candidate input `{o}` (sentence, sentence-and-context)"
            )),
        }
    }
}

impl LangData {
    pub fn candidate_text(&self, i: usize, input: CandidateInput) -> String {
        let c = &self.candidates[i];
        match input {
            CandidateInput::Sentence => c.text.clone(),
            CandidateInput::SentenceAndContext => format!("{}\n{}", c.text, self.paragraphs[c.paragraph].context),
        }
    }
}

/// A parallel QA corpus: every language's data, by code.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub name: String,
    pub dir: PathBuf,
    pub langs: BTreeMap<String, LangData>,
}

impl Corpus {
    pub fn languages(&self) -> Vec<String> {
        self.langs.keys().cloned().collect()
    }

    /// Keep only the given languages; an unknown or absent one is an error.
    pub fn restrict(mut self, keep: &[String]) -> Result<Self> {
        for l in keep {
            if !self.langs.contains_key(l) {
                return Err(DataError::Corpus {
                    path: self.dir.clone(),
                    message: format!(
                        "language `{l}` is not in this corpus (it has {})",
                        self.languages().join(", ")
                    ),
                });
            }
        }
        self.langs.retain(|k, _| keep.contains(k));
        Ok(self)
    }
}

impl Corpus {
    /// A smaller benchmark for quick runs: the first `n` question ids (in file order,
    /// first language first) and, in every language, only the paragraphs they come from,
    /// so every candidate left belongs to a paragraph with a kept question.
    pub fn limit(mut self, n: usize) -> Self {
        let mut keep: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        'outer: for d in self.langs.values() {
            for q in &d.questions {
                if keep.len() >= n {
                    break 'outer;
                }
                if seen.insert(q.id.clone()) {
                    keep.push(q.id.clone());
                }
            }
        }
        for d in self.langs.values_mut() {
            let paras: std::collections::BTreeSet<usize> = d
                .questions
                .iter()
                .filter(|q| seen.contains(&q.id))
                .map(|q| q.paragraph)
                .collect();
            let mut new_para = HashMap::new();
            let mut paragraphs = Vec::new();
            let mut candidates = Vec::new();
            let mut cand_map = HashMap::new();
            for &p in &paras {
                let old = &d.paragraphs[p];
                let first = candidates.len();
                for ci in old.sentences.clone() {
                    cand_map.insert(ci, candidates.len());
                    candidates.push(Candidate {
                        text: d.candidates[ci].text.clone(),
                        paragraph: paragraphs.len(),
                    });
                }
                new_para.insert(p, paragraphs.len());
                paragraphs.push(Para {
                    article: old.article,
                    context: old.context.clone(),
                    sentences: first..candidates.len(),
                });
            }
            let questions: Vec<Question> = d
                .questions
                .iter()
                .filter(|q| seen.contains(&q.id))
                .map(|q| Question {
                    id: q.id.clone(),
                    text: q.text.clone(),
                    paragraph: new_para[&q.paragraph],
                    answer: cand_map[&q.answer],
                })
                .collect();
            d.by_id = questions.iter().enumerate().map(|(i, q)| (q.id.clone(), i)).collect();
            d.questions = questions;
            d.paragraphs = paragraphs;
            d.candidates = candidates;
        }
        self
    }
}

/// Load one language file.
pub fn load_language(path: &Path, code: &str) -> Result<LangData> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let file: File = serde_json::from_slice(&bytes).map_err(|e| DataError::json(path, e))?;
    let mut d = LangData {
        lang: code.to_string(),
        file: path.to_path_buf(),
        articles: Vec::new(),
        paragraphs: Vec::new(),
        candidates: Vec::new(),
        questions: Vec::new(),
        skipped: Vec::new(),
        by_id: HashMap::new(),
    };
    for (ai, a) in file.data.into_iter().enumerate() {
        d.articles.push(a.title);
        for (pi, p) in a.paragraphs.into_iter().enumerate() {
            let place = |extra: &str| format!("article {ai} paragraph {pi}{extra}");
            let fmt = |place: String, message: String| DataError::Format {
                path: path.to_path_buf(),
                place,
                message,
            };
            // Offsets are in Unicode code points, as Python's str indices are.
            let clen = p.context.chars().count();
            if p.sentences.len() != p.sentence_breaks.len() {
                return Err(fmt(
                    place(""),
                    format!(
                        "{} sentences but {} sentence_breaks",
                        p.sentences.len(),
                        p.sentence_breaks.len()
                    ),
                ));
            }
            for (si, [s, e]) in p.sentence_breaks.iter().copied().enumerate() {
                if s > e || e > clen {
                    return Err(fmt(
                        place(&format!(" sentence {si}")),
                        format!("sentence break [{s}, {e}] lies outside the context ({clen} characters)"),
                    ));
                }
            }
            let pidx = d.paragraphs.len();
            let first = d.candidates.len();
            for s in p.sentences {
                d.candidates.push(Candidate {
                    text: s,
                    paragraph: pidx,
                });
            }
            d.paragraphs.push(Para {
                article: d.articles.len() - 1,
                context: p.context,
                sentences: first..d.candidates.len(),
            });
            for q in p.qas {
                let Some(ans) = q.answers.first() else {
                    return Err(fmt(place(&format!(" question {}", q.id)), "has no answers".into()));
                };
                if ans.answer_start >= clen {
                    return Err(fmt(
                        place(&format!(" question {}", q.id)),
                        format!(
                            "answer_start {} is beyond the context ({clen} characters)",
                            ans.answer_start
                        ),
                    ));
                }
                let hit = p
                    .sentence_breaks
                    .iter()
                    .position(|&[s, e]| s <= ans.answer_start && ans.answer_start < e);
                match hit {
                    Some(si) => {
                        if d.by_id.contains_key(&q.id) {
                            return Err(fmt(
                                place(&format!(" question {}", q.id)),
                                "duplicate question id".into(),
                            ));
                        }
                        d.by_id.insert(q.id.clone(), d.questions.len());
                        d.questions.push(Question {
                            id: q.id,
                            text: q.question,
                            paragraph: pidx,
                            answer: first + si,
                        });
                    }
                    None => d.skipped.push(q.id),
                }
            }
        }
    }
    Ok(d)
}

/// Load every `<lang>.json` in a LAReQA directory.
pub fn load_dir(dir: &Path) -> Result<Corpus> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::Corpus {
                path: dir.to_path_buf(),
                message: format!("no such directory. {}", crate::fetch::HOW_TO_GET),
            }
        } else {
            DataError::io(dir, e)
        }
    })?;
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|e| DataError::io(dir, e))?;
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let code = p.file_stem().and_then(|s| s.to_str()).unwrap_or("").to_string();
        if !lang::is_known(&code) {
            return Err(DataError::Corpus {
                path: p.clone(),
                message: format!("`{code}` is not a known language code (files must be named <ISO 639-1 code>.json)"),
            });
        }
        files.push((code, p));
    }
    if files.is_empty() {
        return Err(DataError::Corpus {
            path: dir.to_path_buf(),
            message: format!(
                "the corpus is empty: no <lang>.json files here. {}",
                crate::fetch::HOW_TO_GET
            ),
        });
    }
    files.sort();
    let name = dir.file_name().and_then(|s| s.to_str()).unwrap_or("corpus").to_string();
    let loaded: Vec<Result<LangData>> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .iter()
            .map(|(code, p)| s.spawn(move || load_language(p, code)))
            .collect();
        handles.into_iter().map(|h| h.join().expect("loader thread")).collect()
    });
    let mut langs = BTreeMap::new();
    for d in loaded {
        let d = d?;
        langs.insert(d.lang.clone(), d);
    }
    Ok(Corpus {
        name,
        dir: dir.to_path_buf(),
        langs,
    })
}

/// Per-language figures for `hbt data stats`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LangStats {
    pub lang: String,
    pub questions: usize,
    pub candidates: usize,
    pub skipped: usize,
    /// Mean number of relevant candidates per question over the whole corpus (one per
    /// language the question id appears in).
    pub relevant_per_question: f64,
    pub min_relevant: usize,
    pub max_relevant: usize,
}

pub fn stats(c: &Corpus) -> Vec<LangStats> {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for d in c.langs.values() {
        for q in &d.questions {
            *count.entry(q.id.as_str()).or_default() += 1;
        }
    }
    c.langs
        .values()
        .map(|d| {
            let rel: Vec<usize> = d.questions.iter().map(|q| count[q.id.as_str()]).collect();
            LangStats {
                lang: d.lang.clone(),
                questions: d.questions.len(),
                candidates: d.candidates.len(),
                skipped: d.skipped.len(),
                relevant_per_question: if rel.is_empty() {
                    0.0
                } else {
                    rel.iter().sum::<usize>() as f64 / rel.len() as f64
                },
                min_relevant: rel.iter().copied().min().unwrap_or(0),
                max_relevant: rel.iter().copied().max().unwrap_or(0),
            }
        })
        .collect()
}
