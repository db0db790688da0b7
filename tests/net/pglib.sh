# pglib.sh: a private PostgreSQL server for the mirror's tests, its
# benchmark and the demo (sh or bash; source it).
#
# The server is Debian's postgresql package, started with initdb and
# pg_ctl in a temporary directory of its own, as the unprivileged
# postgres user when we run as root (PostgreSQL refuses to run as root).
# It listens on a unix socket in that directory and on no TCP port at
# all, so two checkouts testing at once never meet, and trusts local
# connections (no password: nothing to leak into a command line).
#
#   pg_bin_dir            prints the newest installed PostgreSQL's bin
#                         directory, or fails
#   pg_start [OPTS...]    initdb + pg_ctl start; extra OPTS are server
#                         settings ("-c name=value"); sets PGT (the
#                         directory), PGCONN (a conninfo for the
#                         superuser "postgres", database "postgres") and
#                         PG_BIN; returns non-zero with the reason on
#                         stderr when it cannot
#   pg_stop               stops it (fast), keeps the data
#   pg_restart            starts it again on the same data
#   pg_kill               stops it at once (immediate), as a crash would
#   pg_cleanup            stops it if running and removes PGT; safe to call
#                         twice, from an EXIT trap
#   pg_sql SQL            runs SQL with psql, unaligned, tuples only, stops
#                         at the first error; prints the result

PGT=""
PGCONN=""
PG_BIN=""
PG_OPTS=""

pg_bin_dir() {
	_d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[ -n "$_d" ] && [ -x "$_d/initdb" ] || return 1
	echo "$_d"
}

# _pg_as CMD...: runs CMD as the postgres user when we are root.
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	PG_BIN=$(pg_bin_dir) || { echo "pg_start: no PostgreSQL server installed (apt-get install postgresql)" >&2; return 1; }
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "pg_start: no postgres user to run the server as" >&2
		return 1
	fi
	PGT=$(mktemp -d "${TMPDIR:-/tmp}/cafe-pg.XXXXXX") || return 1
	chmod 0755 "$PGT"
	[ "$(id -u)" = 0 ] && chown postgres "$PGT"
	PG_OPTS="-c listen_addresses= -c unix_socket_directories=$PGT -c port=5432 $*"
	_pg_as "$PG_BIN/initdb" -D "$PGT/data" -U postgres --auth=trust \
	    -E UTF8 --locale=C.UTF-8 -N >"$PGT/initdb.log" 2>&1 ||
	    { echo "pg_start: initdb failed:" >&2; tail -n 5 "$PGT/initdb.log" >&2; return 1; }
	pg_restart || return 1
	PGCONN="host=$PGT port=5432 user=postgres dbname=postgres"
}

pg_restart() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PGT/data" -l "$PGT/server.log" -w -t 60 \
	    -o "$PG_OPTS" start >/dev/null 2>&1 ||
	    { echo "pg_start: the server did not start:" >&2; tail -n 5 "$PGT/server.log" >&2; return 1; }
}

pg_stop() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PGT/data" -m fast -w stop >/dev/null 2>&1
}

pg_kill() {
	_pg_as "$PG_BIN/pg_ctl" -D "$PGT/data" -m immediate -w stop >/dev/null 2>&1
}

pg_cleanup() {
	if [ -n "$PGT" ] && [ -d "$PGT" ]; then
		[ -f "$PGT/data/postmaster.pid" ] && pg_kill
		rm -rf "$PGT"
	fi
	PGT=""
}

pg_sql() {
	"$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$PGCONN" -c "$1"
}
