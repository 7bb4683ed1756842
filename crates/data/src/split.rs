//! Train/dev splits by article, and the pair spaces the samplers draw from.
//!
//! Articles are linked across languages by shared question ids; each connected set of
//! (language, article) goes wholly to one side, so no paragraph (in any language) is on both.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::lareqa::Corpus;
use crate::pairs::PairData;
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
            .into_values()
            .enumerate()
            .map(|(i, langs)| Group {
                index: i as u32,
                langs,
                passage_langs: None,
            })
            .collect(),
    }
}

/// Which groups of a data set go to dev (`true`): rows that share a `doc` (in one language)
/// stay on one side, with every group they touch; a group without docs is its own unit.
/// For a LAReQA folder read as rows this is [`split_by_article`] exactly (same ids on each
/// side: the docs are its articles).
pub fn split_groups(d: &PairData, dev_fraction: f64, seed: u64) -> Vec<bool> {
    let n = d.group_count();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut first_of_doc: HashMap<u32, usize> = HashMap::new();
    for r in 0..d.row_count() {
        if let Some(doc) = d.row_doc(r) {
            let g = d.row_group(r);
            match first_of_doc.get(&doc) {
                Some(&h) => {
                    let (ra, rb) = (find(&mut parent, g), find(&mut parent, h));
                    parent[ra] = rb;
                }
                None => {
                    first_of_doc.insert(doc, g);
                }
            }
        }
    }
    let mut comp_of_root: HashMap<usize, usize> = HashMap::new();
    let mut comps: Vec<Vec<u32>> = Vec::new();
    for g in 0..n {
        let r = find(&mut parent, g);
        let c = *comp_of_root.entry(r).or_insert_with(|| {
            comps.push(Vec::new());
            comps.len() - 1
        });
        comps[c].push(g as u32);
    }
    drop(comp_of_root);
    // Groups are in id order, so ordering components by their group indices orders them by
    // their sorted ids, as `split_by_article` does before shuffling.
    comps.sort_unstable();
    comps.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let want_dev = (n as f64 * dev_fraction).round() as usize;
    let mut dev = vec![false; n];
    let mut n_dev = 0;
    for comp in comps {
        if n_dev < want_dev {
            n_dev += comp.len();
            for g in comp {
                dev[g as usize] = true;
            }
        }
    }
    dev
}

/// The pair space of a data set: the groups `keep` selects (all where None), restricted to
/// some languages; a group left with no pair is left out.
pub fn pairs_space(d: &PairData, keep: Option<&dyn Fn(usize) -> bool>, langs: Option<&[String]>) -> PairSpace {
    let allowed: Vec<bool> = d.langs.iter().map(|l| langs.is_none_or(|ls| ls.contains(l))).collect();
    let mut groups = Vec::new();
    for g in 0..d.group_count() {
        if keep.is_some_and(|k| !k(g)) {
            continue;
        }
        let e = d.entries(g);
        let pick = |query: bool| -> Vec<u16> {
            let mut v: Vec<u16> = e
                .iter()
                .filter(|x| (if query { x.query } else { x.passage }) && allowed[x.lang as usize])
                .map(|x| x.lang)
                .collect();
            v.dedup();
            v
        };
        let (q, p) = (pick(true), pick(false));
        if q.is_empty() || p.is_empty() {
            continue;
        }
        groups.push(Group {
            index: g as u32,
            passage_langs: (q != p).then_some(p),
            langs: q,
        });
    }
    PairSpace {
        name: d.name.clone(),
        langs: d.langs.clone(),
        groups,
    }
}
