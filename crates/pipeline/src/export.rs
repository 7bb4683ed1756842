//! `hbt export`: a static bundle for the web app (format in [`hbt_bundle`]).
//!
//! The passage vectors are computed with the model *as exported* (f16 weights read back,
//! pruned vocabulary), so the browser, which loads the same files, ranks against vectors
//! that its own query encoder is consistent with.

use std::path::{Path, PathBuf};

use hbt_bundle::OnDemandStats;
use hbt_bundle::{
    self, BundleCorpus, BundleFile, BundleModel, BundleQuestion, Manifest, Passage, PassageRules, VocabInfo, VocabKind,
    WordRowsInfo, parse_passages,
};
use hbt_bundle::{PruneStats, PruneVocab};
use hbt_data::lareqa::{CandidateInput, Corpus};
use hbt_model::words::RowsLayout;
use hbt_model::{Encoder, EncoderOptions, ModelFiles, SaveDtype, SaveOptions, TextKind};
use indicatif::ProgressBar;
use sha2::Digest;

use crate::error::{PipelineError, Result};
use hbt_eval::embed::embed_all;
use hbt_eval::report::Report;

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub dtype: SaveDtype,
    /// The whole table, pruned to the texts and word lists, or a rows file fetched on
    /// demand (the table always int8 then; `dtype` sets the layers').
    pub vocab: VocabKind,
    /// On demand: rows a page (the unit the browser fetches and caches).
    pub page_rows: usize,
    /// Passage vectors in int8 (one scale a passage) rather than f16.
    pub q8_vectors: bool,
    /// Word lists (one word a line; a tab ends the word) whose pieces the pruned vocabulary
    /// keeps too, each word as written and capitalised: the served languages' vocabulary,
    /// so that queries the bundle does not contain tokenize as with the full model.
    pub vocab_words: Vec<PathBuf>,
    /// Replace a non-empty output directory.
    pub overwrite: bool,
    /// An `hbt eval` report to ship for the app's charts.
    pub report: Option<PathBuf>,
    /// Give each passage a content hash (model files and text) and take the vectors of
    /// unchanged passages from the bundle already at the output, if it has them: a docs
    /// site's second export re-embeds only the sections that changed.
    pub incremental: bool,
}

#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub manifest: Manifest,
    pub prune: Option<PruneStats>,
    pub on_demand: Option<OnDemandStats>,
    pub seconds: f64,
    /// Passages embedded by this export, and those whose vectors came from the previous
    /// bundle (incremental exports).
    pub embedded: usize,
    pub reused: usize,
}

/// The passages (candidate sentences) and questions of a LAReQA corpus. A question's answers
/// are its answer sentence in every passage language. `passage_langs` (all when `None`)
/// ship passages; every other language of `c` ships its first `extra_questions` questions
/// only — asked in a language the passages lack, their answers are still known.
pub fn lareqa_corpus(
    c: &Corpus,
    input: CandidateInput,
    passage_langs: Option<&[String]>,
    extra_questions: usize,
) -> BundleCorpus {
    let has_passages = |l: &str| passage_langs.is_none_or(|ls| ls.iter().any(|x| x == l));
    let mut out = BundleCorpus::default();
    let mut first = std::collections::BTreeMap::new();
    for (lang, d) in c.langs.iter().filter(|(l, _)| has_passages(l)) {
        first.insert(lang.clone(), out.passages.len());
        for i in 0..d.candidates.len() {
            out.passages.push(Passage {
                id: format!("{lang}/{}/{i}", c.name),
                lang: lang.clone(),
                text: d.candidate_text(i, input),
                ..Default::default()
            });
        }
    }
    for (lang, d) in &c.langs {
        let take = if has_passages(lang) {
            usize::MAX
        } else {
            extra_questions
        };
        for q in d.questions.iter().take(take) {
            let answers = c
                .langs
                .iter()
                .filter(|(l, _)| has_passages(l))
                .filter_map(|(l, other)| {
                    let qi = *other.by_id.get(&q.id)?;
                    Some(first[l] + other.questions[qi].answer)
                })
                .collect();
            out.questions.push(BundleQuestion {
                id: q.id.clone(),
                lang: lang.clone(),
                text: q.text.clone(),
                answers,
            });
        }
    }
    out
}

/// A JSON-lines corpus: one `{"id": …, "lang": …, "text": …}` object a line (the reader a
/// visitor's dropped file goes through too, under [`PassageRules::EXPORT`]).
pub fn jsonl_corpus(path: &Path) -> Result<BundleCorpus> {
    let bytes = std::fs::read(path).map_err(|e| PipelineError::io(path, e))?;
    let passages = parse_passages(&bytes, &path.to_string_lossy(), PassageRules::EXPORT)?;
    Ok(BundleCorpus {
        passages,
        questions: Vec::new(),
    })
}

/// The words of `files`, as written and with a capital first letter (the tokenizer is
/// case-sensitive; frequency lists such as wordfreq's are lowercased), each also behind an
/// opening parenthesis, joined into texts
/// of 16 words: whitespace splits words before the subword model, so each word tokenizes
/// as it would alone, and 16 words stay well inside the model's maximum length (tokens past
/// it would be cut off, and their pieces not kept).
pub fn word_list_texts(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut words = Vec::new();
    for path in files {
        let bytes = std::fs::read(path).map_err(|e| PipelineError::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| PipelineError::Report {
            path: path.clone(),
            message: format!("a word list must be UTF-8 text: {e}"),
        })?;
        let before = words.len();
        for line in text.lines() {
            let w = line.split('\t').next().unwrap_or("").trim();
            if w.is_empty() {
                continue;
            }
            let mut cs = w.chars();
            let first = cs.next().expect("non-empty");
            let cap: String = first.to_uppercase().chain(cs).collect();
            // After an opening mark ("¿Por", "(the") a word is cut without the word-initial
            // `▁`: its bare pieces are needed too.
            words.push(format!("({w}"));
            if cap != w {
                words.push(format!("({cap}"));
                words.push(cap);
            }
            words.push(w.to_string());
        }
        if words.len() == before {
            return Err(PipelineError::Report {
                path: path.clone(),
                message: "no words in this word list (one word a line expected)".into(),
            });
        }
    }
    Ok(words.chunks(16).map(|c| c.join(" ")).collect())
}

/// Scripts written without spaces between words: there the subword model segments whole
/// phrases, so a word list cannot say which multi-word pieces a query will use.
fn unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0x0E00..=0x0EFF    // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF) // Khmer
}

/// The characters of unspaced scripts that the word lists use.
fn unspaced_chars(word_texts: &[String]) -> std::collections::HashSet<char> {
    word_texts
        .iter()
        .flat_map(|t| t.chars())
        .filter(|&c| unspaced(c))
        .collect()
}

/// Pieces kept by class once word lists are given: numbers and punctuation (any digit
/// string, "1466" or "20-21", is cut into such pieces; ~3,000 of them in XLM-R's
/// vocabulary), and in unspaced scripts every piece made of the lists' characters.
fn keep_class(piece: &str, unspaced_chars: &std::collections::HashSet<char>) -> bool {
    let body = piece.trim_start_matches('\u{2581}');
    if body.is_empty() {
        return false;
    }
    body.chars().all(|c| c.is_ascii_digit() || c.is_ascii_punctuation())
        || body.chars().all(|c| unspaced(c) && unspaced_chars.contains(&c))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| PipelineError::io(path, e))
}

fn files_under(root: &Path, dir: &Path, out: &mut Vec<BundleFile>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| PipelineError::io(dir, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| PipelineError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            files_under(root, &p, out)?;
        } else {
            let data = std::fs::read(&p).map_err(|err| PipelineError::io(&p, err))?;
            let sha256 = Some(format!("{:x}", sha2::Sha256::digest(&data)));
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            out.push(BundleFile {
                path: rel,
                bytes: data.len() as u64,
                sha256,
            });
        }
    }
    Ok(())
}

/// Write the bundle for `enc` (loaded from `model_dir`) and `corpus` into `out`.
pub fn export_bundle(
    enc: &Encoder,
    model_dir: &Path,
    corpus: BundleCorpus,
    source: &str,
    out: &Path,
    options: &ExportOptions,
    bar: &ProgressBar,
) -> Result<ExportSummary> {
    let start = std::time::Instant::now();
    if corpus.passages.is_empty() {
        return Err(PipelineError::Invalid(format!("{source}: no passages to export")));
    }
    let report = match &options.report {
        Some(p) => {
            // The app draws the summary figures; per-query ranks (for paired tests) would
            // only add megabytes to the download.
            let mut r = Report::read(p)?;
            r.question_ids.clear();
            r.tasks.iter_mut().for_each(|t| t.per_query = None);
            r.multi.iter_mut().for_each(|m| m.per_query = None);
            Some(serde_json::to_vec_pretty(&r).expect("a report serializes"))
        }
        None => None,
    };

    // Read before the new bundle replaces it; a bundle that cannot be read is not reused.
    let previous = if options.incremental {
        previous_vectors(out)
    } else {
        None
    };
    hbt_model::save::write_dir_atomically(out, options.overwrite, |tmp| {
        write_bundle(
            enc,
            model_dir,
            corpus,
            source,
            tmp,
            options,
            report.as_deref(),
            previous.as_ref(),
            bar,
        )
    })
    .map(|summary| ExportSummary {
        seconds: start.elapsed().as_secs_f64(),
        ..summary
    })
}

/// The vectors of an earlier bundle at `out`, by passage hash.
struct Previous {
    dim: usize,
    by_hash: std::collections::HashMap<String, Vec<f32>>,
}

fn previous_vectors(out: &Path) -> Option<Previous> {
    let (_, c, dim, v) = crate::docs::read_index_files(out).ok()?;
    let by_hash = c
        .passages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((p.hash.clone()?, v[i * dim..(i + 1) * dim].to_vec())))
        .collect();
    Some(Previous { dim, by_hash })
}

/// A passage's content hash: the shipped model's files and what is embedded.
fn passage_hash(model: &[BundleFile], text: &str) -> String {
    let mut h = sha2::Sha256::new();
    for f in model {
        h.update(f.path.as_bytes());
        h.update(f.sha256.as_deref().unwrap_or("").as_bytes());
    }
    h.update([0]);
    h.update(text.as_bytes());
    format!("{:x}", h.finalize())[..32].to_string()
}

#[allow(clippy::too_many_arguments)]
// long: the bundle's files in the order the manifest lists them (model, tokenizer, corpus,
// vectors, report), each checked as it is written.
fn write_bundle(
    enc: &Encoder,
    model_dir: &Path,
    corpus: BundleCorpus,
    source: &str,
    tmp: &Path,
    options: &ExportOptions,
    report: Option<&[u8]>,
    previous: Option<&Previous>,
    bar: &ProgressBar,
) -> Result<ExportSummary> {
    let extra = ModelFiles {
        tokenizer_config: std::fs::read(model_dir.join("tokenizer_config.json")).ok(),
        ..Default::default()
    };
    let save = SaveOptions {
        dtype: options.dtype,
        overwrite: false,
    };
    let model_out = tmp.join("model");
    let word_texts = word_list_texts(&options.vocab_words)?;
    if !options.vocab_words.is_empty() && options.vocab != VocabKind::Pruned {
        return Err(PipelineError::Invalid(
            "word lists choose what a pruned vocabulary keeps: they go with --vocab pruned".into(),
        ));
    }
    let mut on_demand = None;
    let prune = if options.vocab == VocabKind::Pruned {
        let mut texts: Vec<(&str, TextKind)> = word_texts.iter().map(|t| (t.as_str(), TextKind::Plain)).collect();
        texts.extend(corpus.passages.iter().map(|p| (p.text.as_str(), TextKind::Passage)));
        texts.extend(corpus.questions.iter().map(|q| (q.text.as_str(), TextKind::Query)));
        let (pruned, stats) = if options.vocab_words.is_empty() {
            enc.prune_vocab(&texts)?
        } else {
            let unspaced = unspaced_chars(&word_texts);
            enc.prune_vocab_keeping(&texts, &|piece| keep_class(piece, &unspaced))?
        };
        pruned.save(&model_out, &extra, save)?;
        Some(stats)
    } else {
        enc.save(&model_out, &extra, save)?;
        if options.vocab == VocabKind::OnDemand {
            on_demand = Some(hbt_bundle::make_on_demand(&model_out)?);
        }
        None
    };

    // Embed with the files just written, as the browser will see them.
    let mut shipped = Encoder::load(&model_out, &enc.device, &EncoderOptions::default())?;
    shipped.batch_size = enc.batch_size;
    shipped.tokenizer.pad_multiple = enc.tokenizer.pad_multiple;
    let mut model_files = Vec::new();
    files_under(&model_out, &model_out, &mut model_files)?;
    let mut corpus = corpus;
    if options.incremental {
        for p in &mut corpus.passages {
            p.hash = Some(passage_hash(&model_files, &p.text));
        }
    }
    let dim = enc.config.hidden_size;
    let reuse: Vec<Option<&Vec<f32>>> = corpus
        .passages
        .iter()
        .map(|p| {
            let prev = previous.filter(|pr| pr.dim == dim)?;
            prev.by_hash.get(p.hash.as_ref()?)
        })
        .collect();
    let todo: Vec<usize> = (0..reuse.len()).filter(|&i| reuse[i].is_none()).collect();
    let texts: Vec<String> = todo.iter().map(|&i| corpus.passages[i].text.clone()).collect();
    bar.set_length(texts.len() as u64);
    let fresh = embed_all(&shipped, &texts, TextKind::Passage, bar)?;
    let mut data = Vec::with_capacity(corpus.passages.len() * dim);
    let mut next = fresh.data.chunks_exact(dim);
    for r in &reuse {
        match r {
            Some(v) => data.extend_from_slice(v),
            None => data.extend_from_slice(next.next().expect("one fresh vector per passage to embed")),
        }
    }
    let (embedded, reused) = (todo.len(), reuse.len() - todo.len());
    let vectors = hbt_eval::embed::Vectors { data, dim };
    let image = if options.q8_vectors {
        hbt_bundle::embeddings_safetensors_q8(vectors.len(), vectors.dim, &vectors.data)?
    } else {
        hbt_bundle::embeddings_safetensors(vectors.len(), vectors.dim, &vectors.data)?
    };
    write(&tmp.join("embeddings.safetensors"), &image)?;
    write(
        &tmp.join("corpus.json"),
        &serde_json::to_vec(&corpus).expect("corpus serializes"),
    )?;
    if let Some(r) = report {
        write(&tmp.join("report.json"), r)?;
    }

    let weights_pruned = model_files
        .iter()
        .find(|f| f.path == "model.safetensors")
        .map(|f| f.bytes)
        .unwrap_or(0);
    let vocab = prune.as_ref().map(|s| {
        let per_row = enc.config.hidden_size as u64
            * match options.dtype {
                SaveDtype::F32 => 4,
                SaveDtype::F16 => 2,
                SaveDtype::Q8 => 1,
            };
        VocabInfo {
            before: s.vocab_before,
            after: s.vocab_after,
            weights_bytes_full: weights_pruned + (s.vocab_before - s.vocab_after) as u64 * per_row,
            weights_bytes_pruned: weights_pruned,
        }
    });
    let word_rows = on_demand.as_ref().map(|s| WordRowsInfo {
        path: format!("model/{}", hbt_model::words::ROWS_FILE),
        layout: RowsLayout::new(s.rows, enc.config.hidden_size),
        page_rows: options.page_rows.max(1),
    });
    // The rows file is read a few rows at a time, never whole.
    model_files.retain(|f| f.path != hbt_model::words::ROWS_FILE);
    let mut files = Vec::new();
    files_under(tmp, tmp, &mut files)?;
    let label = model_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| model_dir.display().to_string());
    let manifest = Manifest {
        format: hbt_bundle::FORMAT.into(),
        created_by: format!("hbt {}", env!("CARGO_PKG_VERSION")),
        model: BundleModel {
            dir: "model".into(),
            label,
            dtype: match options.dtype {
                SaveDtype::F16 => "f16".into(),
                SaveDtype::F32 => "f32".into(),
                SaveDtype::Q8 => "q8".into(),
            },
            files: model_files.iter().map(|f| f.path.clone()).collect(),
            vocab,
            vocab_kind: options.vocab,
            word_rows,
        },
        corpus: "corpus.json".into(),
        embeddings: "embeddings.safetensors".into(),
        report: report.map(|_| "report.json".into()),
        languages: corpus.languages(),
        passages: corpus.passages.len(),
        questions: corpus.questions.len(),
        dim: vectors.dim,
        source: source.into(),
        files,
    };
    let mut mbytes = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    mbytes.push(b'\n');
    write(&tmp.join(hbt_bundle::MANIFEST), &mbytes)?;
    // The caller times the whole export, atomic rename included.
    Ok(ExportSummary {
        manifest,
        prune,
        on_demand,
        seconds: 0.0,
        embedded,
        reused,
    })
}
