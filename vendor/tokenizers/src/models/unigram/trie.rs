// hbt's patch: the trie is built at once from the sorted pieces into two flat arrays (nodes,
// and each node's children as one sorted run of edges) instead of one AHashMap per node
// filled piece by piece. Building the trie of a 250k-piece XLM-R vocabulary allocated and
// seeded a hash map per node: most of loading a tokenizer.json and, in a browser, most of
// building the encoder. A node has few children; lookups by binary search over its run are
// as fast for byte labels. The same pieces give the same trie, walked the same way.
use std::hash::Hash;

impl<Label: Eq + Hash + Copy + Ord> Trie<Label> {
    /// The trie of `keys`, borrowed: a vocabulary's pieces need no copy to be sorted.
    pub fn from_keys(mut keys: Vec<&[Label]>) -> Trie<Label> {
        keys.sort_unstable();
        keys.dedup();
        let mut trie = Trie {
            nodes: vec![Node::default()],
            edges: Vec::new(),
        };
        // (node, the sorted keys sharing its prefix, that prefix's length): each node's
        // children take one contiguous run of edges, allocated when the node is visited.
        let mut stack = vec![(0usize, 0usize, keys.len(), 0usize)];
        while let Some((node, lo, hi, depth)) = stack.pop() {
            let mut i = lo;
            // Sorted: a key equal to the prefix comes first.
            if i < hi && keys[i].len() == depth {
                trie.nodes[node].is_leaf = true;
                i += 1;
            }
            let first = trie.edges.len();
            while i < hi {
                let label = keys[i][depth];
                let mut j = i + 1;
                while j < hi && keys[j][depth] == label {
                    j += 1;
                }
                let child = trie.nodes.len();
                trie.nodes.push(Node::default());
                trie.edges.push((label, child as u32));
                stack.push((child, i, j, depth + 1));
                i = j;
            }
            trie.nodes[node].first = first as u32;
            trie.nodes[node].len = (trie.edges.len() - first) as u32;
        }
        trie
    }
}

#[derive(Clone)]
pub struct Trie<Label> {
    nodes: Vec<Node>,
    /// `(label, child node)`, each node's run sorted by label.
    edges: Vec<(Label, u32)>,
}

impl<Label: Eq + Hash + Copy + Ord> Trie<Label> {
    pub fn common_prefix_search<T>(&self, iterator: T) -> TrieIterator<'_, Label, T>
    where
        T: Iterator<Item = Label>,
    {
        TrieIterator {
            trie: self,
            node: 0,
            prefix: vec![],
            iterator,
        }
    }

    fn child(&self, node: u32, label: &Label) -> Option<u32> {
        let n = &self.nodes[node as usize];
        let run = &self.edges[n.first as usize..(n.first + n.len) as usize];
        run.binary_search_by(|(l, _)| l.cmp(label)).ok().map(|i| run[i].1)
    }
}

pub struct TrieIterator<'a, Label, T> {
    trie: &'a Trie<Label>,
    node: u32,
    prefix: Vec<Label>,
    iterator: T,
}

impl<Label, T> Iterator for TrieIterator<'_, Label, T>
where
    Label: Eq + Hash + Copy + Ord,
    T: Iterator<Item = Label>,
{
    type Item = Vec<Label>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let label = self.iterator.next()?;
            self.prefix.push(label);
            self.node = self.trie.child(self.node, &label)?;
            if self.trie.nodes[self.node as usize].is_leaf {
                return Some(self.prefix.clone());
            }
        }
    }
}

impl<Label> Default for Trie<Label> {
    fn default() -> Self {
        Self {
            nodes: vec![Node::default()],
            edges: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Default)]
struct Node {
    is_leaf: bool,
    /// The node's children: `edges[first..first + len]`.
    first: u32,
    len: u32,
}
