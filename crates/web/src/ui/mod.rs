//! The page: loading, search, bias view, report charts and the passage map; and the compact
//! widget that documentation pages embed (`?widget=1`). [`page`] holds what sits below the
//! search box.

mod page;

use page::FullPage;

use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::analysis::{language_colour, language_name};
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
    let others = if widget {
        Vec::new()
    } else {
        engine.demo.other_language_examples()
    };
    let m = &engine.manifest;
    let summary = format!(
        "{} passages in {} languages · {} · {}",
        m.passages,
        engine.demo.langs.len(),
        m.model.label,
        match (&m.model.vocab, &engine.rows) {
            (Some(v), _) => format!("vocabulary pruned to {} of {} tokens", v.after, v.before),
            (None, Some(r)) => format!(
                "every language the model knows: word rows fetched as queries need them ({} of {} held)",
                r.held, r.total
            ),
            (None, None) => "full vocabulary".into(),
        }
    );
    let button = move |(lang, text): (String, String)| {
        let t = text.clone();
        view! {
            <button class="example" title=language_name(&lang).to_string() data-lang=lang.clone() on:click=move |_| run(t.clone())>
                <span class="badge small">{lang.clone()}</span>
                {text}
            </button>
        }
    };
    let others = (!others.is_empty()).then(|| {
        view! {
            <div class="examples" id="other-examples">
                <span class="muted">"Or in a language with no passages here: "</span>
                {others.into_iter().map(button).collect_view()}
            </div>
        }
    });
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
            {examples.into_iter().map(button).collect_view()}
        </div>
        {others}
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
                let fetched = r.rows.clone().map(|w| view! { <RowsInfo report=w worker_ms=r.worker_ms /> });
                view! {
                    {unk}
                    {fetched}
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

/// What an on-demand vocabulary's rows cost a query (and, for a server without `Range`,
/// why the whole table was downloaded).
#[component]
fn RowsInfo(report: crate::engine::RowsReport, worker_ms: f64) -> impl IntoView {
    let w = report;
    let fallback = w
        .fallback
        .clone()
        .map(|f| view! { <p class="fallback" id="rows-fallback">{f}</p> });
    let text = match (w.rows, w.cached) {
        (0, _) => format!(
            "Every word row this query needs was held ({} of {} rows).",
            w.held, w.total
        ),
        (n, c) if c == n => format!(
            "{n} word rows for this query, all from this browser's cache ({:.0} ms; {} of {} rows held now).",
            w.ms, w.held, w.total
        ),
        (n, c) => format!(
            "{n} word rows for this query{}: {} fetched in {} read(s), {:.1} KB, {:.0} ms ({} of {} rows held now).",
            if c > 0 {
                format!(", {c} from this browser's cache")
            } else {
                String::new()
            },
            n - c,
            w.requests,
            w.bytes as f64 / 1e3,
            w.ms,
            w.held,
            w.total
        ),
    };
    view! {
        {fallback}
        <p
            class="muted rows-info"
            id="rows-info"
            data-rows=w.rows.to_string()
            data-requests=w.requests.to_string()
            data-bytes=w.bytes.to_string()
            data-cached=w.cached.to_string()
            data-ms=format!("{:.1}", w.ms)
            data-worker-ms=format!("{worker_ms:.1}")
        >
            {text}
        </p>
    }
}
