# scripts/lib.sh: shared by scripts/test and scripts/demo (sourced, not run).
# Everything runs as root; PostgreSQL itself runs as the postgres user.

NPS_PACKAGES="postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap
  libsmpp34-dev build-essential pkg-config libipc-run-perl libdbd-pg-perl"

# Installs the packages on a fresh machine (always under CI, otherwise only
# when one is missing, so that a developer's rerun does not wait on apt).
nps_install_packages() {
    local missing=""
    for p in $NPS_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -n "${CI:-}" ] || [ -n "$missing" ]; then
        echo "== installing packages:${missing:- (CI: all)}"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $NPS_PACKAGES
    fi
}

nps_pg_config() { echo "${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}"; }

# Builds and installs the extension (and the simulator) as root.
nps_build_install() {
    local pgc; pgc=$(nps_pg_config)
    echo "== building with $pgc"
    make -s PG_CONFIG="$pgc" >/dev/null
    make -s PG_CONFIG="$pgc" install >/dev/null
}

# A scratch directory the postgres user owns; removed by nps_cleanup.
nps_workdir() {
    NPS_WORK=$(mktemp -d /tmp/nps.XXXXXX)
    chmod 755 "$NPS_WORK"
    chown postgres: "$NPS_WORK"
}

as_postgres() { runuser -u postgres -- env "PATH=$("$(nps_pg_config)" --bindir):$PATH" "$@"; }

# Starts a throwaway cluster in $NPS_WORK/data on 127.0.0.1:$1 with nps preloaded.
# Extra postgresql.conf lines come on stdin.
nps_start_cluster() {
    local port=$1 bindir; bindir=$("$(nps_pg_config)" --bindir)
    NPS_BINDIR=$bindir
    NPS_PGDATA=$NPS_WORK/data
    as_postgres "$bindir/initdb" -D "$NPS_PGDATA" -A trust -U postgres --no-sync >/dev/null
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$NPS_WORK'"
        echo "shared_preload_libraries = 'pg_cron,nps'"
        echo "cron.database_name = 'postgres'"
        echo "nps.database = 'postgres'"
        cat
    } >> "$NPS_PGDATA/postgresql.conf"
    as_postgres "$bindir/pg_ctl" -D "$NPS_PGDATA" -l "$NPS_WORK/postgres.log" -w start >/dev/null || {
        tail -n 20 "$NPS_WORK/postgres.log" >&2
        return 1
    }
    export PGHOST=$NPS_WORK PGPORT=$port PGUSER=postgres PGDATABASE=postgres
}

nps_stop_cluster() {
    if [ -n "${NPS_PGDATA:-}" ] && [ -f "$NPS_PGDATA/postmaster.pid" ]; then
        as_postgres "$NPS_BINDIR/pg_ctl" -D "$NPS_PGDATA" -m fast -w stop >/dev/null || true
    fi
}

# Starts the SMSC simulator (sim/) on a free port of 127.0.0.1 with the
# given options, its output in $NPS_WORK/sim.out and sim.err; sets SIM_PID
# and SIM_PORT.  nps_stop_sim stops it (harmless when none runs).
nps_start_sim() {
    "$(dirname "${BASH_SOURCE[0]}")/../sim/nps-smsc-sim" --port 0 "$@" > "$NPS_WORK/sim.out" 2> "$NPS_WORK/sim.err" &
    SIM_PID=$!
    for _ in $(seq 100); do grep -q '^listening on' "$NPS_WORK/sim.out" && break; sleep 0.05; done
    SIM_PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$NPS_WORK/sim.out" | head -1)
    [ -n "$SIM_PORT" ] || { echo "the simulator did not start" >&2; cat "$NPS_WORK/sim.err" >&2; return 1; }
}

nps_stop_sim() {
    if [ -n "${SIM_PID:-}" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    SIM_PID=
}

# A TCP port free on 127.0.0.1 right now.
nps_free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'; }
