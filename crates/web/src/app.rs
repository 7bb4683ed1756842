//! The page: loading, search, bias view, report charts and the passage map; and the compact
//! widget that documentation pages embed (`?widget=1`).

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::analysis::{self, language_colour, language_name};
use crate::charts;
use crate::engine::{Backend, Engine, Pool, Progress, SearchResult};

/// At most this many questions get lines joining their parallel answers on the passage map.
const MAP_LINES: usize = 80;

type EngineSignal = RwSignal<Option<Rc<Engine>>, LocalStorage>;
/// The passages being searched: the bundle's, or a file the visitor dropped.
type PoolSignal = RwSignal<Option<Rc<Pool>>, LocalStorage>;

/// What the page URL asks for.
#[derive(Clone, Debug)]
struct Params {
    bundle: String,
    widget: bool,
    force_cpu: bool,
}

fn params() -> Params {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let q = web_sys::UrlSearchParams::new_with_str(&search).ok();
    let get = |k: &str| q.as_ref().and_then(|q| q.get(k));
    Params {
        bundle: get("bundle")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "demo/".into()),
        widget: get("widget").is_some_and(|w| w != "0"),
        force_cpu: get("backend").is_some_and(|b| b == "cpu"),
    }
}

#[component]
pub fn App() -> impl IntoView {
    let p = params();
    let engine: EngineSignal = RwSignal::new_local(None);
    let pool: PoolSignal = RwSignal::new_local(None);
    let progress = RwSignal::new(Progress {
        stage: "starting".into(),
        done: 0,
        total: 1,
    });
    let error = RwSignal::new(None::<String>);
    let result = RwSignal::new(None::<SearchResult>);
    let query = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    // A search asked for while the model loads; it runs once the model is ready.
    let pending = RwSignal::new(false);

    let run = move |text: String| {
        if text.trim().is_empty() {
            return;
        }
        let (Some(e), Some(p)) = (engine.get_untracked(), pool.get_untracked()) else {
            query.set(text);
            pending.set(true);
            return;
        };
        query.set(text.clone());
        busy.set(true);
        spawn_local(async move {
            match e.search(&p, &text).await {
                // A result indexes the pool it ranked: drop it if the pool changed meanwhile.
                Ok(_) if !pool.with_untracked(|now| now.as_ref().is_some_and(|now| Rc::ptr_eq(now, &p))) => {}
                Ok(r) => {
                    error.set(None);
                    result.set(Some(r));
                }
                Err(err) => error.set(Some(format!("search failed: {err}"))),
            }
            busy.set(false);
        });
    };

    {
        let (bundle, force_cpu) = (p.bundle.clone(), p.force_cpu);
        spawn_local(async move {
            match Engine::load(&bundle, force_cpu, move |pr| progress.set(pr)).await {
                Ok(e) => {
                    pool.set(Some(e.demo.clone()));
                    engine.set(Some(Rc::new(e)));
                    if pending.get_untracked() {
                        pending.set(false);
                        run(query.get_untracked());
                    }
                }
                Err(e) => error.set(Some(e)),
            }
        });
    }

    let widget = p.widget;
    let bundle = p.bundle.clone();
    view! {
        <div class=if widget { "app widget" } else { "app" }>
            <Header engine widget />
            <ErrorBox error />
            <SearchForm query busy pending run />
            <Loading engine progress error bundle />
            {move || {
                engine
                    .get()
                    .map(|e| {
                        let e2 = e.clone();
                        view! {
                            <Examples engine=e run widget />
                            {if widget {
                                view! { <Results pool result top=5 /> }.into_any()
                            } else {
                                view! { <FullPage engine=e2 pool result /> }.into_any()
                            }}
                        }
                    })
            }}
        </div>
    }
}

#[component]
fn Header(engine: EngineSignal, widget: bool) -> impl IntoView {
    let badge = move || {
        engine.get().map(|e| {
            let (class, title) = match &e.backend {
                Backend::WebGpu => (
                    "backend gpu",
                    "The encoder runs on WebGPU through Burn's wgpu backend".to_string(),
                ),
                Backend::Cpu(why) => ("backend cpu", format!("WebGPU not used: {why}")),
            };
            view! {
                <span class=class id="backend" title=title.clone()>
                    {e.backend.label()}
                </span>
            }
        })
    };
    let note = move || {
        engine.get().and_then(|e| match &e.backend {
            Backend::Cpu(why) if !widget => Some(view! {
                <p class="fallback" id="fallback-note">
                    "WebGPU is not available here (" {why.clone()}
                    "), so the encoder runs on the CPU (Burn's flex backend). Results are the same, only slower."
                </p>
            }),
            _ => None,
        })
    };
    view! {
        <header>
            <div class="brand">
                <span class="logo">"hbt"</span>
                <span class="tagline">
                    {if widget { "multilingual search" } else { "multilingual retrieval & language bias, in your browser" }}
                </span>
            </div>
            {badge}
        </header>
        {note}
    }
}

#[component]
fn ErrorBox(error: RwSignal<Option<String>>) -> impl IntoView {
    move || {
        error.get().map(|e| {
            view! {
                <div class="error" role="alert" id="error">
                    <strong>"Something went wrong. "</strong>
                    {e}
                </div>
            }
        })
    }
}

#[component]
fn Loading(
    engine: EngineSignal,
    progress: RwSignal<Progress>,
    error: RwSignal<Option<String>>,
    bundle: String,
) -> impl IntoView {
    move || {
        (engine.with(|e| e.is_none()) && error.with(|e| e.is_none())).then(|| {
            let p = progress.get();
            let pct = (100.0 * p.done as f64 / p.total.max(1) as f64).min(100.0);
            view! {
                <div class="loading" id="loading">
                    <div class="loading-label">
                        {format!("Loading bundle {bundle} — {} ", p.stage)}
                        {format!("({:.1} / {:.1} MB)", p.done as f64 / 1e6, p.total as f64 / 1e6)}
                    </div>
                    <div class="bar">
                        <div class="fill" style=format!("width: {pct:.1}%")></div>
                    </div>
                </div>
            }
        })
    }
}

/// The search field: there from the first paint, so a visitor can type while the model
/// loads; a search asked for then runs when it is ready.
#[component]
fn SearchForm(
    query: RwSignal<String>,
    busy: RwSignal<bool>,
    pending: RwSignal<bool>,
    run: impl Fn(String) + Copy + 'static,
) -> impl IntoView {
    view! {
        <form
            class="search"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                run(query.get_untracked());
            }
        >
            <input
                id="query"
                type="search"
                placeholder="Ask a question in any language…"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
                autocomplete="off"
            />
            <button type="submit" id="search" disabled=move || busy.get()>
                {move || if busy.get() { "Searching…" } else if pending.get() { "Waiting for the model…" } else { "Search" }}
            </button>
        </form>
    }
}

/// Example questions, what the bundle holds and how it loaded.
#[component]
fn Examples(engine: Rc<Engine>, run: impl Fn(String) + Copy + 'static, widget: bool) -> impl IntoView {
    let examples = engine.demo.examples(if widget { 3 } else { 6 });
    let m = &engine.manifest;
    let summary = format!(
        "{} passages in {} languages · {} · {}",
        m.passages,
        engine.demo.langs.len(),
        m.model.label,
        match &m.model.vocab {
            Some(v) => format!("vocabulary pruned to {} of {} tokens", v.after, v.before),
            None => "full vocabulary".into(),
        }
    );
    let marks_json = serde_json::to_string(&engine.marks).unwrap_or_default();
    let marks_title = engine
        .marks
        .iter()
        .map(|(k, ms)| format!("{k}: {:.2} s", ms / 1e3))
        .collect::<Vec<_>>()
        .join(" · ");
    let load_info = format!(
        "Ready in {:.1} s{}",
        engine.load_ms / 1e3,
        if engine.cached_bytes > 0 {
            format!(
                ", {:.1} MB of the bundle from this browser's cache",
                engine.cached_bytes as f64 / 1e6
            )
        } else {
            String::new()
        }
    );
    view! {
        <div class="examples">
            <span class="muted">"Try: "</span>
            {examples
                .into_iter()
                .map(|(lang, text)| {
                    let t = text.clone();
                    view! {
                        <button class="example" title=language_name(&lang).to_string() on:click=move |_| run(t.clone())>
                            <span class="badge small">{lang.clone()}</span>
                            {text}
                        </button>
                    }
                })
                .collect_view()}
        </div>
        {(!widget).then(|| view! { <p class="muted corpus-summary">{summary}</p> })}
        <p class="muted load-info" id="load-info" data-cached-bytes=engine.cached_bytes.to_string() data-marks=marks_json title=marks_title>{load_info}</p>
    }
}

#[component]
fn Results(pool: PoolSignal, result: RwSignal<Option<SearchResult>>, top: usize) -> impl IntoView {
    // Languages switched off; a new pool's languages start switched on.
    let hidden = RwSignal::new(Vec::<String>::new());
    let chips = move || {
        (top > 5).then(|| {
            let langs = pool.with(|p| p.as_ref().map(|p| p.langs.clone()).unwrap_or_default());
            view! {
                <div class="filter">
                    <span class="muted">"Languages: "</span>
                    {langs
                        .iter()
                        .enumerate()
                        .map(|(i, l)| {
                            let l1 = l.clone();
                            let l2 = l.clone();
                            view! {
                                <label class="chip" style=format!("--c: {}", language_colour(i))>
                                    <input
                                        type="checkbox"
                                        prop:checked=move || hidden.with(|h| !h.contains(&l1))
                                        on:change=move |_| {
                                            hidden.update(|h| {
                                                if let Some(k) = h.iter().position(|x| *x == l2) {
                                                    h.remove(k);
                                                } else {
                                                    h.push(l2.clone());
                                                }
                                            })
                                        }
                                    />
                                    {language_name(l).to_string()}
                                </label>
                            }
                        })
                        .collect_view()}
                </div>
            }
        })
    };
    let list = move || {
        pool.with(|e| result.with(|r| {
            let e = e.as_ref()?;
            r.as_ref().map(|r| {
                let skip = hidden.get();
                let known = e.known_question(&r.query).map(|q| q.answers.clone()).unwrap_or_default();
                let rows = r
                    .order
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| !skip.contains(&e.corpus.passages[**i].lang))
                    .take(top)
                    .map(|(rank, &i)| {
                        let p = &e.corpus.passages[i];
                        let li = e.lang_index(&p.lang);
                        let is_answer = known.contains(&i);
                        view! {
                            <li class="hit" class:answer=is_answer data-lang=p.lang.clone() data-passage=i.to_string() data-id=p.id.clone()>
                                <span class="rank">{rank + 1}</span>
                                <span class="badge" style=format!("background: {}", language_colour(li)) title=language_name(&p.lang).to_string()>
                                    {p.lang.clone()}
                                </span>
                                <span class="text">{p.text.clone()}</span>
                                <span class="score">{format!("{:.3}", r.scores[i])}</span>
                                {is_answer.then(|| view! { <span class="known" title="a known answer to this question">"✓ answer"</span> })}
                            </li>
                        }
                    })
                    .collect_view();
                let unk = (r.unknown_tokens > 0).then(|| {
                    view! {
                        <p class="warn">
                            {format!(
                                "{} of {} query tokens are outside this bundle's pruned vocabulary and were read as unknown.",
                                r.unknown_tokens, r.tokens
                            )}
                        </p>
                    }
                });
                view! {
                    {unk}
                    <ol class="results" id="results">{rows}</ol>
                }
            })
        }))
    };
    view! {
        {chips}
        {list}
    }
}

#[component]
fn FullPage(engine: Rc<Engine>, pool: PoolSignal, result: RwSignal<Option<SearchResult>>) -> impl IntoView {
    let k = RwSignal::new(10usize);
    let e3 = engine.clone();
    let backend = engine.backend.label();
    let bias = move || {
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
    };
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
    let report = e3.report.clone();
    let report_view = report.map(|rep| {
        let model = rep["model"].as_str().unwrap_or("");
        let model = model
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(model)
            .to_string();
        let bench = rep["benchmark"].as_str().unwrap_or("").to_string();
        let s = &rep["summary"];
        let pct = |k: &str| {
            s[k].as_f64()
                .map(|v| format!("{:.1}", 100.0 * v))
                .unwrap_or_else(|| "–".into())
        };
        let line = format!(
            "{bench}: mono mAP {} · cross mAP {} · multi mAP {} · rank distance {}",
            pct("mono_map"),
            pct("cross_map"),
            pct("multi_map"),
            s["rank_distance"]
                .as_f64()
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "–".into())
        );
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
    });
    view! {
        <div class="layout">
            <section class="card results-card">
                <h2>"Results across languages"</h2>
                <Results pool result top=10 />
                {move || result.with(|r| r.is_none()).then(|| view! { <p class="muted">"Type a question or pick an example."</p> })}
            </section>
            {bias}
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
                <div class="chart-box" inner_html=pca></div>
            </section>
            {report_view}
        </div>
    }
}

/// A visitor's own passages: a JSON-lines or text file dropped on the page (or chosen),
/// embedded here in the browser with a progress bar, then searched with the same views.
#[component]
fn OwnPassages(engine: Rc<Engine>, pool: PoolSignal, result: RwSignal<Option<SearchResult>>) -> impl IntoView {
    let progress = RwSignal::new(None::<(usize, usize)>);
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
        progress.set(Some((0, 0)));
        spawn_local(async move {
            let outcome = async {
                let buf = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
                    .await
                    .map_err(|_| format!("{name}: the browser could not read the file"))?;
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                let passages = hbt_model::bundle::parse_user_passages(&bytes, &name).map_err(|e| e.to_string())?;
                engine
                    .embed_pool(name.clone(), passages, move |done, total| {
                        progress.set(Some((done, total)))
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
        progress.get().map(|(done, total)| {
            let pct = if total == 0 { 0.0 } else { 100.0 * done as f64 / total as f64 };
            view! {
                <div class="loading" id="embed-progress">
                    <div class="loading-label">
                        {if total == 0 { "Reading the file…".to_string() } else { format!("Embedding {done} / {total} passages in this browser") }}
                    </div>
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
