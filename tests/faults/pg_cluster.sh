#!/usr/bin/env bash
# A private PostgreSQL cluster for `make fault-pg` (port 8178): restarting it disturbs nobody else.
#   tests/faults/pg_cluster.sh start|restart|stop|drop
set -euo pipefail
VER="$(ls /etc/postgresql | sort -n | tail -1)"
NAME=motcua_faults
PORT=8178
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
case "${1:-}" in
  start)
    if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$NAME"; then
      $SUDO pg_createcluster "$VER" "$NAME" -p "$PORT" -- --auth-local=trust --auth-host=trust >/dev/null
    fi
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$VER" "$NAME" start 2>/dev/null || true ;;
  restart) $SUDO pg_ctlcluster --skip-systemctl-redirect "$VER" "$NAME" restart ;;
  stop) $SUDO pg_ctlcluster --skip-systemctl-redirect "$VER" "$NAME" stop 2>/dev/null || true ;;
  drop) $SUDO pg_dropcluster --stop "$VER" "$NAME" ;;
  *) echo "usage: $0 start|restart|stop|drop" >&2; exit 2 ;;
esac
