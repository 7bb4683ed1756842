//! A docs bundle's ranking: one result per section (a long section's pieces are one
//! result, at its best piece's score). `hbt search` and the browser widget both call it,
//! so the command line shows the widget's results.

use crate::{BundleCorpus, Passage};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    /// 1-based.
    pub rank: usize,
    /// Index of the best-scoring passage of the section.
    pub passage: usize,
    pub score: f32,
}

/// The `k` best sections for `query` (a unit vector) against the passage vectors
/// (`[n, dim]`, row-major). Passages without a URL (benchmark bundles) are their own result.
pub fn top_sections(corpus: &BundleCorpus, vectors: &[f32], dim: usize, query: &[f32], k: usize) -> Vec<Hit> {
    let scores = hbt_report::bias::scores(query, vectors, dim);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(k);
    for i in hbt_report::rank::ranking(&scores) {
        if out.len() == k {
            break;
        }
        let key = corpus
            .passages
            .get(i)
            .map(|p| p.url.clone().unwrap_or_else(|| format!("#{i}")));
        if key.is_some_and(|key| seen.insert(key)) {
            out.push(Hit {
                rank: out.len() + 1,
                passage: i,
                score: scores[i],
            });
        }
    }
    out
}

/// The passage's text without its title line, cut to about `chars` characters at a word.
pub fn snippet(p: &Passage, chars: usize) -> String {
    let body = if p.url.is_some() {
        p.text.split_once('\n').map(|(_, b)| b).unwrap_or("")
    } else {
        &p.text
    };
    let flat = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= chars {
        return flat;
    }
    let cut: String = flat.chars().take(chars).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{cut} …")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(url: &str) -> Passage {
        Passage {
            id: url.into(),
            lang: "en".into(),
            text: format!("Page › {url}\nbody of {url}"),
            url: Some(url.into()),
            ..Default::default()
        }
    }

    #[test]
    fn pieces_of_a_section_are_one_result() {
        let corpus = BundleCorpus {
            passages: vec![passage("a#x"), passage("a#x"), passage("b"), passage("c")],
            questions: vec![],
        };
        // 2-d vectors; the query is [1, 0]: scores 0.9, 0.95, 0.5, 0.7.
        let v = [0.9, 0.1, 0.95, 0.0, 0.5, 0.5, 0.7, 0.2];
        let hits = top_sections(&corpus, &v, 2, &[1.0, 0.0], 3);
        let got: Vec<(usize, usize)> = hits.iter().map(|h| (h.rank, h.passage)).collect();
        assert_eq!(got, vec![(1, 1), (2, 3), (3, 2)]);
        assert_eq!(snippet(&corpus.passages[0], 100), "body of a#x");
    }
}
