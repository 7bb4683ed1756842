#!/usr/bin/env sh
# trunk post_build hook (Trunk.toml): put the exported demo bundle into every build, so
# `trunk build`, `trunk build --release` and `trunk serve` all serve the app with its demo.
# The bundle lives outside dist/ (trunk replaces dist/ on each build): in target/web-demo,
# written by scripts/build-web.sh (or `hbt export ... --out target/web-demo`). With no
# bundle yet the build goes on, and the page says how to make one.
set -eu
src=${HBT_WEB_DEMO:-target/web-demo}
if [ -f "$src/manifest.json" ]; then
  cp -R "$src" "$TRUNK_STAGING_DIR/demo"
else
  echo "trunk hook: no demo bundle at $src (scripts/build-web.sh makes one); building without it" >&2
fi
