#!/usr/bin/env bash
# The four pytorch-metric-learning losses through vectors -> run_pml.py -> check, in
# float64, and the deliberately wrong ArcFace adapter (margin in radians where pml
# means degrees), which check must fail.
#
#   examples/pytorch/check_pml.sh [BIN] [PYTHON]
#
# BIN: the asoftmax-spec binary (default target/debug/asoftmax-spec); PYTHON: a Python
# with torch and pytorch-metric-learning (default python3). Exit 0 only if the four
# pass and the wrong adapter fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${1:-target/debug/asoftmax-spec}
PY=${2:-python3}
T=$(mktemp -d)
R=examples/pytorch/run_pml.py
common=(--op loss --dtype f64 --count 6 --batch 4 --classes 6 --dim 5)

# The vector lines name what each pml loss computes (run_pml.py's table): the A-Softmax
# and L-Softmax variants with the full backward, ArcFace's linear fallback through a
# differentiable acos (pml's margin in degrees: 0.5 rad = 28.65 deg, near its 28.6
# default), CosFace on the cosine.
"$B" vectors "${common[@]}" --m 4 > "$T/sphereface.jsonl"
"$B" vectors "${common[@]}" --m 4 --variant l_softmax > "$T/large_margin.jsonl"
"$B" vectors "${common[@]}" --scale 64 --head arcface --head-m 0.5 --fallback linear \
  --semantics differentiable_acos > "$T/arcface.jsonl"
"$B" vectors "${common[@]}" --scale 64 --head cosface --head-m 0.35 > "$T/cosface.jsonl"

for loss in sphereface large_margin arcface cosface; do
  "$PY" -W ignore "$R" --loss "$loss" "$T/$loss.jsonl" > "$T/$loss-results.jsonl"
  echo "== pytorch-metric-learning $loss (float64):"
  "$B" check "$T/$loss.jsonl" "$T/$loss-results.jsonl"
done

"$PY" -W ignore "$R" --loss arcface --wrong-margin-units "$T/arcface.jsonl" > "$T/wrong.jsonl"
if "$B" check "$T/arcface.jsonl" "$T/wrong.jsonl" > "$T/wrong-report.txt"; then
  cat "$T/wrong-report.txt"
  echo "the wrong ArcFace adapter (margin in radians where pml means degrees) passed: the check does not bite"
  exit 1
fi
echo "== the wrong ArcFace adapter (radians where degrees are meant) is rejected as expected:"
grep -E "^(loss|grad_x|grad_w) f64|check:" "$T/wrong-report.txt" | cut -c1-160
