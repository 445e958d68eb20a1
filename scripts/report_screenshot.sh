#!/usr/bin/env bash
# Render the HTML report headless and save a screenshot of its first page, to look at it:
#   scripts/report_screenshot.sh [results/report.html] [report.png]
# Needs Chromium (Debian: apt-get install chromium). The tables are under "Tables" (inline HTML pages).
set -euo pipefail
report="$(realpath "${1:-results/report.html}")"
out="${2:-report.png}"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome)"
"$browser" --headless --no-sandbox --disable-gpu --window-size=1400,1000 --virtual-time-budget=8000 \
  --screenshot="$out" "file://$report" 2>/dev/null
echo "wrote $out"
