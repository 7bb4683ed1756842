//! Retrieval tasks over a parallel corpus: monolingual (X = Y), cross-lingual (X != Y) and
//! the multilingual pool per query language (candidates of every language together).
//!
//! Tasks refer to questions and candidates by (language, index) so that an evaluator
//! embeds each language's texts once and scores every task from those vectors.

use std::collections::BTreeSet;

use crate::lareqa::Corpus;

/// A candidate by language and index within that language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct CandRef {
    pub lang: usize,
    pub index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Mono,
    Cross,
    Multi,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub kind: TaskKind,
    /// Index into the corpus' language list.
    pub query_lang: usize,
    /// The candidate languages pooled (one for mono/cross, all for multi).
    pub cand_langs: Vec<usize>,
    /// Question indices (in the query language).
    pub queries: Vec<usize>,
    /// Relevant candidates per query, same order as `queries`.
    pub qrels: Vec<Vec<CandRef>>,
}

impl Task {
    pub fn name(&self, langs: &[String]) -> String {
        match self.kind {
            TaskKind::Multi => format!("{}-multi", langs[self.query_lang]),
            _ => format!("{}-{}", langs[self.query_lang], langs[self.cand_langs[0]]),
        }
    }
}

/// Build every task of a corpus: |L| mono, |L|(|L|-1) cross and |L| multi.
pub fn build_tasks(c: &Corpus) -> Vec<Task> {
    let langs: Vec<&crate::lareqa::LangData> = c.langs.values().collect();
    let n = langs.len();
    let mut tasks = Vec::new();
    let relevant_in = |qi: usize, x: usize, y: usize| -> Option<CandRef> {
        let id = &langs[x].questions[qi].id;
        langs[y].by_id.get(id).map(|&j| CandRef {
            lang: y,
            index: langs[y].questions[j].answer,
        })
    };
    for x in 0..n {
        for y in 0..n {
            let mut queries = Vec::new();
            let mut qrels = Vec::new();
            for qi in 0..langs[x].questions.len() {
                if let Some(r) = relevant_in(qi, x, y) {
                    queries.push(qi);
                    qrels.push(vec![r]);
                }
            }
            tasks.push(Task {
                kind: if x == y { TaskKind::Mono } else { TaskKind::Cross },
                query_lang: x,
                cand_langs: vec![y],
                queries,
                qrels,
            });
        }
        let mut queries = Vec::new();
        let mut qrels = Vec::new();
        for qi in 0..langs[x].questions.len() {
            let rel: BTreeSet<CandRef> = (0..n).filter_map(|y| relevant_in(qi, x, y)).collect();
            queries.push(qi);
            qrels.push(rel.into_iter().collect());
        }
        tasks.push(Task {
            kind: TaskKind::Multi,
            query_lang: x,
            cand_langs: (0..n).collect(),
            queries,
            qrels,
        });
    }
    tasks
}
