//! An on-demand vocabulary's word rows in the worker: the rows held (memory), the rows this
//! browser kept from earlier visits (the Cache API, keyed by the rows file's hash), and HTTP
//! `Range` reads for the rest — one per run of nearby pages. A server that ignores `Range`
//! (200 with the whole file) costs one download of the table, after which every row is
//! held; the page says so.
//!
//! Every row carries a check over its id and values ([`hbt_model::words`]): a block cut
//! short, corrupted or read from the wrong offset is an error, never a wrong vector.

use std::cell::{Cell, RefCell};

use crate::protocol::RowsReport;
use hbt_bundle::{Manifest, WordRowsInfo, pages_of, plan_ranges};
use hbt_model::words::{Int8Table, RowsLayout};

use crate::fetch::{cache_get, cache_key, cache_put, fetch_range, fetch_ranges, join_url, now, open_cache};

/// Pages between two needed ones that a query's read fetches rather than split in two
/// requests (a few hundred bytes each: a request costs more).
pub const QUERY_GAP: u32 = 4;
/// The same for a dropped file's thousands of rows: a few large reads.
pub const BULK_GAP: u32 = 256;
/// Ranges asked for in one request (Apache's default `MaxRanges` is 200; nginx has none).
const RANGES_A_REQUEST: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Not known yet: the first read goes alone.
    Probe,
    Range,
    /// The whole table is held.
    Whole,
}

pub struct WordRows {
    url: String,
    sha256: Option<String>,
    layout: RowsLayout,
    page_rows: usize,
    pub table: RefCell<Int8Table>,
    mode: Cell<Mode>,
    /// Whether the server answers several ranges in one request: not known until asked.
    multi: Cell<Option<bool>>,
    fallback: RefCell<Option<String>>,
    cache: Option<web_sys::Cache>,
    /// Row runs this browser holds in its cache (the index entry's content).
    cached: RefCell<Vec<(u32, u32)>>,
    /// The whole table is in the cache (a server without `Range` sent it on a visit).
    whole_cached: Cell<bool>,
    /// Runs read but not yet written to the cache: written by [`WordRows::flush`] after the
    /// reply, so a query never waits for the cache.
    pending: RefCell<Vec<(u32, u32, Vec<u8>)>>,
}

fn range_key(key: &str, first: u32, last: u32) -> String {
    format!("{key}&rows={first}-{last}")
}

impl WordRows {
    /// Open the rows of `manifest`'s bundle at `base`. What this browser kept on earlier
    /// visits is only listed now (one cache read: the index of kept runs) and read when a
    /// query needs it, so the page is ready as fast as without an on-demand vocabulary.
    pub async fn open(base: &str, manifest: &Manifest, info: &WordRowsInfo) -> Result<WordRows, String> {
        let url = join_url(base, &info.path);
        let file = manifest.file(&info.path);
        let rows = WordRows {
            sha256: file.and_then(|f| f.sha256.clone()),
            layout: info.layout,
            page_rows: info.page_rows.max(1),
            table: RefCell::new(Int8Table::sparse(info.layout.hidden)),
            mode: Cell::new(Mode::Probe),
            multi: Cell::new(None),
            fallback: RefCell::new(None),
            cache: open_cache().await,
            cached: RefCell::new(Vec::new()),
            whole_cached: Cell::new(false),
            pending: RefCell::new(Vec::new()),
            url,
        };
        let (Some(key), Some(cache)) = (rows.key(), &rows.cache) else {
            return Ok(rows);
        };
        if let Some(b) = cache_get(cache, &format!("{key}&index"), None).await {
            let mut runs: Vec<(u32, u32)> = serde_json::from_slice(&b).unwrap_or_default();
            runs.sort_unstable();
            *rows.cached.borrow_mut() = runs;
        }
        // The whole table, kept after a server without `Range` sent it: listed, not read.
        rows.whole_cached.set(cache_has(cache, &key).await);
        Ok(rows)
    }

    /// Take what this browser's cache holds of `missing` (sorted ids): the whole table if
    /// it is there, else every kept run that holds one of them, read at once and checked
    /// (a run that is gone or fails its checks is fetched from the server instead). The
    /// rows taken.
    async fn take_cached(&self, missing: &[u32]) -> usize {
        let (Some(key), Some(cache)) = (self.key(), &self.cache) else {
            return 0;
        };
        if self.whole_cached.get() {
            self.whole_cached.set(false);
            if let Some(bytes) = cache_get(cache, &key, Some(self.layout.file_bytes())).await
                && let Ok(t) = Int8Table::from_rows_file(&bytes, &self.url)
            {
                let n = missing.len();
                *self.table.borrow_mut() = t;
                self.mode.set(Mode::Whole);
                return n;
            }
        }
        let runs: Vec<(u32, u32)> = {
            let mut want: Vec<(u32, u32)> = missing.iter().filter_map(|&id| self.kept_run(id)).collect();
            want.sort_unstable();
            want.dedup();
            want
        };
        let reads = runs.iter().map(|&(first, last)| {
            let want = (last - first + 1) as u64 * self.layout.record as u64;
            let k = range_key(&key, first, last);
            async move { (first, cache_get(cache, &k, Some(want)).await) }
        });
        let mut taken = 0;
        for (first, bytes) in futures::future::join_all(reads).await {
            if let Some(bytes) = bytes {
                let before = self.table.borrow().rows();
                let ok = self
                    .table
                    .borrow_mut()
                    .insert_records(&self.layout, first as usize, &bytes, &self.url)
                    .is_ok();
                if ok {
                    taken += self.table.borrow().rows() - before;
                }
            }
        }
        taken
    }

    /// The kept run holding row `id`: the last one starting at or before it, if it reaches it.
    fn kept_run(&self, id: u32) -> Option<(u32, u32)> {
        let kept = self.cached.borrow();
        let i = kept.partition_point(|r| r.0 <= id);
        kept[..i].iter().rev().take(4).find(|r| r.1 >= id).copied()
    }

    /// Whether every row of `ids` is held or kept in this browser's cache (an earlier visit
    /// read it), so reading them needs no request to the server.
    pub fn kept(&self, ids: &[u32]) -> bool {
        self.whole_cached.get()
            || self
                .table
                .borrow()
                .missing(ids)
                .iter()
                .all(|&id| self.kept_run(id).is_some())
    }

    fn key(&self) -> Option<String> {
        self.sha256.as_deref().map(|sha| cache_key(&self.url, sha))
    }

    pub fn fallback(&self) -> Option<String> {
        self.fallback.borrow().clone()
    }

    pub fn held(&self) -> usize {
        self.table.borrow().rows()
    }

    /// Make every row of `ids` held: read the missing pages (runs at most `gap` pages
    /// apart in one read), check and keep them. `progress(bytes so far)` for long reads.
    pub async fn ensure(&self, ids: &[u32], gap: u32, progress: &dyn Fn(u64)) -> Result<RowsReport, String> {
        let t0 = now();
        let done = Cell::new(0u64);
        let add = |d: u64| {
            done.set(done.get() + d);
            progress(done.get())
        };
        let progress: &dyn Fn(u64) = &add;
        let mut missing = self.table.borrow().missing(ids);
        let mut report = RowsReport {
            rows: missing.len(),
            ..Default::default()
        };
        if !missing.is_empty() {
            report.cached = self.take_cached(&missing).await;
            missing = self.table.borrow().missing(ids);
        }
        if !missing.is_empty() {
            let ranges = plan_ranges(&pages_of(&missing, self.page_rows), gap);
            let mut rest = &ranges[..];
            let left;
            if self.mode.get() == Mode::Probe
                && let Some((first, tail)) = ranges.split_first()
            {
                // One read alone first: a server that ignores `Range` sends the whole table
                // once, not once per concurrent read.
                self.read(*first, &mut report, progress).await?;
                rest = tail;
            }
            if self.mode.get() != Mode::Whole && rest.len() > 1 && self.multi.get() != Some(false) {
                left = self.read_joined(rest, &mut report, progress).await?;
                rest = &left;
            }
            if self.mode.get() != Mode::Whole {
                let reads = rest.iter().map(|&r| async move {
                    let mut one = RowsReport::default();
                    self.read(r, &mut one, progress).await.map(|()| one)
                });
                for one in futures::future::try_join_all(reads).await? {
                    report.requests += one.requests;
                    report.bytes += one.bytes;
                }
            }
            let still = self.table.borrow().missing(ids);
            if !still.is_empty() {
                return Err(format!(
                    "{}: rows {still:?} are still missing after reading them",
                    self.url
                ));
            }
        }
        report.ms = now() - t0;
        report.held = self.held();
        report.total = self.layout.rows;
        report.fallback = self.fallback();
        Ok(report)
    }

    /// Read pages `first..=last` (clamped to the table) and keep their rows;
    /// `progress(new bytes)` as they arrive.
    async fn read(
        &self,
        (first, last): (u32, u32),
        report: &mut RowsReport,
        progress: &dyn Fn(u64),
    ) -> Result<(), String> {
        if self.mode.get() == Mode::Whole {
            return Ok(());
        }
        let (row0, row1, (a, b)) = self.span((first, last))?;
        let seen = Cell::new(0u64);
        let (status, bytes) = fetch_range(&self.url, Some((a, b)), |n| {
            progress(n - seen.get());
            seen.set(n)
        })
        .await?;
        report.requests += 1;
        report.bytes += bytes.len() as u64;
        match status {
            206 => {
                let want = b - a + 1;
                if bytes.len() as u64 != want {
                    return Err(format!(
                        "{}: asked for {want} bytes (rows {row0}..{row1}), the server sent {} (a truncated file?)",
                        self.url,
                        bytes.len()
                    ));
                }
                self.keep(row0 as usize, bytes)?;
                if self.mode.get() == Mode::Probe {
                    self.mode.set(Mode::Range);
                }
                Ok(())
            }
            200 => self.take_whole(bytes).await,
            s => Err(format!("{}: HTTP {s} to a range request", self.url)),
        }
    }

    /// Read `ranges` of pages a few dozen to a request (`multipart/byteranges`); the ranges
    /// left to read one by one — all of them when the server does not serve several ranges
    /// at once, which the first request finds out (alone, so such a server is asked once).
    async fn read_joined(
        &self,
        ranges: &[(u32, u32)],
        report: &mut RowsReport,
        progress: &dyn Fn(u64),
    ) -> Result<Vec<(u32, u32)>, String> {
        let mut groups = ranges.chunks(RANGES_A_REQUEST);
        if self.multi.get().is_none() {
            let first = groups.next().unwrap_or_default();
            if !self.read_group(first, report, progress).await? {
                self.multi.set(Some(false));
                return Ok(ranges.to_vec());
            }
            self.multi.set(Some(true));
        }
        let reads = groups.map(|g| async move {
            let mut one = RowsReport::default();
            self.read_group(g, &mut one, progress)
                .await
                .map(|served| (served, g, one))
        });
        let mut left = Vec::new();
        for (served, g, one) in futures::future::try_join_all(reads).await? {
            report.requests += one.requests;
            report.bytes += one.bytes;
            if !served {
                left.extend_from_slice(g);
            }
        }
        // Only a server that changed its mind between requests leaves any: read them singly.
        Ok(left)
    }

    /// One request for several ranges of pages; false when the server does not serve them
    /// so (416, or 200: its body is cancelled unread). Every part must start at a row and
    /// hold whole rows, each of which passes its check.
    async fn read_group(
        &self,
        pages: &[(u32, u32)],
        report: &mut RowsReport,
        progress: &dyn Fn(u64),
    ) -> Result<bool, String> {
        let spans: Vec<(u64, u64)> = pages
            .iter()
            .map(|&pages| self.span(pages).map(|s| s.2))
            .collect::<Result<_, _>>()?;
        let seen = Cell::new(0u64);
        let answer = fetch_ranges(&self.url, &spans, |n| {
            progress(n - seen.get());
            seen.set(n)
        })
        .await?;
        report.requests += 1;
        report.bytes += answer.body.len() as u64;
        if answer.status != 206 {
            return Ok(false);
        }
        let url = &self.url;
        let parts = match hbt_bundle::byteranges::boundary(&answer.content_type) {
            Some(b) => hbt_bundle::byteranges::parts(&answer.body, &b).map_err(|e| format!("{url}: {e}"))?,
            // One part: the server joined the ranges (allowed), saying where in Content-Range.
            None => {
                let at = answer
                    .content_range
                    .as_deref()
                    .and_then(hbt_bundle::byteranges::content_range)
                    .ok_or_else(|| format!("{url}: a 206 answer without multipart parts or a Content-Range"))?;
                vec![hbt_bundle::byteranges::Part {
                    offset: at.0,
                    bytes: &answer.body,
                }]
            }
        };
        let (origin, record) = (self.layout.offset(0), self.layout.record as u64);
        for part in parts {
            let n = part.bytes.len() as u64;
            if part.offset < origin || !(part.offset - origin).is_multiple_of(record) || !n.is_multiple_of(record) {
                return Err(format!(
                    "{url}: the server sent {n} bytes at offset {}, which are not whole rows",
                    part.offset
                ));
            }
            self.keep(((part.offset - origin) / record) as usize, part.bytes.to_vec())?;
        }
        Ok(true)
    }

    /// Pages `first..=last` as rows `row0..row1` (clamped to the table) and the bytes
    /// `a..=b` of the rows file that hold them.
    fn span(&self, (first, last): (u32, u32)) -> Result<(u32, u32, (u64, u64)), String> {
        let p = self.page_rows as u32;
        let row0 = first * p;
        let row1 = ((last + 1) * p).min(self.layout.rows as u32);
        if row0 >= row1 {
            return Err(format!(
                "{}: page {first} lies past the table's {} rows",
                self.url, self.layout.rows
            ));
        }
        let bytes = (self.layout.offset(row0 as usize), self.layout.offset(row1 as usize) - 1);
        Ok((row0, row1, bytes))
    }

    /// Check and hold whole rows read from `row0` on, and queue them for the cache.
    fn keep(&self, row0: usize, bytes: Vec<u8>) -> Result<(), String> {
        let rows = bytes.len() / self.layout.record;
        if rows == 0 {
            return Ok(());
        }
        self.table
            .borrow_mut()
            .insert_records(&self.layout, row0, &bytes, &self.url)
            .map_err(|e| e.to_string())?;
        self.pending
            .borrow_mut()
            .push((row0 as u32, (row0 + rows - 1) as u32, bytes));
        Ok(())
    }

    /// A server without `Range` sent the whole file: check it, hold every row, keep it.
    async fn take_whole(&self, bytes: Vec<u8>) -> Result<(), String> {
        use sha2::Digest;
        if let Some(want) = &self.sha256 {
            let got = format!("{:x}", sha2::Sha256::digest(&bytes));
            if &got != want {
                return Err(format!(
                    "{}: the downloaded table ({} bytes) does not match the manifest's hash (a truncated or stale file)",
                    self.url,
                    bytes.len()
                ));
            }
        }
        let table = Int8Table::from_rows_file(&bytes, &self.url).map_err(|e| e.to_string())?;
        *self.table.borrow_mut() = table;
        self.mode.set(Mode::Whole);
        *self.fallback.borrow_mut() = Some(format!(
            "the server ignores HTTP Range requests, so the whole word table ({:.1} MB) was downloaded once instead of a few rows a query",
            bytes.len() as f64 / 1e6
        ));
        if let (Some(c), Some(k)) = (&self.cache, self.key()) {
            cache_put(c, &k, &bytes).await;
        }
        Ok(())
    }

    /// Keep the checked runs read since the last call for the next visit, and list them in
    /// the index entry.
    pub async fn flush(&self) {
        let runs = std::mem::take(&mut *self.pending.borrow_mut());
        let (Some(c), Some(k)) = (&self.cache, self.key()) else {
            return;
        };
        if runs.is_empty() {
            return;
        }
        for (first, last, bytes) in &runs {
            cache_put(c, &range_key(&k, *first, *last), bytes).await;
        }
        let index = {
            let mut kept = self.cached.borrow_mut();
            kept.extend(runs.iter().map(|(a, b, _)| (*a, *b)));
            serde_json::to_vec(&*kept).unwrap_or_default()
        };
        cache_put(c, &format!("{k}&index"), &index).await;
    }
}

/// Whether the cache holds `key` (without reading it).
async fn cache_has(cache: &web_sys::Cache, key: &str) -> bool {
    wasm_bindgen_futures::JsFuture::from(cache.match_with_str(key))
        .await
        .is_ok_and(|hit| !hit.is_undefined() && !hit.is_null())
}
