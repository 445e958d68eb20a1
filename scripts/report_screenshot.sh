#!/usr/bin/env bash
# Render an HTML page headless and save a screenshot, to look at it (a documentation tool, not a dependency):
#   scripts/report_screenshot.sh [results/report.html] [report.png] [WIDTHxHEIGHT]
# The report's first page, or a table's own page (results/report/table2.html). Needs a headless Chromium:
# Debian's `apt-get install chromium-headless-shell` (or chromium). The report centres its first page
# vertically beside the rule graph: a window shorter than the graph cuts the page's top (default 1300x1500).
set -euo pipefail
page="$(realpath "${1:-results/report.html}")"
out="${2:-report.png}"
size="${3:-1300x1500}"
browser="$(command -v chromium-headless-shell || command -v chromium || command -v chromium-browser \
  || command -v google-chrome || true)"
if [[ -z "$browser" ]]; then
  echo "no headless Chromium found: apt-get install chromium-headless-shell (Debian), or chromium" >&2
  exit 1
fi
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --virtual-time-budget=8000 --screenshot="$out" "file://$page" 2>/dev/null
echo "wrote $out"
