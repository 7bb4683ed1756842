// hbt search widget. Paste into any page:
//
//   <div data-hbt-bundle="https://example.org/hbt/demo/"></div>
//   <script src="https://example.org/hbt/widget.js" defer></script>
//
// Each element with data-hbt-bundle becomes a compact search box (an iframe of the hbt app
// in widget mode, served from the folder this script comes from). Optional attributes:
// data-hbt-height (CSS height, default 420px), data-hbt-backend="cpu" (skip WebGPU).
(function () {
  var script = document.currentScript;
  var appBase = new URL("./", script ? script.src : location.href);
  function mount(el) {
    if (el.dataset.hbtMounted) return;
    el.dataset.hbtMounted = "1";
    var bundle = new URL(el.dataset.hbtBundle || "demo/", location.href).href;
    var src = new URL("index.html", appBase);
    src.searchParams.set("widget", "1");
    src.searchParams.set("bundle", bundle);
    if (el.dataset.hbtBackend) src.searchParams.set("backend", el.dataset.hbtBackend);
    var frame = document.createElement("iframe");
    frame.src = src.href;
    frame.title = "hbt multilingual search";
    frame.loading = "lazy";
    frame.className = "hbt-widget-frame";
    frame.style.cssText =
      "width:100%;border:1px solid #d9dee5;border-radius:10px;background:#fff;height:" +
      (el.dataset.hbtHeight || "420px");
    el.appendChild(frame);
  }
  function mountAll() {
    document.querySelectorAll("[data-hbt-bundle]").forEach(mount);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})();
