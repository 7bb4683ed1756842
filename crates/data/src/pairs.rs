//! Training pairs from any source: (query, positive, negatives…) rows, grouped by `id`.
//! (long: the data set, its stores and its one builder together: the builder's checks are
//! what a group is, and the readers of every format hand it rows.)
//!
//! A row pairs a query in one language with a positive passage in the same or another
//! language. Rows that share an `id` are one *group*: the same question in several languages,
//! so any of the group's queries goes with any of its passages (LAReQA's parallel layout is
//! the special case where every row has one language). The hybrid samplers draw from groups:
//! an X-X-mono pair takes a group's query and passage in one language, an X-Y pair in two.
//!
//! Texts live in memory, or, for an uncompressed JSON Lines file, stay in the file: only
//! each row's byte offset is kept, and a batch reads its rows back (a 2 GB file trains in a
//! few hundred MB; `docs/using.md` has the figure).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{DataError, Result};
use crate::iso::{self, Detected};
use crate::lareqa::Corpus;

/// The most bytes one row may have: a longer one is refused, not read into memory.
pub const MAX_ROW_BYTES: usize = 16 << 20;

/// One row's texts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    pub query: String,
    pub positive: String,
    pub negatives: Vec<String>,
}

/// A row as a reader finds it, before it is checked and grouped.
#[derive(Debug, Clone, Default)]
pub struct RawRow {
    pub id: Option<String>,
    pub lang: Option<String>,
    pub query_lang: Option<String>,
    pub passage_lang: Option<String>,
    /// Rows of one document stay on one side of the train/dev split.
    pub doc: Option<String>,
    pub row: Row,
}

/// Where a row came from, for messages: a file and its line (JSON Lines) or row (tables).
#[derive(Debug, Clone)]
pub struct Place<'a> {
    pub path: &'a Path,
    pub what: &'static str,
    pub n: usize,
}

impl Place<'_> {
    pub fn err(&self, message: impl Into<String>) -> DataError {
        DataError::Format {
            path: self.path.to_path_buf(),
            place: format!("{} {}", self.what, self.n),
            message: message.into(),
        }
    }
}

/// One language of one group: which row holds its query and/or its passage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub lang: u16,
    pub query: bool,
    pub passage: bool,
    pub row: u32,
}

/// The file format a data set was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Lareqa,
    Beir,
    Jsonl,
    Parquet,
    Arrow,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lareqa => "LAReQA",
            Self::Beir => "BEIR",
            Self::Jsonl => "JSON Lines",
            Self::Parquet => "Parquet",
            Self::Arrow => "Arrow (datasets.save_to_disk)",
        }
    }
}

/// Rows whose texts stay in their JSON Lines file.
pub(crate) struct LineStore {
    pub path: PathBuf,
    pub offsets: Vec<u64>,
    pub columns: crate::read::Columns,
    pub file: Mutex<BufReader<File>>,
}

enum Store {
    Memory(Vec<Row>),
    Lines(LineStore),
}

/// A training data set: rows, their groups and languages.
pub struct PairData {
    pub name: String,
    pub source: PathBuf,
    pub format: Format,
    /// Language codes, sorted; entries index into this.
    pub langs: Vec<String>,
    /// Languages the reader had to detect (no `lang` column), with their counts.
    pub detected: Option<Detected>,
    group_start: Vec<u32>,
    entries: Vec<Entry>,
    /// Group ids (None: rows had no `id`, each is its own group).
    ids: Option<Vec<Box<str>>>,
    /// Each row's document (index into `docs`), u32::MAX for none.
    row_doc: Vec<u32>,
    row_group: Vec<u32>,
    row_lang: Vec<(u16, u16)>,
    doc_names: Vec<String>,
    store: Store,
}

impl std::fmt::Debug for PairData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairData")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("format", &self.format)
            .field("langs", &self.langs)
            .field("groups", &self.group_count())
            .field("rows", &self.row_count())
            .finish()
    }
}

impl PairData {
    pub fn group_count(&self) -> usize {
        self.group_start.len().saturating_sub(1)
    }
    pub fn row_count(&self) -> usize {
        self.row_group.len()
    }
    pub fn has_ids(&self) -> bool {
        self.ids.is_some()
    }
    /// Whether the texts stay in the file (read back batch by batch).
    pub fn streams(&self) -> bool {
        matches!(self.store, Store::Lines(_))
    }
    /// The group's id (rows without ids: `row-N`, N counted from 1).
    pub fn group_id(&self, g: usize) -> String {
        match &self.ids {
            Some(ids) => ids[g].to_string(),
            None => format!("row-{}", self.entries(g)[0].row + 1),
        }
    }
    pub fn entries(&self, g: usize) -> &[Entry] {
        &self.entries[self.group_start[g] as usize..self.group_start[g + 1] as usize]
    }
    pub fn row_group(&self, row: usize) -> usize {
        self.row_group[row] as usize
    }
    /// The row holding group `g`'s query (`query`) or passage in language `lang`.
    pub fn row_of(&self, g: usize, lang: u16, query: bool) -> Option<usize> {
        self.entries(g)
            .iter()
            .find(|e| e.lang == lang && if query { e.query } else { e.passage })
            .map(|e| e.row as usize)
    }
    /// The document of a row, for the split (None: the row's group is its own unit).
    pub fn row_doc(&self, row: usize) -> Option<u32> {
        let d = self.row_doc[row];
        (d != u32::MAX).then_some(d)
    }
    pub fn doc_count(&self) -> usize {
        self.doc_names.len()
    }
    pub fn doc_name(&self, d: usize) -> &str {
        &self.doc_names[d]
    }
    /// A row's languages: (query, passage). Kept per row, since a row whose query repeats
    /// its group's (same language, same text) adds no entry of its own.
    pub fn row_langs(&self, row: usize) -> (u16, u16) {
        self.row_lang[row]
    }

    /// One row's texts (read from the file where the data streams).
    pub fn row(&self, i: usize) -> Result<Row> {
        match &self.store {
            Store::Memory(rows) => Ok(rows[i].clone()),
            Store::Lines(s) => s.read(i),
        }
    }

    /// Counts for `hbt data stats` and the line printed before training.
    pub fn stats(&self) -> PairStats {
        let mut by_lang: BTreeMap<String, LangCount> = BTreeMap::new();
        let mut cross_rows = 0;
        for r in 0..self.row_count() {
            let (q, p) = self.row_langs(r);
            by_lang.entry(self.langs[q as usize].clone()).or_default().queries += 1;
            by_lang.entry(self.langs[p as usize].clone()).or_default().passages += 1;
            cross_rows += usize::from(q != p);
        }
        let multi = (0..self.group_count())
            .filter(|&g| {
                let e = self.entries(g);
                e.iter().any(|x| x.lang != e[0].lang)
            })
            .count();
        PairStats {
            name: self.name.clone(),
            format: self.format.as_str().into(),
            rows: self.row_count(),
            groups: self.group_count(),
            multilingual_groups: multi,
            cross_lingual_rows: cross_rows,
            documents: self.doc_names.len(),
            languages: by_lang,
            detected: self.detected.clone(),
        }
    }
}

impl LineStore {
    fn read(&self, i: usize) -> Result<Row> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.seek(SeekFrom::Start(self.offsets[i]))
            .map_err(|e| DataError::io(&self.path, e))?;
        let mut line = Vec::new();
        (&mut *f)
            .take(MAX_ROW_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| DataError::io(&self.path, e))?;
        let place = Place {
            path: &self.path,
            what: "row",
            n: i + 1,
        };
        // The file was read whole once; a row that no longer parses means it changed since.
        let raw = crate::read::parse_line(&line, &self.columns, &place)
            .map_err(|e| DataError::Corpus {
                path: self.path.clone(),
                message: format!("changed while training (row {}): {e}", i + 1),
            })?
            .ok_or_else(|| place.err("changed while training: the row is now blank"))?;
        Ok(raw.row)
    }
}

/// Per-language counts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LangCount {
    pub queries: usize,
    pub passages: usize,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PairStats {
    pub name: String,
    pub format: String,
    pub rows: usize,
    pub groups: usize,
    pub multilingual_groups: usize,
    pub cross_lingual_rows: usize,
    pub documents: usize,
    pub languages: BTreeMap<String, LangCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected: Option<Detected>,
}

/// Rows checked and grouped as a reader hands them over.
pub struct Builder {
    path: PathBuf,
    format: Format,
    detect: bool,
    detected: Detected,
    lang_index: HashMap<String, u16>,
    /// Per row: group (before sorting), then the row's entries.
    row_group: Vec<u32>,
    pending: Vec<(u32, Entry)>,
    group_of_id: HashMap<Box<str>, u32>,
    ids: Vec<Box<str>>,
    with_ids: Option<bool>,
    /// (group, lang, query?) packed in a u64 → the hash of its text: one text per slot. Two
    /// words an entry (the row that set it is found again only for an error message): for
    /// millions of rows this table is the reader's largest.
    slots: HashMap<u64, u64>,
    doc_index: HashMap<(u16, String), u32>,
    doc_names: Vec<String>,
    row_doc: Vec<u32>,
    row_lang: Vec<(u16, u16)>,
    rows: Vec<Row>,
    keep_texts: bool,
}

fn text_hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl Builder {
    /// `keep_texts`: hold the rows' texts (false: the caller streams them from the file).
    pub fn new(path: &Path, format: Format, keep_texts: bool) -> Self {
        Self {
            path: path.to_path_buf(),
            format,
            detect: false,
            detected: Detected::default(),
            lang_index: HashMap::new(),
            row_group: Vec::new(),
            pending: Vec::new(),
            group_of_id: HashMap::new(),
            ids: Vec::new(),
            with_ids: None,
            slots: HashMap::new(),
            doc_index: HashMap::new(),
            doc_names: Vec::new(),
            row_doc: Vec::new(),
            row_lang: Vec::new(),
            rows: Vec::new(),
            keep_texts,
        }
    }

    fn lang(&mut self, code: Option<&str>, text: &str, column: &str, place: &Place) -> Result<u16> {
        let code = match code {
            Some(c) => {
                if !iso::is_iso_639_1(c) {
                    return Err(place.err(format!(
                        "`{column}`: unknown language code `{c}` (expected an ISO 639-1 code such as en, de, zh)"
                    )));
                }
                c.to_string()
            }
            None => {
                self.detect = true;
                match iso::detect(text) {
                    Some(c) => {
                        *self.detected.by_lang.entry(c.to_string()).or_default() += 1;
                        c.to_string()
                    }
                    None => {
                        self.detected.undetected += 1;
                        return Err(place.err(format!(
                            "no `{column}` column and the language of {:?} could not be detected: give the column",
                            crate::read::clip(text, 60)
                        )));
                    }
                }
            }
        };
        let n = self.lang_index.len();
        if n >= u16::MAX as usize && !self.lang_index.contains_key(&code) {
            return Err(place.err("too many languages"));
        }
        Ok(*self.lang_index.entry(code).or_insert(n as u16))
    }

    /// Check one row and add it.
    // long: each check in the order a row's fields are read, each with its own message.
    pub fn add(&mut self, raw: RawRow, place: &Place) -> Result<()> {
        let RawRow {
            id,
            lang,
            query_lang,
            passage_lang,
            doc,
            row,
        } = raw;
        if row.query.trim().is_empty() {
            return Err(place.err("the query is empty"));
        }
        if row.positive.trim().is_empty() {
            return Err(place.err("the positive passage is empty"));
        }
        if let Some(i) = row.negatives.iter().position(|n| n.trim().is_empty()) {
            return Err(place.err(format!("negative {} is empty", i + 1)));
        }
        let r = self.row_group.len();
        if r >= u32::MAX as usize - 1 {
            return Err(place.err("more than 4 billion rows"));
        }
        let ql = self.lang(
            query_lang.as_deref().or(lang.as_deref()),
            &row.query,
            "query_lang",
            place,
        )?;
        let pl = self.lang(
            passage_lang.as_deref().or(lang.as_deref()),
            &row.positive,
            "passage_lang",
            place,
        )?;
        let has_id = id.is_some();
        match self.with_ids {
            None => self.with_ids = Some(has_id),
            Some(w) if w != has_id => {
                return Err(place.err(if w {
                    "no `id`, where earlier rows have one (give every row an id, or none)"
                } else {
                    "an `id`, where earlier rows have none (give every row an id, or none)"
                }));
            }
            _ => {}
        }
        let g = match id {
            Some(id) => {
                if id.is_empty() {
                    return Err(place.err("the id is empty"));
                }
                let next = self.ids.len() as u32;
                let id: Box<str> = id.into();
                match self.group_of_id.get(&id) {
                    Some(&g) => g,
                    None => {
                        self.ids.push(id.clone());
                        self.group_of_id.insert(id, next);
                        next
                    }
                }
            }
            None => r as u32,
        };
        let mut fresh = [true, true];
        if has_id {
            for (k, (lang, text)) in [(ql, &row.query), (pl, &row.positive)].into_iter().enumerate() {
                let is_query = k == 0;
                let h = text_hash(text);
                let key = (u64::from(g) << 17) | (u64::from(lang) << 1) | u64::from(is_query);
                match self.slots.get(&key) {
                    Some(&oh) if oh == h => fresh[k] = false,
                    Some(_) => {
                        let other = (0..r)
                            .find(|&i| {
                                let (q, p) = self.row_lang[i];
                                self.row_group[i] == g && (if is_query { q } else { p }) == lang
                            })
                            .unwrap_or(0);
                        return Err(place.err(format!(
                            "id `{}` already has a different {} in `{}` (data row {}): rows of one id are one question, one text per language",
                            self.ids[g as usize],
                            if is_query { "query" } else { "positive passage" },
                            self.code(lang),
                            other + 1
                        )));
                    }
                    None => {
                        self.slots.insert(key, h);
                    }
                }
            }
        }
        let doc = match doc {
            Some(d) => {
                let n = self.doc_index.len() as u32;
                let names = &mut self.doc_names;
                *self.doc_index.entry((ql, d.clone())).or_insert_with(|| {
                    names.push(d);
                    n
                })
            }
            None => u32::MAX,
        };
        if ql == pl {
            self.pending.push((
                g,
                Entry {
                    lang: ql,
                    query: fresh[0],
                    passage: fresh[1],
                    row: r as u32,
                },
            ));
        } else {
            for (lang, q, p) in [(ql, fresh[0], false), (pl, false, fresh[1])] {
                self.pending.push((
                    g,
                    Entry {
                        lang,
                        query: q,
                        passage: p,
                        row: r as u32,
                    },
                ));
            }
        }
        self.row_group.push(g);
        self.row_doc.push(doc);
        self.row_lang.push((ql, pl));
        if self.keep_texts {
            self.rows.push(row);
        }
        Ok(())
    }

    fn code(&self, lang: u16) -> &str {
        self.lang_index
            .iter()
            .find(|(_, v)| **v == lang)
            .map(|(k, _)| k.as_str())
            .unwrap_or("?")
    }

    pub fn rows_so_far(&self) -> usize {
        self.row_group.len()
    }

    /// The data set: groups in id order (rows without ids: row order), languages sorted.
    pub(crate) fn finish(self, name: String, lines: Option<LineStore>) -> Result<PairData> {
        if self.row_group.is_empty() {
            return Err(DataError::Corpus {
                path: self.path.clone(),
                message: "no rows: the data set is empty".into(),
            });
        }
        let mut langs: Vec<(String, u16)> = self.lang_index.into_iter().collect();
        langs.sort();
        let mut remap = vec![0u16; langs.len()];
        for (new, (_, old)) in langs.iter().enumerate() {
            remap[*old as usize] = new as u16;
        }
        let with_ids = self.with_ids == Some(true);
        let n_groups = if with_ids { self.ids.len() } else { self.row_group.len() };
        // Group order: by id where rows have ids (as LAReQA's question ids are), else rows'.
        let order: Vec<u32> = if with_ids {
            let mut o: Vec<u32> = (0..n_groups as u32).collect();
            o.sort_by(|a, b| self.ids[*a as usize].cmp(&self.ids[*b as usize]));
            o
        } else {
            (0..n_groups as u32).collect()
        };
        let mut rank = vec![0u32; n_groups];
        for (new, &old) in order.iter().enumerate() {
            rank[old as usize] = new as u32;
        }
        let mut pending: Vec<(u32, Entry)> = self
            .pending
            .into_iter()
            .filter(|(_, e)| e.query || e.passage)
            .map(|(g, mut e)| {
                e.lang = remap[e.lang as usize];
                (rank[g as usize], e)
            })
            .collect();
        // Within a group, languages ascend (one entry per language and role).
        pending.sort_by_key(|(g, e)| (*g, e.lang, e.row));
        let mut group_start = Vec::with_capacity(n_groups + 1);
        let mut entries: Vec<Entry> = Vec::with_capacity(pending.len());
        group_start.push(0);
        let mut g_now = 0;
        for (g, e) in pending {
            while g_now < g {
                group_start.push(entries.len() as u32);
                g_now += 1;
            }
            // A row whose query and passage share a language with another row's: merge
            // into one entry per language where both halves are one row's.
            entries.push(e);
        }
        while group_start.len() < n_groups + 1 {
            group_start.push(entries.len() as u32);
        }
        let row_group = self.row_group.iter().map(|&g| rank[g as usize]).collect();
        let ids = with_ids.then(|| order.iter().map(|&g| self.ids[g as usize].clone()).collect());
        let store = match lines {
            Some(l) => Store::Lines(l),
            None => Store::Memory(self.rows),
        };
        Ok(PairData {
            name,
            source: self.path,
            format: self.format,
            langs: langs.into_iter().map(|(c, _)| c).collect(),
            detected: self.detect.then_some(self.detected),
            group_start,
            entries,
            ids,
            row_doc: self.row_doc,
            row_group,
            row_lang: self
                .row_lang
                .iter()
                .map(|&(q, p)| (remap[q as usize], remap[p as usize]))
                .collect(),
            doc_names: self.doc_names,
            store,
        })
    }
}

/// A LAReQA corpus as rows: one per (question, language), its answer sentence the positive,
/// the neighbouring sentence of the answer's paragraph its negative, its article the doc.
pub fn from_corpus(c: &Corpus) -> Result<PairData> {
    let mut b = Builder::new(&c.dir, Format::Lareqa, true);
    for d in c.langs.values() {
        let docs = article_names(&d.articles);
        for (i, q) in d.questions.iter().enumerate() {
            let para = &d.paragraphs[q.paragraph];
            let sents = para.sentences.clone();
            let other = if q.answer + 1 < sents.end {
                Some(q.answer + 1)
            } else if q.answer > sents.start {
                Some(q.answer - 1)
            } else {
                None
            };
            let raw = RawRow {
                id: Some(q.id.clone()),
                lang: Some(d.lang.clone()),
                doc: Some(docs[para.article].clone()),
                row: Row {
                    query: q.text.clone(),
                    positive: d.candidates[q.answer].text.clone(),
                    negatives: other.map(|o| d.candidates[o].text.clone()).into_iter().collect(),
                },
                ..RawRow::default()
            };
            b.add(
                raw,
                &Place {
                    path: &d.file,
                    what: "question",
                    n: i + 1,
                },
            )?;
        }
    }
    b.finish(c.name.clone(), None)
}

/// Article titles as document names, made unique where a file repeats a title.
fn article_names(titles: &[String]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for t in titles {
        *seen.entry(t.as_str()).or_default() += 1;
    }
    titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if seen[t.as_str()] == 1 && !t.is_empty() {
                t.clone()
            } else {
                format!("{t} #{}", i + 1)
            }
        })
        .collect()
}
