//! Training pairs and the batch samplers of the hybrid-batch paper.
//! (long: the samplers beside the order-statistic set and the copied generator that make an
//! epoch plan fast and exactly the straightforward one; they change together.)
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

/// One group (a question id): the languages it has a query in and a passage in. Its
/// pairs are every (query language X, passage language Y); X = Y is a mono pair.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    /// The group's index in its data set.
    pub index: u32,
    /// Languages with a query (indices into the space's languages), ascending.
    pub langs: Vec<u16>,
    /// Languages with a passage, where they differ from `langs` (a row whose query and
    /// passage are in two languages); None: the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_langs: Option<Vec<u16>>,
}

impl Group {
    pub fn passage_langs(&self) -> &[u16] {
        self.passage_langs.as_deref().unwrap_or(&self.langs)
    }
    fn mono_langs(&self) -> Vec<u16> {
        let p = self.passage_langs();
        self.langs.iter().copied().filter(|l| p.contains(l)).collect()
    }
    fn pair_count(&self) -> usize {
        self.langs.len() * self.passage_langs().len()
    }
    pub fn cross_count(&self) -> usize {
        self.pair_count() - self.mono_langs().len()
    }
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
        self.groups.iter().map(Group::pair_count).sum()
    }
    /// Pairs whose query and passage languages differ.
    pub fn cross_pair_count(&self) -> usize {
        self.groups.iter().map(Group::cross_count).sum()
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

/// A sorted set of group indices with "the k-th smallest" and removal in O(log n) (a
/// Fenwick tree over a fixed universe): what lets an epoch over millions of groups be
/// planned in seconds while drawing exactly what a sorted `Vec` would give.
struct OrdSet {
    items: Vec<u32>,
    tree: Vec<u32>,
    present: Vec<bool>,
    len: usize,
}

impl OrdSet {
    fn new(items: Vec<u32>) -> Self {
        let n = items.len();
        let mut tree = vec![0u32; n + 1];
        for i in 1..=n {
            tree[i] += 1;
            let j = i + (i & i.wrapping_neg());
            if j <= n {
                tree[j] += tree[i];
            }
        }
        Self {
            items,
            tree,
            present: vec![true; n],
            len: n,
        }
    }
    /// The k-th (0-based) item still present.
    fn kth(&self, k: usize) -> u32 {
        let n = self.items.len();
        let (mut pos, mut rem) = (0usize, k as u32 + 1);
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] < rem {
                pos = next;
                rem -= self.tree[next];
            }
            step >>= 1;
        }
        self.items[pos]
    }
    fn remove(&mut self, item: u32) {
        let Ok(i) = self.items.binary_search(&item) else { return };
        if !std::mem::take(&mut self.present[i]) {
            return;
        }
        self.len -= 1;
        let mut j = i + 1;
        while j < self.tree.len() {
            self.tree[j] -= 1;
            j += j & j.wrapping_neg();
        }
    }
}

/// `rand` 0.9's `IncreasingUniform` (private there), which `partial_shuffle` draws its swap
/// positions from; copied so a shuffle of a virtual list consumes the generator exactly as
/// the real one does (the test `virtual_shuffle_is_partial_shuffle` holds them equal).
struct IncreasingUniform<'a> {
    rng: &'a mut ChaCha8Rng,
    n: u32,
    chunk: u32,
    chunk_remaining: u8,
}

impl<'a> IncreasingUniform<'a> {
    fn new(rng: &'a mut ChaCha8Rng, n: u32) -> Self {
        Self {
            rng,
            n,
            chunk: 0,
            chunk_remaining: if n == 0 { 1 } else { 0 },
        }
    }
    fn next_index(&mut self) -> usize {
        let next_n = self.n + 1;
        let next_chunk_remaining = self.chunk_remaining.checked_sub(1).unwrap_or_else(|| {
            let (bound, remaining) = calculate_bound_u32(next_n);
            self.chunk = self.rng.random_range(..bound);
            remaining - 1
        });
        let result = if next_chunk_remaining == 0 {
            self.chunk as usize
        } else {
            let r = self.chunk % next_n;
            self.chunk /= next_n;
            r as usize
        };
        self.chunk_remaining = next_chunk_remaining;
        self.n = next_n;
        result
    }
}

fn calculate_bound_u32(m: u32) -> (u32, u8) {
    let mut product = m;
    let mut current = m + 1;
    loop {
        match product.checked_mul(current) {
            Some(p) => {
                product = p;
                current += 1;
            }
            None => return (product, (current - m) as u8),
        }
    }
}

/// What `slice.partial_shuffle(rng, amount).0` returns for the slice "the set's items in
/// order", without building that slice: the swaps are kept in a map.
fn virtual_partial_shuffle(set: &OrdSet, amount: usize, rng: &mut ChaCha8Rng) -> Vec<u32> {
    let len = set.len;
    let m = len.saturating_sub(amount);
    let mut moved: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
    let at =
        |moved: &std::collections::HashMap<usize, u32>, j: usize| moved.get(&j).copied().unwrap_or_else(|| set.kth(j));
    let mut chooser = IncreasingUniform::new(rng, m as u32);
    for i in m..len {
        let index = chooser.next_index();
        let (a, b) = (at(&moved, i), at(&moved, index));
        moved.insert(i, b);
        moved.insert(index, a);
    }
    (m..len).map(|j| at(&moved, j)).collect()
}

/// For tests: the virtual shuffle of `0..len` beside the real one.
#[doc(hidden)]
pub fn virtual_shuffle_of_range(len: usize, amount: usize, seed: u64) -> Vec<u32> {
    let set = OrdSet::new((0..len as u32).collect());
    virtual_partial_shuffle(&set, amount, &mut ChaCha8Rng::seed_from_u64(seed))
}

struct SpaceState {
    mono_left: Vec<Vec<u16>>,
    cross_left: Vec<Vec<(u16, u16)>>,
    /// Per language: the groups whose mono pair in it is left.
    by_lang: Vec<OrdSet>,
    /// Groups with a mono pair left (X-X), and with a cross pair left.
    with_mono: OrdSet,
    with_cross: OrdSet,
    remaining: usize,
}

impl SpaceState {
    fn new(space: &PairSpace, rng: &mut ChaCha8Rng) -> Self {
        let mono_left: Vec<Vec<u16>> = space.groups.iter().map(Group::mono_langs).collect();
        let cross_left: Vec<Vec<(u16, u16)>> = space
            .groups
            .iter()
            .map(|g| {
                let p = g.passage_langs();
                let mut v: Vec<(u16, u16)> = g
                    .langs
                    .iter()
                    .flat_map(|&x| p.iter().filter(move |&&y| y != x).map(move |&y| (x, y)))
                    .collect();
                v.shuffle(rng);
                v
            })
            .collect();
        let mut members: Vec<Vec<u32>> = vec![Vec::new(); space.langs.len()];
        for (g, ls) in mono_left.iter().enumerate() {
            for &l in ls {
                members[l as usize].push(g as u32);
            }
        }
        let nonempty = |v: &[usize]| -> Vec<u32> { (0..v.len()).filter(|&g| v[g] > 0).map(|g| g as u32).collect() };
        let mono_n: Vec<usize> = mono_left.iter().map(Vec::len).collect();
        let cross_n: Vec<usize> = cross_left.iter().map(Vec::len).collect();
        Self {
            remaining: mono_n.iter().sum::<usize>() + cross_n.iter().sum::<usize>(),
            with_mono: OrdSet::new(nonempty(&mono_n)),
            with_cross: OrdSet::new(nonempty(&cross_n)),
            by_lang: members.into_iter().map(OrdSet::new).collect(),
            mono_left,
            cross_left,
        }
    }
    fn can_fill(&self, kind: BatchKind, size: usize) -> bool {
        match kind {
            BatchKind::Cross => self.with_cross.len >= size,
            BatchKind::XX => self.with_mono.len >= size,
            BatchKind::Mono => self.by_lang.iter().any(|s| s.len >= size),
        }
    }
    fn took_mono(&mut self, g: u32, l: u16) {
        self.by_lang[l as usize].remove(g);
        if self.mono_left[g as usize].is_empty() {
            self.with_mono.remove(g);
        }
        self.remaining -= 1;
    }
    fn take(&mut self, kind: BatchKind, size: usize, space: usize, rng: &mut ChaCha8Rng) -> Vec<Pair> {
        let pair = |g: u32, qlang, plang| Pair {
            space,
            group: g as usize,
            qlang,
            plang,
        };
        match kind {
            BatchKind::Mono => {
                let langs: Vec<u16> = (0..self.by_lang.len() as u16)
                    .filter(|&l| self.by_lang[l as usize].len >= size)
                    .collect();
                let l = langs[rng.random_range(0..langs.len())];
                let chosen = virtual_partial_shuffle(&self.by_lang[l as usize], size, rng);
                chosen
                    .into_iter()
                    .map(|g| {
                        self.mono_left[g as usize].retain(|&x| x != l);
                        self.took_mono(g, l);
                        pair(g, l, l)
                    })
                    .collect()
            }
            BatchKind::XX => {
                let chosen = virtual_partial_shuffle(&self.with_mono, size, rng);
                chosen
                    .into_iter()
                    .map(|g| {
                        let left = &mut self.mono_left[g as usize];
                        let i = rng.random_range(0..left.len());
                        let l = left.swap_remove(i);
                        self.took_mono(g, l);
                        pair(g, l, l)
                    })
                    .collect()
            }
            BatchKind::Cross => {
                let chosen = virtual_partial_shuffle(&self.with_cross, size, rng);
                chosen
                    .into_iter()
                    .map(|g| {
                        let left = &mut self.cross_left[g as usize];
                        let (x, y) = left.pop().expect("group has a cross pair");
                        if left.is_empty() {
                            self.with_cross.remove(g);
                        }
                        self.remaining -= 1;
                        pair(g, x, y)
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
        self.plan(epoch).collect()
    }

    /// Epoch `epoch`'s batches, each planned when it is asked for: the same batches as
    /// [`Sampler::epoch`] without holding the epoch (millions of pairs for a large data set).
    pub fn plan(&self, epoch: u64) -> EpochPlan<'_> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let states: Vec<SpaceState> = self.spaces.iter().map(|s| SpaceState::new(s, &mut rng)).collect();
        EpochPlan {
            sampler: self,
            rng,
            states,
            done: false,
        }
    }

    /// An endless stream of batches starting at `(epoch, index)`.
    pub fn stream(&self, epoch: u64, index: usize) -> impl Iterator<Item = (u64, usize, Batch)> + '_ {
        let mut e = epoch;
        let mut plan = self.plan(e);
        let (mut i, mut skip) = (0usize, index);
        // Epochs in a row that gave the stream nothing (tiny data can leave one without a
        // full batch); three in a row end it. An epoch that gave batches resets the count
        // when it ends — counting its end as an empty epoch stopped streams early.
        let (mut empty_epochs, mut gave) = (0, false);
        std::iter::from_fn(move || {
            loop {
                match plan.next() {
                    Some(b) => {
                        i += 1;
                        if skip > 0 {
                            skip -= 1;
                            continue;
                        }
                        gave = true;
                        return Some((e, i - 1, b));
                    }
                    None => {
                        empty_epochs = if gave { 0 } else { empty_epochs + 1 };
                        gave = false;
                        if empty_epochs > 2 {
                            return None; // this sampler cannot fill a single batch
                        }
                        skip = 0;
                        i = 0;
                        e += 1;
                        plan = self.plan(e);
                    }
                }
            }
        })
    }
}

/// One epoch's batches as they are planned ([`Sampler::plan`]).
pub struct EpochPlan<'a> {
    sampler: &'a Sampler,
    rng: ChaCha8Rng,
    states: Vec<SpaceState>,
    done: bool,
}

impl Iterator for EpochPlan<'_> {
    type Item = Batch;
    fn next(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        let (rng, size) = (&mut self.rng, self.sampler.batch_size);
        let kind = match self.sampler.kind {
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
        let able: Vec<(usize, usize)> = self
            .states
            .iter()
            .enumerate()
            .filter(|(_, s)| s.can_fill(kind, size))
            .map(|(i, s)| (i, s.remaining))
            .collect();
        let total: usize = able.iter().map(|(_, r)| r).sum();
        if able.is_empty() || total == 0 {
            self.done = true;
            return None;
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
        let pairs = self.states[chosen].take(kind, size, chosen, rng);
        Some(Batch { kind, pairs })
    }
}
