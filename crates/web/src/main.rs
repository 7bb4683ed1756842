//! hbt-web: the browser app. It loads a bundle written by `hbt export`, runs the very same
//! hbt-model encoder on WebGPU (Burn's wgpu backend) or, where WebGPU is missing, on the CPU
//! (Burn's flex backend), and shows multilingual search results with their language bias.
//! Built with trunk from the repository root (`index.html`, `Trunk.toml`).

mod analysis;
mod bench;
mod charts;
mod engine;
mod fetch;
mod host;
mod ports;
mod protocol;
mod timing;
mod ui;
mod worker;

fn main() {
    // A browser page has one thread: the tokenizer must not try to start a thread pool.
    #[cfg(target_arch = "wasm32")]
    tokenizers::utils::parallelism::set_parallelism(false);
    // The docs widget's engine as a shared worker (web/widget.js starts it): see host.rs.
    if ports::in_shared_worker() {
        host::serve_shared();
        return;
    }
    // The same module runs the encoder's worker (no window there): see worker.rs.
    if web_sys::window().is_none() {
        worker::serve();
        return;
    }
    // A panic would otherwise leave a frozen page: log it and say so on the page.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
            let msg = charts::esc(&info.to_string());
            let _ = body.insert_adjacent_html(
                "afterbegin",
                &format!(r#"<div class="error" role="alert" id="error"><strong>hbt stopped: </strong>{msg}</div>"#),
            );
        }
    }));
    // `?engine=1`: no page, only the engine of a docs page's `<hbt-search>` (host.rs).
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    let q = web_sys::UrlSearchParams::new_with_str(&search).ok();
    if q.as_ref().and_then(|q| q.get("engine")).is_some_and(|v| v == "1") {
        let get = |k: &str| q.as_ref().and_then(|q| q.get(k));
        let bundle = get("bundle")
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "demo/".into());
        host::serve(bundle, get("backend").is_some_and(|b| b == "cpu"));
        return;
    }
    leptos::mount::mount_to_body(ui::App);
}
