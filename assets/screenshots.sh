#!/usr/bin/env bash
# Regenerates the README's screenshots from a real session: the live view on the built-in
# demo file, evicted first (--cold), captured SECONDS (default 6) in, as SVG images and the
# text capture, from the same frame. No terminal needed (examples/screenshot.rs renders the
# TUI into a ratatui Buffer and writes SVG).
#
#   assets/screenshots.sh            # from the repository root or anywhere
#   SECONDS_IN=10 assets/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${SECONDS_IN:-6}"
cargo build --release --quiet --bin mmviz --example screenshot
export MMVIZ_EXE="$PWD/target/release/mmviz"
shot=target/release/examples/screenshot

# Dark (the default theme) and the text capture of the same frame.
"$shot" --cold --seconds "$secs" --size 120x40 --theme dark \
  --svg assets/screen-120x40.svg --txt assets/screen-120x40.txt
# The projector theme (another session: the demo is evicted again first).
"$shot" --cold --seconds "$secs" --size 120x40 --theme projector \
  --svg assets/screen-projector-120x40.svg
echo "wrote assets/screen-120x40.svg, assets/screen-120x40.txt, assets/screen-projector-120x40.svg"
