//! Train/dev splits by article, and the pair spaces the samplers draw from.
//!
//! Articles are linked across languages by shared question ids; each connected set of
//! (language, article) goes wholly to one side, so no paragraph (in any language) is on both.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::lareqa::Corpus;
use crate::sampler::{Group, PairSpace};

/// Question ids on each side of a split.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: BTreeSet<String>,
    pub dev: BTreeSet<String>,
}

fn find(p: &mut [usize], x: usize) -> usize {
    let mut r = x;
    while p[r] != r {
        r = p[r];
    }
    let mut y = x;
    while p[y] != r {
        let n = p[y];
        p[y] = r;
        y = n;
    }
    r
}

/// Split a corpus' question ids by article; `dev_fraction` of the articles (by question
/// count, approximately) go to dev.
pub fn split_by_article(c: &Corpus, dev_fraction: f64, seed: u64) -> Split {
    // Nodes: (language, article).
    let mut node: HashMap<(String, usize), usize> = HashMap::new();
    let mut parent: Vec<usize> = Vec::new();
    let mut first_of_id: HashMap<&str, usize> = HashMap::new();
    for d in c.langs.values() {
        for q in &d.questions {
            let a = d.paragraphs[q.paragraph].article;
            let n = *node.entry((d.lang.clone(), a)).or_insert_with(|| {
                parent.push(parent.len());
                parent.len() - 1
            });
            match first_of_id.get(q.id.as_str()) {
                Some(&m) => {
                    let (ra, rb) = (find(&mut parent, n), find(&mut parent, m));
                    parent[ra] = rb;
                }
                None => {
                    first_of_id.insert(&q.id, n);
                }
            }
        }
    }
    let mut comp_ids: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (id, &n) in &first_of_id {
        let r = find(&mut parent, n);
        comp_ids.entry(r).or_default().insert(id.to_string());
    }
    let mut comps: Vec<BTreeSet<String>> = comp_ids.into_values().collect();
    comps.sort(); // deterministic before shuffling
    comps.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let total: usize = comps.iter().map(BTreeSet::len).sum();
    let want_dev = (total as f64 * dev_fraction).round() as usize;
    let mut split = Split {
        train: BTreeSet::new(),
        dev: BTreeSet::new(),
    };
    for comp in comps {
        if split.dev.len() < want_dev {
            split.dev.extend(comp);
        } else {
            split.train.extend(comp);
        }
    }
    split
}

/// The pair space of a corpus restricted to some question ids and languages.
pub fn pair_space(c: &Corpus, ids: Option<&BTreeSet<String>>, langs: Option<&[String]>) -> PairSpace {
    let lang_list: Vec<String> = c
        .langs
        .keys()
        .filter(|l| langs.is_none_or(|ls| ls.contains(l)))
        .cloned()
        .collect();
    let mut by_id: BTreeMap<&str, Vec<u16>> = BTreeMap::new();
    for (li, l) in lang_list.iter().enumerate() {
        for q in &c.langs[l].questions {
            if ids.is_none_or(|s| s.contains(&q.id)) {
                by_id.entry(&q.id).or_default().push(li as u16);
            }
        }
    }
    PairSpace {
        name: c.name.clone(),
        langs: lang_list,
        groups: by_id
            .into_iter()
            .map(|(id, langs)| Group {
                id: id.to_string(),
                langs,
            })
            .collect(),
    }
}
