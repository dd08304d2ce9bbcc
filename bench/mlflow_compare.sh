#!/usr/bin/env bash
# Modelgate against an MLflow server, same machine, same workload (bench/mlflow_load.py),
# both on PostgreSQL with 2 workers, in ABBA order. Not run in CI (~15 minutes).
#
#   bench/mlflow_compare.sh [pairs]        # default 3 pairs; run from the repository root
#
# Environment (all optional):
#   MG_TREES   space-separated label=path of Modelgate source trees to serve in every
#              pair (default "mg=."), e.g. "before=var/before after=." for a before/after
#              table in one run (each tree needs .venv: a symlink to this one will do)
#   GUNICORN   config (default: -c python:modelgate.gunicorn, as deployed) or plain
#              (`gunicorn modelgate.wsgi -w 2`, sync workers, nothing else)
#   MG_PORT, MLFLOW_PORT, MG_DB, MLFLOW_DB, REDIS_URL   where to run (defaults 8000,
#              5000, mg_bench, mlflow_bench, redis://127.0.0.1:6379/5)
#
# Set-up, each time from scratch:
#   - two fresh databases on 127.0.0.1:5432 (user postgres): mg_bench, mlflow_bench;
#   - Modelgate: migrate, a data scientist in one team with an API token, served by
#     gunicorn with the production settings (modelgate/gunicorn.py: 2 sync workers);
#   - MLflow 3.17.2 in its own virtualenv ($MLFLOW_VENV, created if missing):
#     `mlflow server --workers 2` on the same PostgreSQL, no auth;
#   - both registries grown alike (GROW models per client x 8 clients), then VACUUM ANALYZE (this
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
GROW=${GROW:-240}
MG_TREES=${MG_TREES:-mg=.}
GUNICORN=${GUNICORN:-config}
MG_PORT=${MG_PORT:-8000}
MLFLOW_PORT=${MLFLOW_PORT:-5000}
MG_DB=${MG_DB:-mg_bench}
MLFLOW_DB=${MLFLOW_DB:-mlflow_bench}
ROOT=$PWD
mkdir -p "$OUT"
LABELS=()
declare -A TREE
for item in $MG_TREES; do LABELS+=("${item%%=*}"); TREE[${item%%=*}]=$(cd "${item#*=}" && pwd); done

if [ ! -x "$MLFLOW_VENV/bin/mlflow" ]; then
  python3 -m venv "$MLFLOW_VENV"
  "$MLFLOW_VENV/bin/pip" install --quiet mlflow==3.17.2 psycopg2-binary
fi

export DATABASE_URL=$PG/$MG_DB SECRET_KEY=bench-not-secret DEBUG=False ALLOWED_HOSTS=127.0.0.1,localhost \
  REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/5} LOG_LEVEL=WARNING

for db in $MG_DB $MLFLOW_DB; do
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
trap '[ -z "$SERVER_PID" ] || kill -TERM -- "-$SERVER_PID" 2>/dev/null || true' EXIT  # never leave a server running
start_server() {  # $1: mlflow or a label of MG_TREES; sets URL, AUTH, SERVER_PID
  # Each server in a process group of its own (setsid), so stopping it ends its workers too.
  if [ "$1" != mlflow ]; then
    if [ "$GUNICORN" = plain ]; then
      args=(-w 2 --bind "127.0.0.1:$MG_PORT")
    else
      args=(-c python:modelgate.gunicorn --bind "127.0.0.1:$MG_PORT")
    fi
    (cd "${TREE[$1]}" && exec setsid "$ROOT/.venv/bin/gunicorn" "${args[@]}" modelgate.wsgi) >"$OUT/$1.log" 2>&1 &
    URL=http://127.0.0.1:$MG_PORT AUTH=(--token "$TOKEN")
  else
    setsid "$MLFLOW_VENV/bin/mlflow" server --backend-store-uri "postgresql+psycopg2://postgres@127.0.0.1:5432/$MLFLOW_DB" \
      --workers 2 --host 127.0.0.1 --port "$MLFLOW_PORT" >"$OUT/mlflow.log" 2>&1 &
    URL=http://127.0.0.1:$MLFLOW_PORT AUTH=()
  fi
  SERVER_PID=$!
  for _ in $(seq 1 240); do
    curl -fs -o /dev/null -H "Authorization: Bearer $TOKEN" "$URL/api/2.0/mlflow/registered-models/search?max_results=1" && return
    sleep 0.5
  done
  echo "server $1 did not start (see $OUT/$1.log)"; exit 1
}
stop_server() {
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || true  # the server's process group: its workers and job runners
  wait "$SERVER_PID" 2>/dev/null || true
  sleep 2
  kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
}
run() {  # $1: mg | mlflow, $2: label, $3: models per client, $4: read phases' clients ("" for none)
  start_server "$1"
  $PY bench/mlflow_load.py --url "$URL" "${AUTH[@]}" --models-per-client 10 --read-clients "$4" --reads 200 >/dev/null \
    || [ $? = 2 ]  # warm-up
  $PY bench/mlflow_load.py --url "$URL" "${AUTH[@]}" --pss "$SERVER_PID" ${POSTGRES_CPU:+--postgres-cpu} \
    --models-per-client "$3" --read-clients "$4" --reads "$READS" --json "$OUT/$2.json" >"$OUT/$2.txt" \
    || [ $? = 2 ]  # 2: some requests failed; counted in the table below
  stop_server
}

echo "growing the registries (load: $(uptime))"
# Writes only: without statistics yet, MLflow's searches take seconds each. Every
# Modelgate tree writes to the same database, so it grows by GROW per tree.
run mlflow grow-mlflow "$GROW" ""
for label in "${LABELS[@]}"; do run "$label" "grow-$label" $((GROW / ${#LABELS[@]})) ""; done
for db in $MG_DB $MLFLOW_DB; do psql -q -h 127.0.0.1 -U postgres -d "$db" -c "VACUUM ANALYZE"; done

SERVERS=(mlflow "${LABELS[@]}")
for pair in $(seq 1 "$PAIRS"); do
  # Rotate the order from pair to pair, so drifting machine load hits every server alike.
  shift_by=$(( (pair - 1) % ${#SERVERS[@]} ))
  order=("${SERVERS[@]:$shift_by}" "${SERVERS[@]:0:$shift_by}")
  for server in "${order[@]}"; do
    echo "pair $pair: $server (load: $(uptime | sed 's/.*load average: //'))"
    run "$server" "pair$pair-$server" "$MODELS_PER_CLIENT" 1,16
  done
done

$PY - "$OUT" "$PAIRS" "${LABELS[@]}" <<'EOF'
import json, sys
out, pairs, labels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print(f"\n{'pair':<6}{'phase':<12}{'server':<10}{'req/s':>9}{'÷ MLflow':>10}{'p95 ms':>9}{'errors':>8}   CPU ms/request (server, client)")
for pair in range(1, pairs + 1):
    phases = {s: {r["phase"]: r for r in json.load(open(f"{out}/pair{pair}-{s}.json"))["results"]} for s in ("mlflow", *labels)}
    for phase in ("writes x8", "reads x1", "reads x16"):
        base = phases["mlflow"][phase]
        for s in ("mlflow", *labels):
            r = phases[s][phase]
            cpu = ", ".join(f"{v:.2f}" for v in r.get("cpu_ms_per_request", {}).values())
            print(f"{pair:<6}{phase:<12}{s:<10}{r['req_per_s']:>9.1f}{r['req_per_s'] / base['req_per_s']:>9.2f}x{r['p95_ms']:>9.1f}{r['errors']:>8}   {cpu}")
    for s in ("mlflow", *labels):
        pss = phases[s]["memory"]["pss_mib"]
        print(f"{pair:<6}{'memory':<12}{s:<10}{pss:>6} MiB{pss / phases['mlflow']['memory']['pss_mib']:>9.2f}x")
EOF
