//! A docs site as a bundle, and the widget's search from the command line.
//!
//! `hbt export --docs`: the site's sections ([`hbt_data::docs`]) become the bundle's
//! passages, each with its URL, page and section titles; an export over an earlier bundle
//! re-embeds only the sections whose text changed. `hbt search --bundle`: the query is
//! encoded by the bundle's own model files and ranked by [`hbt_bundle::docs::top_sections`],
//! the function the browser widget calls.

use std::path::Path;

use hbt_bundle::{BundleCorpus, Manifest, Passage};
use hbt_data::docs::Site;
use hbt_model::{Encoder, EncoderOptions, TextKind};

use crate::error::{PipelineError, Result};

/// The bundle passages of a site's sections, in site order. A section split in pieces keeps
/// one URL; ids are the URL and the piece's number.
pub fn docs_corpus(site: &Site) -> BundleCorpus {
    let mut piece = std::collections::HashMap::<&str, usize>::new();
    let passages = site
        .sections
        .iter()
        .map(|s| {
            let n = piece.entry(s.url.as_str()).or_default();
            *n += 1;
            Passage {
                id: format!("{}~{}", s.url, *n - 1),
                lang: s.lang.clone(),
                text: s.text.clone(),
                url: Some(s.url.clone()),
                page: Some(s.page_title.clone()),
                section: Some(s.section_title.clone()),
                hash: None,
            }
        })
        .collect();
    BundleCorpus {
        passages,
        questions: Vec::new(),
    }
}

/// Whether `dir` holds an hbt bundle of a docs site (what an incremental export may replace).
pub fn is_docs_bundle(dir: &Path) -> bool {
    read_manifest_corpus(dir).is_ok_and(|(_, c)| c.passages.first().is_some_and(|p| p.url.is_some()))
}

/// A bundle's manifest and passages, as read by `hbt search`, the docs check and an
/// incremental export.
fn read_manifest_corpus(bundle: &Path) -> Result<(Manifest, BundleCorpus)> {
    let manifest = Manifest::parse(&read(bundle, hbt_bundle::MANIFEST)?, &bundle.join(hbt_bundle::MANIFEST))?;
    let corpus = BundleCorpus::parse(&read(bundle, &manifest.corpus)?, &bundle.join(&manifest.corpus))?;
    Ok((manifest, corpus))
}

/// The same, and the passage vectors (`dim`, row-major), one row a passage.
pub(crate) fn read_index_files(bundle: &Path) -> Result<(Manifest, BundleCorpus, usize, Vec<f32>)> {
    let (manifest, corpus) = read_manifest_corpus(bundle)?;
    let (n, dim, vectors) =
        hbt_bundle::read_embeddings(&read(bundle, &manifest.embeddings)?, &bundle.join(&manifest.embeddings))?;
    if n != corpus.passages.len() {
        return Err(PipelineError::Report {
            path: bundle.join(&manifest.embeddings),
            message: format!("{n} vectors for {} passages", corpus.passages.len()),
        });
    }
    Ok((manifest, corpus, dim, vectors))
}

fn read(bundle: &Path, rel: &str) -> Result<Vec<u8>> {
    let p = bundle.join(rel);
    std::fs::read(&p).map_err(|e| PipelineError::io(p, e))
}

/// One result of [`search`], as `hbt search` prints it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SearchHit {
    pub rank: usize,
    pub score: f32,
    pub url: String,
    pub page: String,
    pub section: String,
    pub lang: String,
    pub snippet: String,
}

/// A loaded bundle: its model, passages and vectors.
pub struct DocsIndex {
    pub encoder: Encoder,
    pub corpus: BundleCorpus,
    pub vectors: Vec<f32>,
    pub dim: usize,
    pub manifest: Manifest,
}

impl DocsIndex {
    /// Open a bundle. `precision`: the encoder's number format; `None` takes the browser's
    /// CPU path for int8 (`q8`) bundles (int8 linears, integer sums) and f32 otherwise.
    pub fn open(
        bundle: &Path,
        device: &hbt_model::burn::prelude::Device,
        precision: Option<hbt_model::Precision>,
    ) -> Result<DocsIndex> {
        let (manifest, corpus, dim, vectors) = read_index_files(bundle)?;
        let precision = precision.unwrap_or(if manifest.model.dtype == "q8" {
            hbt_model::Precision::Int8
        } else {
            hbt_model::Precision::F32
        });
        let options = EncoderOptions {
            precision,
            ..Default::default()
        };
        let encoder = Encoder::load(&bundle.join(&manifest.model.dir), device, &options)?;
        Ok(DocsIndex {
            encoder,
            corpus,
            vectors,
            dim,
            manifest,
        })
    }

    /// The `k` best sections for `query`.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<SearchHit>> {
        let q = self.encoder.embed(&[query], TextKind::Query)?;
        let hits = hbt_bundle::docs::top_sections(&self.corpus, &self.vectors, self.dim, &q[0], k);
        Ok(hits
            .into_iter()
            .map(|h| {
                let p = &self.corpus.passages[h.passage];
                SearchHit {
                    rank: h.rank,
                    score: h.score,
                    url: p.url.clone().unwrap_or_else(|| p.id.clone()),
                    page: p.page.clone().unwrap_or_default(),
                    section: p.section.clone().unwrap_or_default(),
                    lang: p.lang.clone(),
                    snippet: hbt_bundle::docs::snippet(p, 160),
                }
            })
            .collect())
    }
}
