// The docs widget's engine as a shared worker (web/engine.html starts it): the hbt app's
// wasm, whose `main` sees a shared worker's scope and serves the pages that connect
// (crates/web/src/host.rs, `serve_shared`). scripts/trunk-stage-engine.sh writes this file
// into each build with the names of that build's module (trunk hashes them).
import init from "./__GLUE__";

// Pages that connect while the module is starting wait here; `serve_shared` takes them.
self.hbtPorts = [];
self.onconnect = function (e) {
  // Heard at once: the module (megabytes) may take a while to arrive.
  e.ports[0].postMessage(JSON.stringify({ type: "progress", stage: "app", done: 0, total: 0 }));
  self.hbtPorts.push(e.ports[0]);
};
// The module's name carries its content hash (trunk's filehash), so any copy the HTTP cache
// holds is the right one: taken without revalidating it (a round trip before anything runs).
init({ module_or_path: fetch(new URL("./__WASM__", import.meta.url), { cache: "force-cache" }) }).catch(function (err) {
  var msg = JSON.stringify({ type: "error", message: "the search engine did not start: " + err });
  self.hbtPorts.forEach(function (p) {
    p.postMessage(msg);
  });
  self.close();
});
