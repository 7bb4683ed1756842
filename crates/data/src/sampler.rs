//! Training pairs and the batch samplers of the hybrid-batch paper.
//!
//! A *group* is one question id: the same question in several languages, each with its
//! answer sentence in that language. Its training pairs are (question in X, answer in Y)
//! for every X, Y the group has. A batch never holds two pairs of one group, so a
//! translation of the positive is never used as an in-batch negative.
//!
//! Samplers (seeded; one epoch uses each pair at most once):
//! * `mono`  — X-X-mono: one language per batch, drawn uniformly, X = Y for every pair;
//! * `cross` — X-Y: every pair has X != Y, drawn uniformly among the group's remaining ones;
//! * `hybrid(α)` — each batch is mono with probability α, else cross;
//! * `x-x`   — LAReQA's X-X: X = Y per pair, languages mixed within a batch.
//!
//! An epoch ends when the batch type drawn next can no longer be filled. Epochs are planned
//! from `(seed, epoch)` alone, so a position `(epoch, batch)` resumes exactly.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// A sampler by name, as configs and the command line give it (α travels apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SamplerName {
    #[serde(rename = "mono", alias = "x-x-mono")]
    Mono,
    #[serde(rename = "cross", alias = "x-y")]
    Cross,
    #[serde(rename = "hybrid")]
    Hybrid,
    #[serde(rename = "x-x", alias = "xx")]
    XX,
}

impl SamplerName {
    /// The sampler with its α (used by hybrid only), checked.
    pub fn kind(self, alpha: f64) -> Result<SamplerKind> {
        let k = match self {
            Self::Mono => SamplerKind::Mono,
            Self::Cross => SamplerKind::Cross,
            Self::Hybrid => SamplerKind::Hybrid(alpha),
            Self::XX => SamplerKind::XX,
        };
        k.validate()?;
        Ok(k)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mono => "mono",
            Self::Cross => "cross",
            Self::Hybrid => "hybrid",
            Self::XX => "x-x",
        }
    }
}

impl std::fmt::Display for SamplerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SamplerName {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "mono" | "x-x-mono" => Self::Mono,
            "cross" | "x-y" => Self::Cross,
            "hybrid" => Self::Hybrid,
            "x-x" | "xx" => Self::XX,
            o => {
                return Err(DataError::Invalid(format!(
                    "unknown sampler `{o}` (mono, cross, hybrid, x-x)"
                )));
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "alpha")]
pub enum SamplerKind {
    Mono,
    Cross,
    Hybrid(f64),
    XX,
}

impl SamplerKind {
    pub fn parse(name: &str, alpha: f64) -> Result<Self> {
        name.parse::<SamplerName>()?.kind(alpha)
    }
    pub fn validate(&self) -> Result<()> {
        if let Self::Hybrid(a) = self
            && !(0.0..=1.0).contains(a)
        {
            return Err(DataError::Invalid(format!("alpha must lie in [0, 1], got {a}")));
        }
        Ok(())
    }
    pub fn name(&self) -> String {
        match self {
            Self::Mono => "mono".into(),
            Self::Cross => "cross".into(),
            Self::Hybrid(a) => format!("hybrid(α={a})"),
            Self::XX => "x-x".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchKind {
    Mono,
    Cross,
    XX,
}

/// A question id and the languages it exists in (indices into the space's languages).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub langs: Vec<u16>,
}

/// The pairs one corpus offers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairSpace {
    pub name: String,
    pub langs: Vec<String>,
    pub groups: Vec<Group>,
}

impl PairSpace {
    pub fn pair_count(&self) -> usize {
        self.groups.iter().map(|g| g.langs.len() * g.langs.len()).sum()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pair {
    pub space: usize,
    pub group: usize,
    pub qlang: u16,
    pub plang: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub kind: BatchKind,
    pub pairs: Vec<Pair>,
}

struct SpaceState {
    mono_left: Vec<Vec<u16>>,
    cross_left: Vec<Vec<(u16, u16)>>,
    n_langs: usize,
}

impl SpaceState {
    fn new(space: &PairSpace, rng: &mut ChaCha8Rng) -> Self {
        let mono_left = space.groups.iter().map(|g| g.langs.clone()).collect();
        let cross_left = space
            .groups
            .iter()
            .map(|g| {
                let mut v: Vec<(u16, u16)> = g
                    .langs
                    .iter()
                    .flat_map(|&x| g.langs.iter().filter(move |&&y| y != x).map(move |&y| (x, y)))
                    .collect();
                v.shuffle(rng);
                v
            })
            .collect();
        Self {
            mono_left,
            cross_left,
            n_langs: space.langs.len(),
        }
    }
    fn remaining(&self) -> usize {
        self.mono_left.iter().map(Vec::len).sum::<usize>() + self.cross_left.iter().map(Vec::len).sum::<usize>()
    }
    fn can_fill(&self, kind: BatchKind, size: usize) -> bool {
        match kind {
            BatchKind::Cross => self.cross_left.iter().filter(|v| !v.is_empty()).count() >= size,
            BatchKind::XX => self.mono_left.iter().filter(|v| !v.is_empty()).count() >= size,
            BatchKind::Mono => (0..self.n_langs as u16).any(|l| self.with_lang(l).len() >= size),
        }
    }
    fn with_lang(&self, l: u16) -> Vec<usize> {
        (0..self.mono_left.len())
            .filter(|&g| self.mono_left[g].contains(&l))
            .collect()
    }
    fn take(&mut self, kind: BatchKind, size: usize, space: usize, rng: &mut ChaCha8Rng) -> Vec<Pair> {
        let pick = |cands: Vec<usize>, rng: &mut ChaCha8Rng| -> Vec<usize> {
            let mut c = cands;
            let (chosen, _) = c.partial_shuffle(rng, size);
            chosen.to_vec()
        };
        match kind {
            BatchKind::Mono => {
                let langs: Vec<u16> = (0..self.n_langs as u16)
                    .filter(|&l| self.with_lang(l).len() >= size)
                    .collect();
                let l = langs[rng.random_range(0..langs.len())];
                pick(self.with_lang(l), rng)
                    .into_iter()
                    .map(|g| {
                        self.mono_left[g].retain(|&x| x != l);
                        Pair {
                            space,
                            group: g,
                            qlang: l,
                            plang: l,
                        }
                    })
                    .collect()
            }
            BatchKind::XX => {
                let groups: Vec<usize> = (0..self.mono_left.len())
                    .filter(|&g| !self.mono_left[g].is_empty())
                    .collect();
                pick(groups, rng)
                    .into_iter()
                    .map(|g| {
                        let i = rng.random_range(0..self.mono_left[g].len());
                        let l = self.mono_left[g].swap_remove(i);
                        Pair {
                            space,
                            group: g,
                            qlang: l,
                            plang: l,
                        }
                    })
                    .collect()
            }
            BatchKind::Cross => {
                let groups: Vec<usize> = (0..self.cross_left.len())
                    .filter(|&g| !self.cross_left[g].is_empty())
                    .collect();
                pick(groups, rng)
                    .into_iter()
                    .map(|g| {
                        let (x, y) = self.cross_left[g].pop().expect("group has a cross pair");
                        Pair {
                            space,
                            group: g,
                            qlang: x,
                            plang: y,
                        }
                    })
                    .collect()
            }
        }
    }
}

/// Plans epochs of batches over one or more corpora.
#[derive(Debug, Clone)]
pub struct Sampler {
    pub spaces: Vec<PairSpace>,
    pub kind: SamplerKind,
    pub batch_size: usize,
    pub seed: u64,
}

impl Sampler {
    pub fn new(spaces: Vec<PairSpace>, kind: SamplerKind, batch_size: usize, seed: u64) -> Result<Self> {
        kind.validate()?;
        if batch_size == 0 {
            return Err(DataError::Invalid("batch size must be at least 1".into()));
        }
        let total: usize = spaces.iter().map(PairSpace::pair_count).sum();
        if total == 0 {
            return Err(DataError::Invalid(
                "the training corpus is empty: no (question, answer) pairs".into(),
            ));
        }
        let most = spaces.iter().map(|s| s.groups.len()).max().unwrap_or(0);
        if batch_size > most {
            return Err(DataError::Invalid(format!(
                "batch size {batch_size} is larger than the number of distinct questions ({most}); a batch \
                 cannot hold two pairs of one question"
            )));
        }
        Ok(Self {
            spaces,
            kind,
            batch_size,
            seed,
        })
    }

    /// All batches of epoch `epoch` (0-based), deterministic in `(seed, epoch)`.
    pub fn epoch(&self, epoch: u64) -> Vec<Batch> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut states: Vec<SpaceState> = self.spaces.iter().map(|s| SpaceState::new(s, &mut rng)).collect();
        let mut out = Vec::new();
        loop {
            let kind = match self.kind {
                SamplerKind::Mono => BatchKind::Mono,
                SamplerKind::Cross => BatchKind::Cross,
                SamplerKind::XX => BatchKind::XX,
                SamplerKind::Hybrid(a) => {
                    if rng.random_bool(a) {
                        BatchKind::Mono
                    } else {
                        BatchKind::Cross
                    }
                }
            };
            // Corpora are mixed in proportion to the pairs they still hold.
            let able: Vec<(usize, usize)> = states
                .iter()
                .enumerate()
                .filter(|(_, s)| s.can_fill(kind, self.batch_size))
                .map(|(i, s)| (i, s.remaining()))
                .collect();
            let total: usize = able.iter().map(|(_, r)| r).sum();
            if able.is_empty() || total == 0 {
                break;
            }
            let mut t = rng.random_range(0..total);
            let mut chosen = able[0].0;
            for (i, r) in &able {
                if t < *r {
                    chosen = *i;
                    break;
                }
                t -= r;
            }
            let pairs = states[chosen].take(kind, self.batch_size, chosen, &mut rng);
            out.push(Batch { kind, pairs });
        }
        out
    }

    /// An endless stream of batches starting at `(epoch, index)`.
    pub fn stream(&self, epoch: u64, index: usize) -> impl Iterator<Item = (u64, usize, Batch)> + '_ {
        let mut e = epoch;
        let mut i = index;
        let mut plan = self.epoch(e);
        let mut empty_epochs = 0;
        std::iter::from_fn(move || {
            loop {
                if i < plan.len() {
                    empty_epochs = 0;
                    let b = plan[i].clone();
                    i += 1;
                    return Some((e, i - 1, b));
                }
                empty_epochs += 1;
                if empty_epochs > 2 {
                    return None; // this sampler cannot fill a single batch
                }
                e += 1;
                i = 0;
                plan = self.epoch(e);
            }
        })
    }
}
