#!/usr/bin/env bash
# Worker-class comparison: item by id and list page 1 (both uncached) under gunicorn's sync
# (4 workers), gthread (2 and 4 workers x 4 threads) and gevent (4 workers) workers, for the
# real app and the floor app; replaces the "Worker classes" section of bench/results.md.
#   bash bench/compare_workers.sh        (COMPARE_SIZE=10000 DURATION=10s by default)
exec bash "$(dirname "$0")/run.sh" --compare-workers
