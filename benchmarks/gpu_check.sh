#!/usr/bin/env bash
# The one-shot GPU check: every CUDA fast path tested and timed on one GPU in under 8 minutes, one table out.
#
#   benchmarks/gpu_check.sh             # on a machine with one CUDA GPU (H100/H200 class) and a CUDA torch
#   benchmarks/gpu_check.sh --dry-run   # every step at toy size on the CPU (what CI runs), in under 5 min
#   benchmarks/gpu_check.sh --only engine,parnet   # a subset of the steps (tests engine parnet watch study)
#
# Steps, each under its own time limit (GPU_CHECK_BUDGET_<STEP>=seconds overrides one), in this order:
#   tests   the gpu-marked tests (pytest -m gpu)
#   engine  bench_engine --cifar: ResNet-20, naive DataLoader loop vs fit (bf16, channels_last, CUDA graphs)
#   parnet  bench_parnet: ParNet-S train/deploy, sequential/CUDA streams, vs ResNet-34/50; eager/graph/compile
#   watch   bench_watch: the overhead of watch every=10 (and every=1)
#   study   the quick study with --device cuda, presets with diagnostics first; stopped at its limit it is a
#           partial result (each finished run counts; a failed run fails the check)
# Every benchmark appends its numbers to rows.jsonl as it measures them, so a step that hangs or fails still
# leaves the numbers before it and the other steps' numbers. The end: one Markdown table on stdout, also
# written to $OUT/gpu_check.md when OUT is set (with each step's log in $OUT/gpu_check_logs/).
# Exit status: 0 when every step passed; 1 when a step failed or ran out of time (a GPU test failing
# included); 2 when there is no GPU to check (without --dry-run). A missed speed target is a number in the
# table, not a failure.
#
# Python: $PYTHON, else .venv/bin/python, else python3; it needs a CUDA build of torch and depthlab's
# dependencies. src/ is put on PYTHONPATH, so `pip install --no-deps -e .` is optional. See docs/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."

DRY=0
ONLY="tests,engine,parnet,watch,study"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --only) ONLY="$2"; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown option '$1' (valid: --dry-run, --only STEPS)" >&2; exit 2 ;;
  esac
  shift
done

if [[ -n "${PYTHON:-}" ]]; then PY="$PYTHON"
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
else PY=python3
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# Inductor's compiled kernels are cached on disk: a rerun on the same machine skips most compilation.
export TORCHINDUCTOR_CACHE_DIR="${TORCHINDUCTOR_CACHE_DIR:-${TMPDIR:-/tmp}/depthlab-inductor-cache}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
ROWS="$WORK/rows.jsonl"
LOGS="${OUT:+$OUT/gpu_check_logs}"
LOGS="${LOGS:-$WORK/logs}"
mkdir -p "$LOGS"
: >"$ROWS"
# With OUT set, the raw rows go there too (they hold more than the table, e.g. fit's end-to-end rate).
[[ -n "${OUT:-}" ]] && trap 'cp "$ROWS" "$OUT/gpu_check_rows.jsonl"; rm -rf "$WORK"' EXIT

# The whole check must end within TOTAL seconds on the GPU; the step budgets below sum to less. The dry run's
# toy steps take seconds of CPU each, but CI's two cores may be shared: its limits only catch a hang.
if [[ $DRY -eq 1 ]]; then
  TOTAL=300
  declare -A BUDGET=([tests]=120 [engine]=120 [parnet]=120 [watch]=120 [study]=150)
else
  TOTAL=470
  declare -A BUDGET=([tests]=110 [engine]=175 [parnet]=90 [watch]=25 [study]=50)
fi
for step in "${!BUDGET[@]}"; do
  override="GPU_CHECK_BUDGET_${step^^}"
  BUDGET[$step]="${!override:-${BUDGET[$step]}}"
done

probe=$("$PY" - <<'EOF'
import torch
cuda = torch.cuda.is_available()
name = torch.cuda.get_device_name(0) if cuda else "cpu"
print(f"{int(cuda)}\t{torch.__version__}\t{torch.version.cuda}\t{name}")
EOF
) || { echo "gpu_check: $PY cannot import torch" >&2; exit 2; }
IFS=$'\t' read -r HAS_CUDA TORCH_VERSION CUDA_VERSION DEVICE_NAME <<<"$probe"
if [[ $DRY -eq 0 && $HAS_CUDA != 1 ]]; then
  echo "gpu_check: no CUDA GPU visible to torch $TORCH_VERSION ($PY); use --dry-run on a CPU" >&2
  exit 2
fi
# Everything the steps import, checked before any GPU time is spent (a missing one is one line, exit 2).
missing=$("$PY" - <<'EOF'
import importlib.util
needed = ["pytest", "hypothesis", "numpy", "mnist1d", "sklearn", "matplotlib", "rich", "safetensors", "typer",
          "jinja2", "PIL", "pandas", "depthlab"]
print(" ".join(m for m in needed if importlib.util.find_spec(m) is None))
EOF
)
if [[ -n "$missing" ]]; then
  echo "gpu_check: $PY lacks: $missing (pip install -e '.[dev]' keeps an installed CUDA torch)" >&2
  exit 2
fi
DEV=$([[ $DRY -eq 1 ]] && echo cpu || echo cuda)
echo "gpu_check: $DEVICE_NAME, torch $TORCH_VERSION (CUDA $CUDA_VERSION), python $PY, dry run: $DRY"
command -v nvidia-smi >/dev/null && nvidia-smi >"$LOGS/nvidia-smi.log" 2>&1

FAILED=0

step_row() {  # step status seconds: the step's own row in the table
  "$PY" - "$ROWS" "$1" "$2" "$3" "$DEVICE_NAME" "$TORCH_VERSION" <<'EOF'
import json, sys
rows, step, status, seconds, device, torch_version = sys.argv[1:]
row = {"step": step, "case": "step", "device": device, "torch": torch_version, "dtype": "–",
       "memory_format": "–", "batch": "–", "mode": "–", "value": float(seconds), "unit": "s",
       "status": status}
with open(rows, "a", encoding="utf-8") as f:
    f.write(json.dumps(row) + "\n")
EOF
}

run_step() {  # name command...: run under the step's budget; its log in $LOGS/name.log; a status row
  local name=$1; shift
  local budget=${BUDGET[$name]} start=$SECONDS status rc
  if (( SECONDS + 5 > TOTAL )); then
    step_row "$name" "skipped: the check's $TOTAL s are spent" 0; FAILED=1; return
  fi
  (( budget > TOTAL - SECONDS )) && budget=$(( TOTAL - SECONDS ))
  echo "== $name (limit ${budget} s): $*"
  timeout --kill-after=10 "$budget" "$@" >"$LOGS/$name.log" 2>&1
  rc=$?
  tail -n 4 "$LOGS/$name.log" | sed 's/^/   /'
  if [[ ($rc -eq 124 || $rc -eq 137) && $name == study ]]; then
    status="stopped at $budget s (resumable: the study row counts what finished)"
  elif [[ $rc -eq 124 || $rc -eq 137 ]]; then
    status="timed out after $budget s (the rows before the limit are kept)"; FAILED=1
  elif [[ $rc -ne 0 ]]; then
    status="failed: exit $rc (see $name.log)"; FAILED=1
  else
    status="ok"
  fi
  step_row "$name" "$status" $(( SECONDS - start ))
}

wants() { [[ ",$ONLY," == *",$1,"* ]]; }

if wants tests; then
  mapfile -t GPU_TESTS < <(grep -l "pytest.mark.gpu" tests/test_*.py)
  run_step tests "$PY" -m pytest -q -p no:cacheprovider -m gpu -rfEs "${GPU_TESTS[@]}"
  summary=$(grep -E "[0-9]+ (passed|failed|skipped|deselected|error)" "$LOGS/tests.log" | tail -n 1)
  "$PY" - "$ROWS" "$DEVICE_NAME" "$TORCH_VERSION" "${summary:-no summary}" <<'EOF'
import json, sys
rows, device, torch_version, summary = sys.argv[1:]
row = {"step": "tests", "case": "pytest -m gpu", "device": device, "torch": torch_version, "dtype": "–",
       "memory_format": "–", "batch": "–", "mode": "–", "value": summary.strip("= ")}
with open(rows, "a", encoding="utf-8") as f:
    f.write(json.dumps(row) + "\n")
EOF
fi

if wants engine; then
  if [[ $DRY -eq 1 ]]; then
    size=(--n 128 --batch-sizes 16 32 --steps 2 --skip 1 --workers 1 --depth 8 --width-cifar 4 --threads 1)
  else
    size=(--batch-sizes 128 512 --steps 300 --skip 30 --workers 4)
  fi
  run_step engine "$PY" benchmarks/bench_engine.py --cifar --device "$DEV" "${size[@]}" --json "$ROWS"
fi

if wants parnet; then
  if [[ $DRY -eq 1 ]]; then
    size=(--gpu-suite --tiny --resolution 64 --big-batch 4 --repeats 2 --warmup 1 --threads 1)
  else
    size=(--repeats 30 --warmup 10)
  fi
  run_step parnet "$PY" benchmarks/bench_parnet.py --device "$DEV" "${size[@]}" \
    --budget $(( BUDGET[parnet] - 35 )) --json "$ROWS"
fi

if wants watch; then
  if [[ $DRY -eq 1 ]]; then
    size=(--depth 4 --width 16 --steps 5 --rounds 1)
  else
    size=(--steps 100 --rounds 7)
  fi
  run_step watch "$PY" benchmarks/bench_watch.py --device "$DEV" "${size[@]}" --json "$ROWS"
fi

if wants study; then
  if [[ $DRY -eq 1 ]]; then  # two 5-step runs of one preset, through the same plan, runner, tasks and report
    run_step study "$PY" benchmarks/gpu_study.py cost --device "$DEV" --steps 5 --max-runs 2 \
      --out "$WORK/study" --json "$ROWS"
  else
    # the studies whose runs take diagnostics after training come first: within the limit they matter most
    STUDIES=(nondeep cost representation residual gradients depth normalization overfitting composition
      transfer width_vs_depth)
    run_step study "$PY" -m depthlab.cli study "${STUDIES[@]}" --quick --device "$DEV" --quiet \
      --out "$WORK/study"
    "$PY" benchmarks/gpu_table.py "$ROWS" --study "$WORK/study" --device "$DEV" --names "${STUDIES[@]}" \
      >>"$LOGS/study.log" 2>&1 || FAILED=1
  fi
fi

echo
"$PY" benchmarks/gpu_table.py "$ROWS" ${OUT:+--out "$OUT/gpu_check.md"}
echo
verdict="every step passed"
[[ $FAILED -eq 0 ]] || verdict="a step FAILED or ran out of time (see the table)"
kept=$([[ -n "${OUT:-}" ]] && echo "$OUT/gpu_check_rows.jsonl" || echo "$ROWS")
echo "gpu_check: $SECONDS s; rows: $kept; logs: $LOGS; $verdict"
exit $FAILED
