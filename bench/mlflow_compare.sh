#!/usr/bin/env bash
# Modelgate against an MLflow server, same machine, same workload (bench/mlflow_load.py),
# both on PostgreSQL with 2 workers, in ABBA order. Not run in CI (~15 minutes).
#
#   bench/mlflow_compare.sh [pairs]        # default 3 pairs; run from the repository root
#
# Set-up, each time from scratch:
#   - two fresh databases on 127.0.0.1:5432 (user postgres): mg_bench, mlflow_bench;
#   - Modelgate: migrate, a data scientist in one team with an API token, served by
#     gunicorn with the production settings (modelgate/gunicorn.py: 2 sync workers);
#   - MLflow 3.17.2 in its own virtualenv ($MLFLOW_VENV, created if missing):
#     `mlflow server --workers 2` on the same PostgreSQL, no auth;
#   - both registries grown alike (~2,000 models each), then VACUUM ANALYZE (this
#     machine's PostgreSQL runs with autovacuum off, so neither has statistics otherwise).
# Every run starts its server, warms it with a short run of the same workload (a fresh
# MLflow worker needed ~2,000 requests to reach its speed: measured cold, its writes are
# ~40 % slower), then measures: writes at 8 clients, mixed reads at 1 and 16 clients.
# Results: one JSON per run under $OUT, and a table of per-pair ratios at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-3}
OUT=${OUT:-/tmp/mlflow-compare}
MLFLOW_VENV=${MLFLOW_VENV:-/tmp/mlflow-venv}
PG=postgres://postgres@127.0.0.1:5432
PY=${PY:-.venv/bin/python}
MODELS_PER_CLIENT=${MODELS_PER_CLIENT:-80}
READS=${READS:-600}
mkdir -p "$OUT"

if [ ! -x "$MLFLOW_VENV/bin/mlflow" ]; then
  python3 -m venv "$MLFLOW_VENV"
  "$MLFLOW_VENV/bin/pip" install --quiet mlflow==3.17.2 psycopg2-binary
fi

export DATABASE_URL=$PG/mg_bench SECRET_KEY=bench-not-secret DEBUG=False ALLOWED_HOSTS=127.0.0.1,localhost \
  REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/5} LOG_LEVEL=WARNING

for db in mg_bench mlflow_bench; do
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
done
$PY manage.py migrate -v0
TOKEN=$($PY manage.py shell -v0 -c "
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from modelgate.core import roles
from modelgate.core.services import team_add_member, team_create, token_create
user = get_user_model().objects.create(username='bench')
user.groups.add(Group.objects.get(name=roles.DATA_SCIENTIST))
team_add_member(team=team_create(name='bench', slug='bench'), user=user)
print(token_create(user=user, name='bench')[1])
" | tail -n 1)

SERVER_PID=
start_server() {  # $1: mg | mlflow; sets URL, AUTH, SERVER_PID
  if [ "$1" = mg ]; then
    .venv/bin/gunicorn -c python:modelgate.gunicorn modelgate.wsgi --bind 127.0.0.1:8000 >"$OUT/mg.log" 2>&1 &
    URL=http://127.0.0.1:8000 AUTH=(--token "$TOKEN")
  else
    "$MLFLOW_VENV/bin/mlflow" server --backend-store-uri "postgresql+psycopg2://postgres@127.0.0.1:5432/mlflow_bench" \
      --workers 2 --host 127.0.0.1 --port 5000 >"$OUT/mlflow.log" 2>&1 &
    URL=http://127.0.0.1:5000 AUTH=()
  fi
  SERVER_PID=$!
  for _ in $(seq 1 240); do
    curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/api/2.0/mlflow/registered-models/search?max_results=1" && return
    sleep 0.5
  done
  echo "server $1 did not start (see $OUT/$1.log)"; exit 1
}
stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  pkill -f "$MLFLOW_VENV/bin/" 2>/dev/null || true  # MLflow's uvicorn workers and job runners
  sleep 2
}
run() {  # $1: mg | mlflow, $2: label, $3: models per client, $4: read phases' clients ("" for none)
  start_server "$1"
  $PY bench/mlflow_load.py --url "$URL" "${AUTH[@]}" --models-per-client 10 --read-clients "$4" --reads 200 >/dev/null  # warm-up
  $PY bench/mlflow_load.py --url "$URL" "${AUTH[@]}" --pss "$SERVER_PID" --postgres-cpu \
    --models-per-client "$3" --read-clients "$4" --reads "$READS" --json "$OUT/$2.json" >"$OUT/$2.txt"
  stop_server
}

echo "growing both registries"
for server in mlflow mg; do  # writes only: without statistics yet, MLflow's searches take seconds each
  run "$server" "grow-$server" 240 ""
done
for db in mg_bench mlflow_bench; do psql -q -h 127.0.0.1 -U postgres -d "$db" -c "VACUUM ANALYZE"; done

for pair in $(seq 1 "$PAIRS"); do
  if [ $((pair % 2)) = 1 ]; then order="mlflow mg"; else order="mg mlflow"; fi
  for server in $order; do
    echo "pair $pair: $server"
    run "$server" "pair$pair-$server" "$MODELS_PER_CLIENT" 1,16
  done
done

$PY - "$OUT" "$PAIRS" <<'EOF'
import json, sys
out, pairs = sys.argv[1], int(sys.argv[2])
print(f"\n{'pair':<6}{'phase':<12}{'MLflow req/s':>14}{'Modelgate req/s':>17}{'ratio':>8}   CPU ms/request (server + PostgreSQL + client)")
for pair in range(1, pairs + 1):
    runs = {s: {r["phase"]: r for r in json.load(open(f"{out}/pair{pair}-{s}.json"))["results"]} for s in ("mlflow", "mg")}
    for phase in ("writes x8", "reads x1", "reads x16"):
        a, b = runs["mlflow"][phase], runs["mg"][phase]
        cpu = lambda r: " + ".join(f"{v:.2f}" for v in r.get("cpu_ms_per_request", {}).values())
        print(f"{pair:<6}{phase:<12}{a['req_per_s']:>14.1f}{b['req_per_s']:>17.1f}{b['req_per_s'] / a['req_per_s']:>7.2f}x"
              f"   MLflow {cpu(a)} | Modelgate {cpu(b)}")
    pss = {s: runs[s]["memory"]["pss_mib"] for s in runs}
    print(f"{pair:<6}{'memory':<12}{pss['mlflow']:>11} MiB{pss['mg']:>14} MiB{pss['mg'] / pss['mlflow']:>7.2f}x")
EOF
