// hbt search for documentation pages: multilingual semantic search over a bundle made by
// `hbt export --docs`, run in the visitor's browser. Add to any page:
//
//   <script src="https://example.org/hbt/widget.js" defer></script>
//   <hbt-search src="https://example.org/hbt/docs-bundle/"></hbt-search>
//
// Only this script loads with the page. The engine (the hbt app's wasm and model, in a
// shared worker this script starts — through a hidden frame when the app is on another
// origin) starts when the visitor focuses the box or presses
// "/", is shared by every box on the page, kept across client-side navigations and — where
// the browser keeps a shared worker alive across a page load (Chrome's extendedLifetime) —
// across the site's pages: the next page finds it loaded. Attributes:
//   src          the bundle folder (required)
//   app          the hbt app's folder (default: this script's folder)
//   k            results shown (default 5)
//   placeholder  the box's placeholder text
//   backend      the engine is the app's CPU-only build (its cpu/ folder, a third of the
//                wasm: it starts sooner, and a question is one short text) where the app
//                folder has one; "webgpu": the full app, on WebGPU where the browser has
//                it; "cpu": the CPU also in the full app (engine="frame")
//   preload      "none": never start the engine before the visitor asks. By default a
//                visitor who searched this bundle in the last 30 days (a localStorage
//                mark) gets it started when the page is idle, from the browser's caches,
//                so that the box answers at once on every later page
//   theme        "light" or "dark" (default: the visitor's preference)
//   engine       "frame": run the engine in the frame itself (the app, index.html?engine=1)
//                and not in a shared worker (the choice where the browser lacks one)
// Styling: CSS custom properties (--hbt-accent, --hbt-bg, --hbt-fg, --hbt-muted,
// --hbt-border, --hbt-radius, --hbt-font, --hbt-width) and the parts input, listbox,
// option, title, snippet, badge, status. Selecting a result follows its link; a page that
// routes on the client can cancel the `hbt-navigate` event (detail: {url}) and route itself.
//
// The older embedding, an iframe of the whole app, still works:
//   <div data-hbt-bundle="https://example.org/hbt/demo/"></div>
(function () {
  "use strict";
  var script = document.currentScript;
  var scriptBase = new URL("./", script ? script.src : location.href).href;

  // ---- the older snippet: <div data-hbt-bundle> becomes an iframe of the app ----
  function mountFrame(el) {
    if (el.dataset.hbtMounted) return;
    el.dataset.hbtMounted = "1";
    var bundle = new URL(el.dataset.hbtBundle || "demo/", location.href).href;
    var src = new URL("index.html", scriptBase);
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
  function mountFrames() {
    document.querySelectorAll("[data-hbt-bundle]").forEach(mountFrame);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountFrames);
  else mountFrames();

  // ---- the engine in a shared worker that outlives the page ----
  // Where the browser keeps a shared worker alive across a page load (`extendedLifetime`),
  // the engine runs in one (engine-worker.js): the next page of the site connects to it,
  // loaded, rather than starting the app again from the caches. Which app: the CPU-only
  // build in the app's cpu/ folder (a third of the wasm, so it starts sooner from the cache;
  // a question is one short text, which the CPU answers in ~20 ms) unless backend="webgpu";
  // an app folder without cpu/ gets the full build. The engine is named by its bundle's
  // manifest as it is now (revalidated, a 304 when unchanged): a re-exported bundle gets a
  // new engine rather than one a tab kept open since. The element connects itself when the
  // app is on the page's origin; otherwise engine.html does, in a frame on the app's origin.
  // Returns {send(text)}, or null where the browser has no long-lived shared worker;
  // `onFail` when no script starts (then the app in a frame: index.html?engine=1).
  function connectShared(app, bundle, backend, onMessage, onFail) {
    if (typeof SharedWorker !== "function") return null;
    // Whether the browser knows the option: the constructor reads it, then fails on the URL
    // before it starts anything.
    var extended = false;
    var probe = {};
    Object.defineProperty(probe, "extendedLifetime", { enumerable: true, get: function () { extended = true; return true; } });
    try { new SharedWorker("http://[", probe); } catch (e) { /* expected: a bad URL */ }
    if (!extended) return null;
    var scripts = backend === "webgpu" ? ["engine-worker.js"] : ["cpu/engine-worker.js", "engine-worker.js"];
    var port = null;
    function start(manifest, which) {
      var h = 0x811c9dc5;
      for (var i = 0; i < manifest.length; i++) h = Math.imul(h ^ manifest.charCodeAt(i), 0x01000193);
      var url = new URL(scripts[which], app);
      url.searchParams.set("bundle", bundle);
      if (backend) url.searchParams.set("backend", backend);
      url.searchParams.set("manifest", (h >>> 0).toString(16) + "-" + manifest.length);
      var worker;
      try {
        worker = new SharedWorker(url.href, { type: "module", name: "hbt-engine", extendedLifetime: true });
      } catch (e) {
        return onFail();
      }
      var heard = false;
      // The script did not load (no cpu/ build, an app built before engine-worker.js, a CSP
      // that forbids workers): the next script, then the frame.
      worker.onerror = function () {
        if (heard) return;
        worker.port.onmessage = null;
        port = null;
        if (which + 1 < scripts.length) start(manifest, which + 1);
        else onFail();
      };
      worker.port.onmessage = function (e) {
        heard = true;
        onMessage(e.data);
      };
      port = worker.port;
    }
    fetch(new URL("manifest.json", bundle), { cache: "no-cache" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .catch(function () { return ""; })
      .then(function (manifest) { start(manifest, 0); });
    // The element asks only once the engine said "ready": the port is the one that spoke.
    return { send: function (text) { if (port) port.postMessage(text); } };
  }
  window.hbtConnectEngine = connectShared;

  if (!window.customElements || customElements.get("hbt-search")) return;

  // ---- engines: one per (app, bundle, backend, mode), shared by the boxes ----
  var engines = new Map();

  function Engine(app, bundle, backend, mode) {
    this.listeners = new Set();
    this.pending = new Map();
    this.nextId = 1;
    this.state = "loading";
    this.error = null;
    this.progress = null;
    this.frame = null;
    var self = this;
    this.deliver = function (data) {
      if (typeof data !== "string") return;
      var msg;
      try {
        msg = JSON.parse(data);
      } catch (e) {
        return;
      }
      self.heard = true;
      if (msg.type === "progress") self.progress = msg;
      else if (msg.type === "ready") {
        self.state = "ready";
        self.info = msg;
        // For sites and benchmarks: the backend and where the engine's start went (marks).
        document.dispatchEvent(new CustomEvent("hbt-ready", { detail: msg }));
      } else if (msg.type === "results") {
        var done = self.pending.get(msg.id);
        self.pending.delete(msg.id);
        if (done) done.resolve(msg);
        return;
      } else if (msg.type === "error") {
        if (msg.id != null && self.pending.has(msg.id)) {
          self.pending.get(msg.id).reject(new Error(msg.message));
          self.pending.delete(msg.id);
          return;
        }
        self.fail(msg.message);
        return;
      }
      self.emit();
      // Ready and nobody asking yet (a warm start, or a visitor still reading): one empty
      // question runs the encoder once, so the browser compiles its hot code and the
      // common word rows come back from the cache before the visitor's first question.
      // An engine kept from an earlier page (`kept`) has run its code already.
      if (msg.type === "ready" && !msg.kept && self.pending.size === 0) self.search("", 1).catch(function () {});
    };
    // An app on this page's origin: the element starts (or finds) the shared worker itself,
    // with no frame to load first. Elsewhere, or failing that, a hidden frame.
    if (mode !== "frame" && new URL(app).origin === location.origin) {
      this.link = connectShared(app, bundle, backend, this.deliver, function () {
        self.useFrame(app, bundle, backend, "frame");
      });
      if (this.link) {
        this.noAnswer(app);
        return;
      }
    }
    this.useFrame(app, bundle, backend, mode);
  }
  // engine.html runs the engine in the shared worker where the browser allows it, else as
  // index.html?engine=1 (`engine="frame"`: always).
  Engine.prototype.useFrame = function (app, bundle, backend, mode) {
    var url = new URL("engine.html", app);
    url.searchParams.set("bundle", bundle);
    if (backend) url.searchParams.set("backend", backend);
    if (mode === "frame") url.searchParams.set("shared", "0");
    var frame = document.createElement("iframe");
    frame.src = url.href;
    frame.title = "hbt search engine";
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;
    // Rendered (not display:none) so the browser runs it at full speed, but invisible.
    frame.style.cssText =
      "position:fixed;left:0;bottom:0;width:1px;height:1px;border:0;opacity:0;pointer-events:none;";
    this.frame = frame;
    var self = this;
    this.onMessage = function (ev) {
      if (ev.source === frame.contentWindow) self.deliver(ev.data);
    };
    window.addEventListener("message", this.onMessage);
    this.link = {
      send: function (text) {
        frame.contentWindow.postMessage(text, url.origin);
      },
    };
    // A frame that loaded but never spoke is not an hbt app (a 404 page, a blocked frame).
    frame.addEventListener("load", function () {
      self.noAnswer(app);
    });
    (document.body || document.documentElement).appendChild(frame);
  };
  Engine.prototype.noAnswer = function (app) {
    var self = this;
    setTimeout(function () {
      if (!self.heard) self.fail("the search engine did not start (no hbt app at " + app + ")");
    }, 15000);
  };
  // A client-side router may have removed the frame with the old page's body; a shared
  // worker the element talks to needs no element of the page.
  Engine.prototype.alive = function () {
    return this.state !== "error" && (!this.frame || this.frame.isConnected);
  };
  Engine.prototype.emit = function () {
    var self = this;
    this.listeners.forEach(function (f) {
      f(self);
    });
  };
  Engine.prototype.fail = function (message) {
    if (this.state === "error") return;
    this.state = "error";
    this.error = message || "the search engine failed";
    this.pending.forEach(function (p) {
      p.reject(new Error(message));
    });
    this.pending.clear();
    this.emit();
  };
  Engine.prototype.search = function (q, k) {
    var self = this;
    return new Promise(function (resolve, reject) {
      var id = self.nextId++;
      self.pending.set(id, { resolve: resolve, reject: reject });
      self.link.send(JSON.stringify({ type: "search", id: id, q: q, k: k }));
    });
  };
  function engineFor(app, bundle, backend, mode) {
    var key = app + "\n" + bundle + "\n" + (backend || "") + "\n" + (mode || "");
    var e = engines.get(key);
    if (!e || !e.alive()) {
      if (e && e.onMessage) window.removeEventListener("message", e.onMessage);
      e = new Engine(app, bundle, backend, mode);
      engines.set(key, e);
    }
    return e;
  }

  var LANGS = {
    ar: "العربية", de: "Deutsch", el: "Ελληνικά", en: "English", es: "Español", fr: "Français",
    hi: "हिन्दी", it: "Italiano", ja: "日本語", ko: "한국어", nl: "Nederlands", pl: "Polski",
    pt: "Português", ru: "Русский", th: "ไทย", tr: "Türkçe", uk: "Українська", vi: "Tiếng Việt", zh: "中文",
  };

  var CSS =
    ":host{--hbt-accent:#2563eb;--hbt-bg:#fff;--hbt-fg:#1b2430;--hbt-muted:#5b6675;--hbt-border:#d0d7e2;" +
    "--hbt-hover:#eef3fd;--hbt-radius:8px;--hbt-font:inherit;--hbt-width:100%;display:block;position:relative;" +
    "width:var(--hbt-width);font:var(--hbt-font);color:var(--hbt-fg)}" +
    "@media (prefers-color-scheme:dark){:host(:not([theme=light])){--hbt-accent:#7aa7ff;--hbt-bg:#1d2128;" +
    "--hbt-fg:#e6e9ee;--hbt-muted:#a4adba;--hbt-border:#3a414d;--hbt-hover:#2a3140}}" +
    ":host([theme=dark]){--hbt-accent:#7aa7ff;--hbt-bg:#1d2128;--hbt-fg:#e6e9ee;--hbt-muted:#a4adba;" +
    "--hbt-border:#3a414d;--hbt-hover:#2a3140}" +
    "input{box-sizing:border-box;width:100%;padding:.5em .75em;font:inherit;color:var(--hbt-fg);" +
    "background:var(--hbt-bg);border:1px solid var(--hbt-border);border-radius:var(--hbt-radius)}" +
    "input:focus{outline:2px solid var(--hbt-accent);outline-offset:1px}" +
    "[role=listbox]{position:absolute;z-index:1000;left:0;right:0;margin:.25em 0 0;padding:.25em;list-style:none;" +
    "background:var(--hbt-bg);border:1px solid var(--hbt-border);border-radius:var(--hbt-radius);" +
    "box-shadow:0 6px 24px rgba(0,0,0,.18);max-height:70vh;overflow:auto}" +
    "[role=listbox][hidden]{display:none}" +
    "[role=option]{display:block;padding:.5em .6em;border-radius:calc(var(--hbt-radius) - 2px);cursor:pointer}" +
    "[role=option][aria-selected=true],[role=option]:hover{background:var(--hbt-hover)}" +
    ".link{display:block}" +
    ".title{font-weight:600;color:var(--hbt-accent)}.snippet{display:block;font-size:.88em;color:var(--hbt-muted);" +
    "margin-top:.15em}.badge{display:inline-block;font-size:.72em;font-weight:600;padding:0 .45em;margin-left:.4em;" +
    "border:1px solid var(--hbt-border);border-radius:1em;color:var(--hbt-muted);vertical-align:middle}" +
    ".status{font-size:.85em;color:var(--hbt-muted);padding:.3em .2em 0;min-height:1.2em}" +
    ".status:empty{display:none}";

  var counter = 0;

  class HbtSearch extends HTMLElement {
    constructor() {
      super();
      var uid = "hbt-search-" + ++counter;
      var root = this.attachShadow({ mode: "open" });
      root.innerHTML =
        "<style>" + CSS + "</style>" +
        '<input part="input" type="search" role="combobox" autocomplete="off" spellcheck="false" ' +
        'aria-autocomplete="list" aria-expanded="false" aria-controls="' + uid + '-list">' +
        '<ul part="listbox" role="listbox" id="' + uid + '-list" hidden></ul>' +
        '<div part="status" class="status" role="status" aria-live="polite"></div>';
      this.uid = uid;
      this.input = root.querySelector("input");
      this.list = root.querySelector("ul");
      this.status = root.querySelector(".status");
      this.hits = [];
      this.active = -1;
      this.seq = 0;
      this.timer = 0;
      this.onEngine = this.onEngine.bind(this);
      this.onSlash = this.onSlash.bind(this);
      var self = this;
      this.input.addEventListener("focus", function () {
        self.quiet = false;
        self.start();
        if (self.engine) self.onEngine(self.engine);
      });
      this.input.addEventListener("input", function () {
        clearTimeout(self.timer);
        self.timer = setTimeout(function () {
          self.query();
        }, 120);
      });
      this.input.addEventListener("keydown", function (e) {
        self.onKey(e);
      });
      this.input.addEventListener("blur", function () {
        setTimeout(function () {
          if (!self.shadowRoot.activeElement) self.close();
        }, 150);
      });
    }

    connectedCallback() {
      this.input.placeholder = this.getAttribute("placeholder") || "Search the docs in any language  ( / )";
      this.input.setAttribute("aria-label", this.getAttribute("aria-label") || "Search the documentation");
      // Capture on window: a site's own search (mdBook's) also takes "/" on document and
      // would open its box first. Its other keys ("s" in mdBook) stay the site's.
      window.addEventListener("keydown", this.onSlash, true);
      if (this.engine) this.engine.listeners.add(this.onEngine);
      else this.warmStart();
    }

    disconnectedCallback() {
      window.removeEventListener("keydown", this.onSlash, true);
      if (this.engine) this.engine.listeners.delete(this.onEngine);
    }

    onSlash(e) {
      var key = this.getAttribute("hotkey") || "/";
      if (key === "none" || e.key !== key || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      var t = e.composedPath()[0];
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      // With several boxes on a page, the first takes "/".
      if (document.querySelector("hbt-search") !== this) return;
      e.preventDefault();
      e.stopPropagation();
      this.input.focus();
    }

    bundleUrl() {
      var src = this.getAttribute("src");
      if (!src) return null;
      var bundle = new URL(src, location.href).href;
      return bundle.endsWith("/") ? bundle : bundle + "/";
    }

    // A returning searcher's pages start the engine once the page is idle (see `preload`).
    warmStart() {
      var bundle = this.bundleUrl();
      if (!bundle || this.getAttribute("preload") === "none" || !usedRecently(bundle)) return;
      var self = this;
      var go = function () {
        if (!self.isConnected || self.engine) return;
        self.quiet = !self.shadowRoot.activeElement;
        self.start();
      };
      var idle = function () {
        if (window.requestIdleCallback) requestIdleCallback(go, { timeout: 2000 });
        else setTimeout(go, 200);
      };
      if (document.readyState === "complete") idle();
      else window.addEventListener("load", idle, { once: true });
    }

    start() {
      if (this.engine && this.engine.alive()) return;
      var bundle = this.bundleUrl();
      if (!bundle) {
        this.say("No bundle: set the src attribute of <hbt-search>.");
        return;
      }
      var app = new URL(this.getAttribute("app") || scriptBase, location.href).href;
      if (!app.endsWith("/")) app += "/";
      if (this.engine) this.engine.listeners.delete(this.onEngine);
      this.engine = engineFor(app, bundle, this.getAttribute("backend"), this.getAttribute("engine"));
      this.engine.listeners.add(this.onEngine);
      this.onEngine(this.engine);
    }

    onEngine(e) {
      if (e.state === "error") {
        // One short line for the visitor; the engine's whole message (which URL, why) is
        // for the site's author, in the console.
        if (!this.warned) console.warn("hbt-search: " + e.error);
        this.warned = true;
        this.say("Search is unavailable right now.");
        this.close();
      } else if (e.state === "loading") {
        // A warm start the visitor did not ask for loads without a word.
        if (this.quiet) return;
        var p = e.progress;
        this.say(
          p && p.total > 1
            ? "Loading search… " + (p.done / 1e6).toFixed(1) + " / " + (p.total / 1e6).toFixed(1) + " MB"
            : "Loading search…"
        );
      } else {
        this.say("");
        if (this.input.value.trim()) this.query();
      }
    }

    say(text) {
      this.status.textContent = text;
    }

    query() {
      var q = this.input.value.trim();
      if (!q) {
        this.render([]);
        return;
      }
      if (!this.engine) this.start();
      if (!this.engine || this.engine.state !== "ready") return;
      var seq = ++this.seq;
      var k = parseInt(this.getAttribute("k") || "5", 10) || 5;
      var self = this;
      this.engine.search(q, k).then(
        function (r) {
          if (seq !== self.seq) return;
          self.lastMs = r.ms;
          markUsed(self.bundleUrl());
          self.render(r.hits);
          self.dispatchEvent(new CustomEvent("hbt-results", { detail: r, bubbles: true, composed: true }));
        },
        function (err) {
          if (seq === self.seq) self.say("Search failed: " + err.message);
        }
      );
    }

    render(hits) {
      this.hits = hits;
      this.active = -1;
      this.list.textContent = "";
      var self = this;
      hits.forEach(function (h, i) {
        var li = document.createElement("li");
        li.id = self.uid + "-opt-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("part", "option");
        li.setAttribute("aria-selected", "false");
        // No <a> inside the option: an option's content is presentational, and a link there is
        // a nested interactive control (axe: nested-interactive). Clicks do what a link would.
        var a = document.createElement("span");
        a.className = "link";
        a.dataset.href = h.url;
        var title = document.createElement("span");
        title.className = "title";
        title.setAttribute("part", "title");
        title.textContent = h.page && h.section && h.page !== h.section ? h.page + " › " + h.section : h.page || h.section || h.url;
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.setAttribute("part", "badge");
        badge.lang = h.lang;
        badge.title = LANGS[h.lang] || h.lang;
        badge.textContent = h.lang;
        var snip = document.createElement("span");
        snip.className = "snippet";
        snip.setAttribute("part", "snippet");
        snip.lang = h.lang;
        snip.textContent = h.snippet;
        a.append(title, badge, snip);
        var follow = function (e) {
          var abs = new URL(h.url, location.href).href;
          if (e.button === 1 || e.ctrlKey || e.metaKey || e.shiftKey) window.open(abs, "_blank", "noopener");
          else if (e.button === 0 && self.navigate(h.url)) location.href = abs;
        };
        li.addEventListener("click", follow);
        li.addEventListener("auxclick", follow);
        li.appendChild(a);
        li.addEventListener("mousedown", function (e) {
          e.preventDefault();
        });
        self.list.appendChild(li);
      });
      var open = hits.length > 0;
      this.list.hidden = !open;
      this.input.setAttribute("aria-expanded", String(open));
      this.input.removeAttribute("aria-activedescendant");
      if (!hits.length && this.input.value.trim() && this.engine && this.engine.state === "ready") this.say("No results.");
      else if (this.engine && this.engine.state === "ready") this.say("");
    }

    select(i) {
      var opts = this.list.children;
      if (!opts.length) return;
      this.active = (i + opts.length) % opts.length;
      for (var j = 0; j < opts.length; j++) opts[j].setAttribute("aria-selected", String(j === this.active));
      var el = opts[this.active];
      this.input.setAttribute("aria-activedescendant", el.id);
      el.scrollIntoView({ block: "nearest" });
    }

    // Follow a result; false when a listener routed it instead.
    navigate(url) {
      var ev = new CustomEvent("hbt-navigate", { detail: { url: url }, bubbles: true, composed: true, cancelable: true });
      this.close();
      return this.dispatchEvent(ev);
    }

    close() {
      this.list.hidden = true;
      this.input.setAttribute("aria-expanded", "false");
      this.input.removeAttribute("aria-activedescendant");
      this.active = -1;
    }

    onKey(e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (this.list.hidden && this.hits.length) {
          this.list.hidden = false;
          this.input.setAttribute("aria-expanded", "true");
        }
        this.select(this.active + (e.key === "ArrowDown" ? 1 : this.active < 0 ? 0 : -1));
      } else if (e.key === "Enter") {
        var i = this.active >= 0 ? this.active : 0;
        if (this.hits[i] && !this.list.hidden) {
          e.preventDefault();
          var url = this.hits[i].url;
          if (this.navigate(url)) location.href = new URL(url, location.href).href;
        }
      } else if (e.key === "Escape") {
        if (!this.list.hidden) {
          e.preventDefault();
          this.close();
        } else {
          this.input.value = "";
          this.render([]);
        }
      }
    }
  }
  customElements.define("hbt-search", HbtSearch);

  // Which bundles this visitor searched, and when: the only thing the widget stores itself
  // (the engine's files are in the browser's HTTP cache and Cache API). Storage may be
  // blocked (privacy settings, sandboxed frames): then nothing is warm-started.
  var USED = "hbt-search-used:";
  var MONTH = 30 * 24 * 3600 * 1000;
  function markUsed(bundle) {
    try {
      localStorage.setItem(USED + bundle, String(Date.now()));
    } catch (e) {}
  }
  function usedRecently(bundle) {
    try {
      var t = Number(localStorage.getItem(USED + bundle));
      return t > 0 && Date.now() - t < MONTH;
    } catch (e) {
      return false;
    }
  }

  // ---- sites that can only add a script (mdBook's additional-js, MkDocs' extra_javascript):
  // window.hbtSearch = {src, app, mount: "CSS selector", position: "prepend" | "append", …}
  // set before this script places a box there on every page ----
  function autoMount() {
    var c = window.hbtSearch;
    if (!c || !c.mount) return;
    var host = document.querySelector(c.mount);
    if (!host || host.querySelector("hbt-search")) return;
    var el = document.createElement("hbt-search");
    ["src", "app", "k", "placeholder", "backend", "theme", "hotkey", "preload", "engine"].forEach(function (k) {
      if (c[k] != null) el.setAttribute(k, String(c[k]));
    });
    if (c.position === "append") host.append(el);
    else host.prepend(el);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", autoMount);
  else autoMount();
})();
