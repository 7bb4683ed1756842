//! The full page below the search box: results, the language-bias view of a ranking, the
//! visitor's own passages, the passage map and the benchmark report.

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::{MAP_LINES, PoolSignal, Results};
use crate::analysis::{self, language_colour, language_name};
use crate::charts;
use crate::engine::{Engine, SearchResult};

#[component]
pub(super) fn FullPage(engine: Rc<Engine>, pool: PoolSignal, result: RwSignal<Option<SearchResult>>) -> impl IntoView {
    let backend = engine.backend.label();
    view! {
        <div class="layout">
            <section class="card results-card">
                <h2>"Results across languages"</h2>
                <Results pool result top=10 />
                {move || result.with(|r| r.is_none()).then(|| view! { <p class="muted">"Type a question or pick an example."</p> })}
            </section>
            <BiasView pool result backend />
            <OwnPassages engine=engine.clone() pool result />
            <section class="card">
                <h2>"Passage map"</h2>
                <p class="muted">
                    {move || pool.with(|p| p.as_ref().map(|p| {
                        let questions = p.corpus.questions.len();
                        format!(
                            "{} passage vectors on their first two principal components, coloured by language.{} Rings mark the current top 5.",
                            p.corpus.passages.len(),
                            match questions {
                                0 => String::new(),
                                q if q > MAP_LINES => format!(" Grey lines join the parallel answers of a question ({MAP_LINES} questions spread over the pool, and those of the top 5): short lines mean a language-agnostic space."),
                                _ => " Grey lines join the parallel answers of a question: short lines mean a language-agnostic space.".into(),
                            }
                        )
                    }))}
                </p>
                <PassageMap pool result />
            </section>
            <ReportCard report=engine.report.clone() />
        </div>
    }
}

/// How the current ranking's top k splits by language against a language-blind ranker,
/// and where a known question's parallel answers rank.
#[component]
fn BiasView(pool: PoolSignal, result: RwSignal<Option<SearchResult>>, backend: &'static str) -> impl IntoView {
    let k = RwSignal::new(10usize);
    move || {
        pool.with(|e1| result.with(|r| {
            let e1 = e1.as_ref()?;
            r.as_ref().map(|r| {
                let kk = k.get();
                let langs: Vec<&str> = e1.corpus.passages.iter().map(|p| p.lang.as_str()).collect();
                let mix = analysis::language_mix(&r.order, &langs, &e1.langs, kk);
                let own = e1.known_question(&r.query).map(|q| q.lang.clone());
                let rows = mix
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let is_own = own.as_deref() == Some(m.lang.as_str());
                        view! {
                            <div class="mix-row" class:own=is_own>
                                <span class="mix-lang">{language_name(&m.lang).to_string()}</span>
                                <div class="mix-bars">
                                    <div class="mix-obs" style=format!("width: {:.1}%; background: {}", 100.0 * m.observed, language_colour(i))></div>
                                    <div class="mix-blind" style=format!("left: {:.1}%", 100.0 * m.blind) title="language-blind expectation"></div>
                                </div>
                                <span class="mix-val">{format!("{} ({:.0}% vs {:.0}%)", m.top_k, 100.0 * m.observed, 100.0 * m.blind)}</span>
                            </div>
                        }
                    })
                    .collect_view();
                let answers = match e1.known_question(&r.query) {
                    Some(q) => {
                        let (ranks, dist) = analysis::answer_ranks(&r.order, &q.answers);
                        let items = ranks
                            .iter()
                            .map(|&(i, rank)| {
                                let p = &e1.corpus.passages[i];
                                view! {
                                    <li data-lang=p.lang.clone()>
                                        <span class="badge small" style=format!("background: {}", language_colour(e1.lang_index(&p.lang)))>{p.lang.clone()}</span>
                                        {format!(" rank {rank}")}
                                    </li>
                                }
                            })
                            .collect_view();
                        view! {
                            <div class="answers" id="answers">
                                <h3>"Known parallel answers"</h3>
                                <ul class="answer-ranks">{items}</ul>
                                <p class="rank-distance" id="rank-distance">
                                    {match dist {
                                        Some(d) => format!("Rank distance: {d} (max rank − min rank; 0 would be a language-blind model)"),
                                        None => "Only one answer in the bundle: no rank distance.".to_string(),
                                    }}
                                </p>
                            </div>
                        }
                        .into_any()
                    }
                    None => view! {
                        <p class="muted">"This query is not one of the bundle's questions, so its answers are unknown. Pick an example to see where its parallel answers rank."</p>
                    }
                    .into_any(),
                };
                let vec_json = serde_json::to_string(&r.vector).unwrap_or_default();
                view! {
                    <section class="card">
                        <h2>"Language bias of this ranking"</h2>
                        <div class="k-select">
                            "Top "
                            <select on:change=move |ev| k.set(event_target_value(&ev).parse().unwrap_or(10))>
                                {[5usize, 10, 20].into_iter().map(|v| view! { <option value=v.to_string() selected=v == kk>{v}</option> }).collect_view()}
                            </select>
                            " results by language, against a language-blind ranker (tick):"
                        </div>
                        <div class="mix">{rows}</div>
                        {answers}
                        <details class="vector">
                            <summary>{format!("Query vector: {} dims, {:.0} ms on {backend}", r.vector.len(), r.millis)}</summary>
                            <code id="query-vector">{vec_json}</code>
                        </details>
                    </section>
                }
            })
        }))
    }
}

/// The passage vectors on their first two principal components, coloured by language.
#[component]
fn PassageMap(pool: PoolSignal, result: RwSignal<Option<SearchResult>>) -> impl IntoView {
    // The map is drawn a moment after the rest of the page, so the search box and the
    // results do not wait for its principal components.
    let map_ready = RwSignal::new(false);
    spawn_local(async move {
        crate::fetch::after_paint().await;
        map_ready.set(true);
    });
    let pca = move || {
        if !map_ready.get() {
            return r#"<p class="muted" id="map-pending">Computing the passage map…</p>"#.to_string();
        }
        pool.with(|e2| {
            e2.as_ref()
                .map(|e2| {
                    let highlight: Vec<usize> = result.with(|r| {
                        r.as_ref()
                            .map(|r| r.order.iter().take(5).copied().collect())
                            .unwrap_or_default()
                    });
                    let langs: Vec<usize> = e2.corpus.passages.iter().map(|p| e2.lang_index(&p.lang)).collect();
                    let mut seen = std::collections::HashSet::new();
                    let all: Vec<&Vec<usize>> = e2
                        .corpus
                        .questions
                        .iter()
                        .filter(|q| seen.insert(q.id.clone()))
                        .map(|q| &q.answers)
                        .collect();
                    // Lines for every question of a full pool would hide the dots: a spread sample,
                    // plus the questions whose answers are in the current top 5.
                    let step = all.len().div_ceil(MAP_LINES).max(1);
                    let groups: Vec<Vec<usize>> = all
                        .iter()
                        .enumerate()
                        .filter(|(i, g)| i % step == 0 || g.iter().any(|a| highlight.contains(a)))
                        .map(|(_, g)| (*g).clone())
                        .collect();
                    charts::pca_scatter(e2.pca(), &langs, &groups, &highlight, &e2.langs)
                })
                .unwrap_or_default()
        })
    };
    view! { <div class="chart-box" inner_html=pca></div> }
}

/// The `hbt eval` report shipped with the bundle: its summary line and two charts.
#[component]
fn ReportCard(report: Option<hbt_report::Report>) -> impl IntoView {
    report.map(|rep| {
        let model = rep
            .model
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(&rep.model)
            .to_string();
        let line = match &rep.summary {
            Some(s) => format!(
                "{}: mono mAP {:.1} · cross mAP {:.1} · multi mAP {:.1} · rank distance {:.1}",
                rep.benchmark,
                100.0 * s.mono_map,
                100.0 * s.cross_map,
                100.0 * s.multi_map,
                s.rank_distance
            ),
            None => format!("{}: no LAReQA summary in this report", rep.benchmark),
        };
        view! {
            <section class="card" id="report">
                <h2>"How this model did on the benchmark"</h2>
                <p class="muted">{format!("hbt eval report for {model}")}</p>
                <p class="summary-line">{line}</p>
                <div class="charts">
                    <div class="chart-box" inner_html=charts::heatmap(&rep).unwrap_or_default()></div>
                    <div class="chart-box" inner_html=charts::rank_distance_bars(&rep).unwrap_or_default()></div>
                </div>
            </section>
        }
    })
}

/// A visitor's own passages: a JSON-lines or text file dropped on the page (or chosen),
/// embedded here in the browser with a progress bar, then searched with the same views.
#[component]
// long: a Leptos view whose file reading, embedding progress and pool state share signals.
fn OwnPassages(engine: Rc<Engine>, pool: PoolSignal, result: RwSignal<Option<SearchResult>>) -> impl IntoView {
    let progress = RwSignal::new(None::<(String, f64)>);
    let error = RwSignal::new(None::<String>);
    let stored = StoredValue::new_local(engine.clone());
    let demo = StoredValue::new_local(engine.demo.clone());
    let load = move |file: web_sys::File| {
        if progress.get_untracked().is_some() {
            return;
        }
        let name = file.name();
        let engine = stored.get_value();
        error.set(None);
        progress.set(Some(("Reading the file…".into(), 0.0)));
        spawn_local(async move {
            let outcome = async {
                let buf = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
                    .await
                    .map_err(|_| format!("{name}: the browser could not read the file"))?;
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                let passages = hbt_bundle::parse_user_passages(&bytes, &name).map_err(|e| e.to_string())?;
                engine
                    .embed_pool(name.clone(), passages, move |what, fraction| {
                        progress.set(Some((what, fraction)))
                    })
                    .await
                    .map_err(|e| format!("{name}: embedding failed: {e}"))
            }
            .await;
            match outcome {
                Ok(p) => {
                    error.set(None);
                    result.set(None);
                    pool.set(Some(Rc::new(p)));
                }
                Err(e) => error.set(Some(e)),
            }
            progress.set(None);
        });
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        if let Some(f) = ev.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
            load(f);
        }
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(f) = input.files().and_then(|f| f.get(0)) {
            load(f);
        }
        input.set_value("");
    };
    let bar = move || {
        progress.get().map(|(what, fraction)| {
            let pct = 100.0 * fraction;
            view! {
                <div class="loading" id="embed-progress">
                    <div class="loading-label">{what}</div>
                    <div class="bar"><div class="fill" style=format!("width: {pct:.1}%")></div></div>
                </div>
            }
        })
    };
    let current = move || {
        pool.with(|p| {
            p.as_ref().map(|p| {
                let is_demo = demo.with_value(|d| Rc::ptr_eq(d, p));
                view! {
                    <p class="pool-label">
                        "Searching "
                        <strong id="pool-label">{p.label.clone()}</strong>
                        {format!(" · {} passages in {} language(s)", p.corpus.passages.len(), p.langs.len())}
                        {(!is_demo).then(|| view! {
                            " "
                            <button class="example" id="pool-reset" on:click=move |_| {
                                result.set(None);
                                pool.set(Some(demo.get_value()));
                            }>"Back to the demo passages"</button>
                        })}
                    </p>
                }
            })
        })
    };
    view! {
        <section class="card" id="own-passages">
            <h2>"Your own passages"</h2>
            <div class="drop" on:dragover=|ev: leptos::ev::DragEvent| ev.prevent_default() on:drop=on_drop>
                <p>
                    "Drop a file here, or "
                    <input type="file" id="passages-file" accept=".jsonl,.ndjson,.txt,text/plain" on:change=on_pick />
                </p>
                <p class="muted">
                    "JSON lines (one " <code>"{\"text\": …, \"lang\": \"de\"}"</code>
                    " per line; the language drives the bias view) or plain text (one passage per line). "
                    "It is embedded in this browser and never leaves it."
                </p>
            </div>
            {bar}
            {move || error.get().map(|e| view! { <div class="error" role="alert" id="own-error">{e}</div> })}
            {current}
        </section>
    }
}
