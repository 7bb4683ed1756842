#!/usr/bin/env sh
# trunk post_build hook (Trunk.toml): write engine-worker.js, the docs widget's shared-worker
# engine (web/engine-worker.js), with the names trunk gave this build's module — hashed, so
# the worker cannot be written before the build.
set -eu
d=$TRUNK_STAGING_DIR
glue=$(cd "$d" && ls hbt-web-*.js 2>/dev/null | head -1)
wasm=$(cd "$d" && ls hbt-web-*_bg.wasm 2>/dev/null | head -1)
if [ -z "$glue" ] || [ -z "$wasm" ]; then
  echo "trunk hook: no hbt-web-*.js and hbt-web-*_bg.wasm in $d" >&2
  exit 1
fi
sed -e "s|__GLUE__|$glue|; s|__WASM__|$wasm|" web/engine-worker.js > "$d/engine-worker.js"
