#!/usr/bin/env bash
# The main job, end to end: install what is missing, build and install
# fmrec, start a throwaway PostgreSQL cluster, load MovieLens, train a
# factorization machine and print recommendations.  The cluster is removed
# at the end, even after a failure.
#
#   sudo test/main_job.sh [MOVIELENS_DIR]
#
# Data: MOVIELENS_DIR or $FMREC_MOVIELENS_DIR; else ../shared/data/movielens-100k;
# else the official download; else a generated MovieLens-shaped sample
# (test/movielens/fetch_data.sh says which).  FMREC_METHOD picks the
# training method (default sgd).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

build_and_install
start_cluster "shared_buffers = 256MB"
data_dir=$("$FMREC_ROOT/test/movielens/fetch_data.sh" "${1:-}")
createdb movielens
psql -q -d movielens -c "CREATE EXTENSION fmrec"
log "loading $data_dir"
"$FMREC_ROOT/test/movielens/load.sh" "$data_dir" movielens
log "training and recommending"
psql -X -d movielens -v method="${FMREC_METHOD:-sgd}" -f "$FMREC_ROOT/test/movielens/demo.sql"
