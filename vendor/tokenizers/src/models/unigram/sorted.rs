// hbt's patch: the pieces looked up in their sorted order, as a file can store them, rather
// than in a trie built at load time. A browser builds e5's 250,002-piece model on every
// page of a docs site before the search box answers; sorting the pieces and building the
// trie were most of that (a fifth of a returning visitor's wait). Sorted pieces need no
// building: a prefix search narrows the run of keys sharing the bytes seen so far by two
// binary searches a byte — slower than a trie walk for bulk text, as fast as needed for a
// visitor's question, and it finds the same keys with the same ids (a piece given twice
// keeps its last id, as the trie does).
use super::trie::Trie;

/// Byte keys sorted by (bytes, id), one after another in one buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct SortedPieces {
    bytes: Vec<u8>,
    /// Key `r` is `bytes[ends[r - 1]..ends[r]]` (from 0 for the first).
    ends: Vec<u32>,
    /// Key `r`'s id.
    ids: Vec<u32>,
}

/// Why sorted pieces were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortedPiecesError {
    /// `ends` and `ids` differ in length, or the ends run backwards or past the bytes.
    Shape,
    /// This key (in sorted order) is not after the one before it in (bytes, id) order.
    Unsorted(usize),
    /// The ids are not each id below the count exactly once.
    NotAPermutation,
}

impl std::fmt::Display for SortedPiecesError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Self::Shape => write!(f, "the sorted pieces' ends and ids do not fit their bytes"),
            Self::Unsorted(r) => write!(f, "sorted piece {r} is not after the one before it"),
            Self::NotAPermutation => write!(f, "a sorted piece's id is out of range or given twice"),
        }
    }
}

impl std::error::Error for SortedPiecesError {}

impl SortedPieces {
    /// Keys in (bytes, id) order; checked, since a lookup relies on the order.
    pub fn new(bytes: Vec<u8>, ends: Vec<u32>, ids: Vec<u32>) -> Result<Self, SortedPiecesError> {
        if ends.len() != ids.len()
            || ends.windows(2).any(|w| w[0] > w[1])
            || ends.last().map_or(0, |&e| e as usize) != bytes.len()
        {
            return Err(SortedPiecesError::Shape);
        }
        let s = Self { bytes, ends, ids };
        for r in 1..s.ids.len() {
            if (s.key(r - 1), s.ids[r - 1]) >= (s.key(r), s.ids[r]) {
                return Err(SortedPiecesError::Unsorted(r));
            }
        }
        let mut seen = vec![false; s.ids.len()];
        for &id in &s.ids {
            match seen.get_mut(id as usize) {
                Some(x) if !*x => *x = true,
                _ => return Err(SortedPiecesError::NotAPermutation),
            }
        }
        Ok(s)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Key `r`, in sorted order, and its id.
    pub fn entry(&self, r: usize) -> (&[u8], u32) {
        (self.key(r), self.ids[r])
    }

    fn key(&self, r: usize) -> &[u8] {
        let start = if r == 0 { 0 } else { self.ends[r - 1] as usize };
        &self.bytes[start..self.ends[r] as usize]
    }

    /// The id of `key` (the last, if given twice).
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        let after = partition(0, self.len(), |r| self.key(r) <= key);
        (after > 0 && self.key(after - 1) == key).then(|| self.ids[after - 1])
    }
}

/// The first `r` in `lo..hi` where `before(r)` is false (`before` true, then false).
fn partition(mut lo: usize, mut hi: usize, before: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The pieces' lookup: a trie built from them, or their stored sorted order.
#[derive(Clone)]
pub(super) enum PieceIndex {
    Trie(Trie<u8>),
    Sorted(SortedPieces),
}

impl PieceIndex {
    pub(super) fn get(&self, key: &[u8]) -> Option<u32> {
        match self {
            Self::Trie(t) => t.get(key),
            Self::Sorted(s) => s.get(key),
        }
    }

    /// Each key that prefixes `text`: its length and id, shortest first.
    pub(super) fn common_prefix_search<'a>(&'a self, text: &'a [u8]) -> PrefixSearch<'a> {
        match self {
            Self::Trie(t) => PrefixSearch::Trie(t.common_prefix_search(text.iter().copied())),
            Self::Sorted(s) => PrefixSearch::Sorted {
                pieces: s,
                text,
                lo: 0,
                hi: s.len(),
                depth: 0,
            },
        }
    }
}

pub(super) enum PrefixSearch<'a> {
    Trie(super::trie::TrieIterator<'a, u8, std::iter::Copied<std::slice::Iter<'a, u8>>>),
    /// Keys `lo..hi` are those that start with `text[..depth]`.
    Sorted {
        pieces: &'a SortedPieces,
        text: &'a [u8],
        lo: usize,
        hi: usize,
        depth: usize,
    },
}

impl Iterator for PrefixSearch<'_> {
    type Item = (usize, u32);
    fn next(&mut self) -> Option<(usize, u32)> {
        let (pieces, text, lo, hi, depth) = match self {
            Self::Trie(t) => return t.next(),
            Self::Sorted {
                pieces,
                text,
                lo,
                hi,
                depth,
            } => (*pieces, *text, lo, hi, depth),
        };
        while *depth < text.len() && *lo < *hi {
            let (d, b) = (*depth, text[*depth]);
            // In the run, keys of length d (the prefix itself) come first, then by byte d.
            let start = partition(*lo, *hi, |r| pieces.key(r).get(d).is_none_or(|&k| k < b));
            let end = partition(start, *hi, |r| pieces.key(r)[d] == b);
            (*lo, *hi, *depth) = (start, end, d + 1);
            // Keys equal to text[..d + 1] lead the new run; ids ascend among them.
            let exact = partition(start, end, |r| pieces.key(r).len() == d + 1);
            if exact > start {
                return Some((d + 1, pieces.ids[exact - 1]));
            }
        }
        None
    }
}
