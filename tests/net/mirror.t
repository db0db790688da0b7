#!/usr/bin/env bash
# mirror.t: cafe mirror postgres against a real PostgreSQL server.
#
# The script starts its own PostgreSQL (pglib.sh: initdb in a temporary
# directory as the postgres user, a unix socket there, no TCP) and stops
# it at the end, also on failure.  Then:
#   - a hub (the admin) with two sites syncing live through cafed, and
#     `cafe mirror postgres --watch` on the hub: every record reaches
#     PostgreSQL; SQL on the mirror gives the figures `cafe stats --json`
#     gives on the hub; an edit and a removal on a site arrive within
#     seconds; the positions equal the hub's heads; comments are there;
#   - PostgreSQL stopped while the sites keep writing, then started: the
#     mirror says so once, and catches up with nothing lost;
#   - a second mirror of the same schema is refused while one runs;
#   - a row PostgreSQL refuses (a CHECK a DBA added) is named with the
#     reason, kept in _refused, and the rest goes on; once the record is
#     fixed it lands;
#   - kill -9 of a first mirror of 100,000 single-op commits, twice, at
#     different points and with different batch sizes: the restarted
#     mirror leaves exactly the store's records (counts and a checksum
#     per table), positions equal to the heads;
#   - another network's node is refused the schema, and kept apart in a
#     schema of its own;
#   - least privilege: a role that owns the schema mirrors, a read-only
#     role reads the tables and views and cannot write;
#   - cafed with [mirror] postgres: mirrors live into its schema, cafe
#     status says how far it lags (commits behind while PostgreSQL is
#     down, and that it retries), cafed restarts a mirror process killed
#     -9, and the process ends with cafed; bad [mirror] options are named
#     with their line;
#   - usage errors and an unreachable server: one line, non-zero exit.
. "$(dirname "$0")/netlib.sh"
. "$(dirname "$0")/pglib.sh"
trap 'pg_cleanup; _net_cleanup' EXIT

if ! pg_bin_dir >/dev/null; then
	echo "1..0 # SKIP no PostgreSQL server installed"
	exit 0
fi
ok pg_start -c fsync=off -c track_commit_timestamp=on -- "a private PostgreSQL server starts"
[ -n "$PGCONN" ] || { echo "Bail out! no PostgreSQL"; exit 255; }

sql() { pg_sql "$1" 2>>"$T/sql.err"; }
# sql_is SQL EXPECTED DESC
sql_is() { is "$(sql "$1")" "$2" "$3"; }
sql_eq() { [ "$(sql "$1")" = "$2" ]; }

# logs_diag: the tails of the mirrors' and daemons' logs, after a failure.
logs_diag() {
	local f
	for f in "$T"/*.mirror.err "$T"/hub.log; do
		[ -f "$f" ] || continue
		diag "---- $(basename "$f") (tail)"
		diag "$(tail -n 6 "$f")"
	done
}
# waits TIMEOUT CMD... -- DESC: ok wait_for, with the logs when it fails.
waits() {
	ok wait_for "$@" || logs_diag
}

# mirror_start NAME ARGS...: cafe mirror --watch on node NAME in the
# background (killed by the EXIT trap); stderr in $T/NAME.mirror.err.
mirror_start() {
	local name="$1"; shift
	"$CAFE" --data "$T/$name" mirror postgres "$PGCONN" --watch "$@" \
		>"$T/$name.mirror.out" 2>"$T/$name.mirror.err" &
	PID[mirror_$name]=$!
}
mirror_stop() {
	kill -TERM "${PID[mirror_$1]}" 2>/dev/null
	wait "${PID[mirror_$1]}" 2>/dev/null
	local rc=$?
	unset "PID[mirror_$1]"
	return $rc
}

# positions_are_heads NODE SCHEMA: _position holds exactly NODE's heads.
positions_are_heads() {
	[ "$(heads "$1" | sort)" = "$(sql "SELECT origin || ' ' || seq FROM $2._position ORDER BY 1")" ]
}

# store_sum NODE: a checksum of NODE's cafés (id, site, date, format,
# factors, attendees, new_attendees), and the same from SCHEMA.cafe.
store_sum() {
	"$CAFE" --data "$T/$1" export cafe --format json |
		jq -r '.[] | [.id, .site, .date, .format, (.factors | join(",")),
			(.attendees // "" | tostring), (.new_attendees // "" | tostring)] | join("|")' |
		LC_ALL=C sort | md5sum | cut -d' ' -f1
}
pg_sum() {
	sql "SELECT md5(coalesce(string_agg(id || '|' || site || '|' || \"date\" || '|' || format
		|| '|' || array_to_string(factors, ',') || '|' || coalesce(attendees::text, '')
		|| '|' || coalesce(new_attendees::text, ''), E'\n' ORDER BY id) || E'\n', ''))
		FROM $1.cafe"
}
site_sum() {
	"$CAFE" --data "$T/$1" export site --format json |
		jq -r '.[] | [.id, .name] | join("|")' | LC_ALL=C sort | md5sum | cut -d' ' -f1
}
pg_site_sum() {
	sql "SELECT md5(coalesce(string_agg(id || '|' || name, E'\n' ORDER BY id) || E'\n', '')) FROM $1.site"
}

# --- a hub and two sites, live ------------------------------------------------

ENROLL=no
ok node_init hub hub -- "init hub (the admin)"
ok node_init a site -- "init site A"
ok node_init b site -- "init site B"
cafe_in "$T/hub" add site name="Pine County FRC" county=Pine
SA="$OUT"
cafe_in "$T/hub" add site name="Riverside School" county=River
SB="$OUT"
run_ok "enroll A" "$T/hub" member add "${KEY[a]}" --role site --name a --site "$SA"
run_ok "enroll B" "$T/hub" member add "${KEY[b]}" --role site --name b --site "$SB"
link a hub
link b hub
for n in hub a b; do
	ok daemon_start "$n" -- "cafed $n starts"
done
enrolled() { "$CAFE" --data "$T/$1" member list --json | jq -e --arg k "${KEY[$1]}" 'any(.[]; .key == $k)' >/dev/null; }
waits 20 enrolled a -- "A received its enrollment"
waits 20 enrolled b -- "B received its enrollment"

cafe_in "$T/a" add person name="Ana R." roles=parent_leader,host site="$SA"
ANA="$OUT"
cafe_in "$T/a" add person name="Luz M." roles=host site="$SA"
LUZ="$OUT"
add_cafe() {
	# add_cafe NODE SITE DATE ATTENDEES [MORE...]: prints the id.
	local n="$1" s="$2" d="$3" at="$4"; shift 4
	"$CAFE" --data "$T/$n" add cafe site="$s" date="$d" format=parent \
		factors="${FACTORS:-resilience,social_connections}" attendees="$at" "$@" 2>/dev/null | tail -n 1
}
C1=$(add_cafe a "$SA" 2026-10-04 16 hosts="$ANA,$LUZ" new_attendees=3 children_cared_for=12 elements=welcome,theme 'partners=Food bank "North",Library\Main')
C2=$(add_cafe a "$SA" 2026-11-08 12)
C3=$(FACTORS=resilience,social_connections,concrete_support add_cafe b "$SB" 2026-11-10 9)
C4=$(add_cafe b "$SB" 2026-11-20 7)
cafe_in "$T/a" add action cafe="$C1" title="Invite the food bank" status=open
cafe_in "$T/a" add feedback cafe="$C1" responses=15 felt_safe=15 learned=12 will_return=13
FB1="$OUT"
cafe_in "$T/b" add feedback cafe="$C3" responses=8 felt_safe=6 learned=8
mirror_start hub
hub_has() { sql_eq "SELECT count(*) FROM cafesync.cafe" "$1"; }
waits 20 hub_has 4 -- "the sites' cafés reach PostgreSQL through the hub"
waits 10 positions_are_heads hub cafesync -- "the positions are the hub's heads"

sql_is "SELECT count(*) FROM cafesync.site" 2 "both sites mirrored"
sql_is "SELECT count(*) FROM cafesync.person" 2 "the persons mirrored"
sql_is "SELECT count(*) FROM cafesync.feedback" 2 "the feedback mirrored"
sql_is "SELECT count(*) FROM cafesync.member" 2 "the member records mirrored"
sql_is "SELECT \"date\" || ' ' || attendees || ' ' || array_to_string(factors, ',') || ' ' || array_to_string(elements, ',') FROM cafesync.cafe WHERE id = '$C1'" \
	"2026-10-04 16 resilience,social_connections welcome,theme" "typed columns: date, integer, sets"
sql_is "SELECT partners[1] || '/' || partners[2] FROM cafesync.cafe WHERE id = '$C1'" \
	'Food bank "North"/Library\Main' "list items with quotes and backslashes arrive intact"
HARVEST=$'Les parents: «merci»\n\tune ligne\\deux, "trois"'
cafe_in "$T/b" edit "$C4" "harvest=$HARVEST" "topic=Café niños"
text_in() { sql_eq "SELECT topic FROM cafesync.cafe WHERE id = '$C4'" "Café niños"; }
waits 10 text_in -- "an edit of text arrives"
is "$(sql "SELECT harvest FROM cafesync.cafe WHERE id = '$C4'")" "$HARVEST" \
	"text with newlines, tabs, backslashes, quotes and accents arrives intact"
sql_is "SELECT array_to_string(host_names, ',') || ' @ ' || site_name FROM cafesync.cafe_named WHERE id = '$C1'" \
	"Ana R.,Luz M. @ Pine County FRC" "cafe_named: host and site names, in order"
sql_is "SELECT written_by FROM cafesync.cafe WHERE id = '$C3'" "${KEY[b]}" "written_by names the site that wrote it"
sql_is "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'cafesync.cafe'::regclass AND attname = 'date'" \
	"date" "dates are of type date"
like "$(sql "SELECT col_description('cafesync.cafe'::regclass, (SELECT attnum FROM pg_attribute WHERE attrelid = 'cafesync.cafe'::regclass AND attname = 'factors'))")" \
	"^protective factors at its centre.*social_emotional" "columns carry the schema's help as comments"
like "$(sql "SELECT obj_description('cafesync.cafe'::regclass)")" "one café conversation" "tables carry comments"

# The same figures as cafe stats on the hub.
run_ok "stats on the hub" "$T/hub" stats --json
STATS="$OUT"
sql_is "SELECT count(*) || ' ' || sum(attendees) || ' ' || sum(coalesce(new_attendees, 0)) || ' ' || sum(coalesce(children_cared_for, 0)) FROM cafesync.cafe" \
	"$(jq -r '"\(.cafes) \(.attendees) \(.new_attendees) \(.children_cared_for)"' <<<"$STATS")" \
	"SQL totals equal cafe stats"
run_ok "stats by site on the hub" "$T/hub" stats --by site --json
sql_is "SELECT site_name || ' ' || sum(cafes) || ' ' || sum(attendees) FROM cafesync.site_month GROUP BY site_name ORDER BY site_name" \
	"$(jq -r 'sort_by(.name) | .[] | "\(.name) \(.cafes) \(.attendees)"' <<<"$OUT")" \
	"site_month per site equals cafe stats --by site"
run_ok "stats by month on the hub" "$T/hub" stats --by month --json
sql_is "SELECT to_char(month, 'YYYY-MM') || ' ' || sum(cafes) FROM cafesync.site_month GROUP BY month ORDER BY month" \
	"$(jq -r 'sort_by(.key) | .[] | "\(.key) \(.cafes)"' <<<"$OUT")" \
	"site_month per month equals cafe stats --by month"
sql_is "SELECT factor || ' ' || cafes FROM cafesync.factor_coverage WHERE site_name = 'Riverside School' AND cafes > 0 ORDER BY factor" \
	"concrete_support 1
resilience 2
social_connections 2" "factor_coverage: the factors Riverside covered"
sql_is "SELECT count(*) FROM cafesync.factor_coverage WHERE site_name = 'Pine County FRC' AND cafes = 0" 3 \
	"factor_coverage: the three factors Pine has not covered"
sql_is "SELECT responses || ' ' || felt_safe_share || ' ' || learned_share FROM cafesync.feedback_shares WHERE site_id = '$SA'" \
	"15 1.000 0.800" "feedback_shares: the shares of the forms"
sql_is "SELECT cafes || ' ' || open_actions FROM cafesync.site_activity WHERE site_id = '$SA'" "2 1" \
	"site_activity: cafés and open actions"

# An edit and a removal on a site arrive within seconds.
run_ok "edit on site A" "$T/a" edit "$C2" attendees=30
run_ok "removal on site A" "$T/a" rm "$FB1"
edited() { sql_eq "SELECT attendees FROM cafesync.cafe WHERE id = '$C2'" 30; }
removed() { sql_eq "SELECT count(*) FROM cafesync.feedback WHERE id = '$FB1'" 0; }
waits 10 edited -- "the edit reaches PostgreSQL within seconds"
waits 10 removed -- "the removal reaches PostgreSQL within seconds"
sql_is "SELECT count(*) FROM cafesync.feedback" 1 "the other feedback stays"

# --- PostgreSQL down while the sites write ---------------------------------------

ok pg_stop -- "PostgreSQL stopped"
for i in 1 2 3 4 5; do
	add_cafe a "$SA" 2026-12-0$i 5 topic="while down $i" >/dev/null
	add_cafe b "$SB" 2026-12-0$i 6 topic="while down $i" >/dev/null
done
run_ok "an edit while down" "$T/b" edit "$C4" attendees=70
ok wait_idle a 20 -- "site A synced while PostgreSQL is down"
ok wait_idle b 20 -- "site B synced while PostgreSQL is down"
sleep 1
ok kill -0 "${PID[mirror_hub]}" -- "the mirror keeps running while PostgreSQL is down"
ok pg_restart -- "PostgreSQL started again"
waits 20 hub_has 14 -- "the mirror catches up: every café written while down"
waits 10 positions_are_heads hub cafesync -- "positions are the heads again"
sql_is "SELECT attendees FROM cafesync.cafe WHERE id = '$C4'" 70 "the edit made while down arrived"
is "$(grep -c 'retrying' "$T/hub.mirror.err")" 1 "the outage is logged once"
like "$(cat "$T/hub.mirror.err")" "working again" "and its end is logged"

# --- one mirror at a time ------------------------------------------------------

run_cafe --data "$T/hub" mirror postgres "$PGCONN"
is "$RC" 1 "a second mirror of the same schema is refused while one runs"
like "$ERR" "another mirror is writing schema cafesync" "it says why"
ok mirror_stop hub -- "the watching mirror stops on SIGTERM"
run_ok "once it stopped, a one-shot mirror runs" "$T/hub" mirror postgres "$PGCONN"
like "$OUT" "mirrored 0 commits" "and has nothing left to do"

# --- a row PostgreSQL refuses ---------------------------------------------------

ok sql "ALTER TABLE cafesync.cafe ADD CONSTRAINT plausible CHECK (attendees < 1000)" -- "a DBA adds a CHECK"
BIG=$(add_cafe hub "$SA" 2026-12-10 5000)
FINE=$(add_cafe hub "$SA" 2026-12-11 8)
run_cafe --data "$T/hub" mirror postgres "$PGCONN"
is "$RC" 1 "a refused record makes the mirror exit 1"
like "$ERR" "record $BIG refused by PostgreSQL: .*plausible" "the refused record is named, with the reason"
is "$(nlines "$ERR")" 1 "on one line"
sql_is "SELECT count(*) FROM cafesync.cafe WHERE id = '$FINE'" 1 "the other record of the batch landed"
sql_is "SELECT type FROM cafesync._refused WHERE id = '$BIG'" cafe "_refused keeps it"
ok positions_are_heads hub cafesync -- "the positions moved past it: nothing stalls"
run_ok "the record is fixed" "$T/hub" edit "$BIG" attendees=500
run_ok "the next mirror takes it" "$T/hub" mirror postgres "$PGCONN"
sql_is "SELECT attendees FROM cafesync.cafe WHERE id = '$BIG'" 500 "the fixed record landed"
sql_is "SELECT count(*) FROM cafesync._refused" 0 "and left _refused"

# --- kill -9 in the middle of a 100,000-commit first mirror --------------------

run_ok "init a node of its own network with a big log" "$T/big" init --name big --role site
BIGNET="$OUT"
gen() { "$TOOLS/bench_genbundle" "$T/big" 100000 "$T/big.bundle" ordered >"$T/gen.out"; }
ok gen -- "100,000 single-op commits generated"
run_ok "imported" "$T/big" bundle import "$T/big.bundle"
rm -f "$T/big.bundle"
ok sql "CREATE SCHEMA bigm" -- "a schema made beforehand is used as it is"
# An empty node of the same network lays the tables out, so that triggers
# can count every row write of the big mirror: each record is touched by
# one commit only, so with the positions moved in the rows' transaction
# the writes equal the rows, however often the mirror is killed.
run_ok "an empty node of big's network" "$T/bigempty" init --name bigempty --role hub --network "$BIGNET"
run_ok "it lays out the schema" "$T/bigempty" mirror postgres "$PGCONN" --schema bigm
ok sql "CREATE TABLE public.writes (tbl text, n bigint);
	CREATE FUNCTION public.count_writes() RETURNS trigger LANGUAGE plpgsql AS
	\$\$ BEGIN INSERT INTO public.writes SELECT TG_TABLE_NAME, count(*) FROM newrows; RETURN NULL; END \$\$;
	CREATE TRIGGER ins AFTER INSERT ON bigm.cafe REFERENCING NEW TABLE AS newrows
		FOR EACH STATEMENT EXECUTE FUNCTION public.count_writes();
	CREATE TRIGGER upd AFTER UPDATE ON bigm.cafe REFERENCING NEW TABLE AS newrows
		FOR EACH STATEMENT EXECUTE FUNCTION public.count_writes()" -- "triggers count the writes"
kill_at() {
	# kill_at BATCH MIN: starts a mirror of big into bigm, kills it -9
	# once some batch committed and at least MIN cafés are there.
	local batch="$1" min="$2" n
	"$CAFE" --data "$T/big" mirror postgres "$PGCONN" --schema bigm --batch "$batch" \
		>/dev/null 2>"$T/big.err" &
	local pid=$! i
	for i in $(seq 1 2000); do
		n=$(sql "SELECT count(*) FROM bigm.cafe" 2>/dev/null || echo 0)
		[ "${n:-0}" -ge "$min" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.01
	done
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	return 0
}
kill_at 700 1
N1=$(sql "SELECT count(*) FROM bigm.cafe")
P1=$(sql "SELECT coalesce(sum(seq), 0) FROM bigm._position")
ok test "$N1" -gt 0 -a "$N1" -lt 99980 -- "killed in the middle ($N1 cafés mirrored)"
ok test "$P1" -gt 0 -a "$P1" -lt 100000 -- "a position was committed with them ($P1)"
kill_at 1900 $((N1 + 20000))
N2=$(sql "SELECT count(*) FROM bigm.cafe")
ok test "$N2" -ge "$N1" -a "$N2" -lt 99980 -- "killed again later ($N2 cafés), with another batch size"
run_ok "the mirror restarted" "$T/big" mirror postgres "$PGCONN" --schema bigm
sql_is "SELECT count(*) FROM bigm.cafe" 99980 "exactly the store's cafés"
sql_is "SELECT count(*) FROM bigm.site" 20 "exactly the store's sites"
is "$(pg_sum bigm)" "$(store_sum big)" "the cafés' checksum equals the store's"
is "$(pg_site_sum bigm)" "$(site_sum big)" "the sites' checksum equals the store's"
ok positions_are_heads big bigm -- "the position is the head"
sql_is "SELECT sum(n) FROM public.writes WHERE tbl = 'cafe'" 99980 "every café was written exactly once, across the kills"

# --- another network -----------------------------------------------------------

run_ok "init a node of another network" "$T/other" init --name other --role hub
cafe_in "$T/other" add site name="Elsewhere"
run_cafe --data "$T/other" mirror postgres "$PGCONN"
is "$RC" 2 "another network's mirror into the schema is refused"
like "$ERR" "schema cafesync holds the mirror of network" "it says whose"
sql_is "SELECT count(*) FROM cafesync.site WHERE name = 'Elsewhere'" 0 "nothing of it was written"
run_ok "into a schema of its own it works" "$T/other" mirror postgres "$PGCONN" --schema other_state
sql_is "SELECT string_agg(name, ',') FROM other_state.site" Elsewhere "kept apart"
sql_is "SELECT count(*) FROM cafesync.site" 2 "the first network's mirror untouched"

# --- least privilege ------------------------------------------------------------

ok sql "CREATE ROLE cafesync_owner LOGIN; CREATE SCHEMA lp AUTHORIZATION cafesync_owner;
	CREATE ROLE bi_reader LOGIN;
	GRANT USAGE ON SCHEMA lp TO bi_reader;
	ALTER DEFAULT PRIVILEGES FOR ROLE cafesync_owner IN SCHEMA lp GRANT SELECT ON TABLES TO bi_reader" \
	-- "an owner role and a read-only role, as docs/analytics.md shows"
OWNER="host=$PGT port=5432 user=cafesync_owner dbname=postgres"
READER="host=$PGT port=5432 user=bi_reader dbname=postgres"
run_ok "the owner role mirrors into its schema" "$T/hub" mirror postgres "$OWNER" --schema lp
is "$("$PG_BIN/psql" -X -At "$READER" -c "SELECT count(*) FROM lp.cafe_named" 2>&1)" \
	"$(sql "SELECT count(*) FROM cafesync.cafe")" "the reader reads the views"
reader_delete() { "$PG_BIN/psql" -X -At -v ON_ERROR_STOP=1 "$READER" -c "DELETE FROM lp.cafe" 2>/dev/null; }
nok reader_delete -- "the reader cannot write"
add_cafe hub "$SA" 2026-12-12 4 >/dev/null
run_cafe --data "$T/hub" mirror postgres "$READER" --schema lp
is "$RC" 1 "the reader role cannot mirror"
like "$ERR" "permission denied" "PostgreSQL's refusal is shown"

# --- cafed's [mirror] -------------------------------------------------------------

printf '[mirror]\npostgres = %s\nschema = hubm\nbatch = 500\n' "$PGCONN" >"$T/hub.conf"
chmod 0644 "$T/hub.conf"
ok daemon_stop hub -- "the hub's cafed stops"
ok daemon_start hub --config "$T/hub.conf" -- "the hub's cafed starts with [mirror] postgres"
hubm_has() { sql_eq "SELECT count(*) FROM hubm.cafe" "$("$CAFE" --data "$T/hub" list cafe --json | jq length)"; }
waits 20 hubm_has -- "cafed mirrors every café into its schema"
waits 10 positions_are_heads hub hubm -- "its positions are the heads"
LIVE=$(add_cafe a "$SA" 2026-12-20 11 topic="through cafed")
live_in() { sql_eq "SELECT count(*) FROM hubm.cafe WHERE id = '$LIVE'" 1; }
waits 10 live_in -- "a site's café reaches cafed's mirror within seconds"
mirror_line() { "$CAFE" --data "$T/hub" status | grep '^mirror   postgres schema hubm'; }
waits 10 eval 'mirror_line | grep -q "up to date$"' -- "cafe status: the mirror is up to date"
run_ok "status --json" "$T/hub" status --json
jq_is "$OUT" '[.mirrors[] | select(.schema == "hubm") | .lag, .running, .state] | map(tostring) | join(" ")' "0 true ok" \
	"status --json: lag 0, running, ok"
ok pg_stop -- "PostgreSQL stopped under cafed's mirror"
for i in 1 2 3; do add_cafe b "$SB" 2026-12-2$i 3 topic="cafed down $i" >/dev/null; done
ok wait_idle b 20 -- "site B still syncs with the hub"
behind() { mirror_line | grep -q "3 commits behind"; }
waits 10 behind -- "cafe status says the mirror is 3 commits behind"
waits 10 eval 'mirror_line | grep -q "retrying: postgres"' -- "and that it retries, with the reason"
ok pg_restart -- "PostgreSQL started again"
waits 20 hubm_has -- "cafed's mirror catches up"
waits 10 eval 'mirror_line | grep -q "up to date$"' -- "cafe status: up to date again"
is "$(grep -c 'mirror: .*retrying' "$T/hub.log")" 1 "cafed logged the outage once"
CHILD=$(jq -r .pid "$T/hub/mirror-hubm.status")
ok kill -9 "$CHILD" -- "the mirror process killed -9"
restarted() { [ "$(jq -r .pid "$T/hub/mirror-hubm.status")" != "$CHILD" ]; }
waits 10 restarted -- "cafed starts it again"
AFTER=$(add_cafe a "$SA" 2026-12-28 9 topic="after restart")
after_in() { sql_eq "SELECT count(*) FROM hubm.cafe WHERE id = '$AFTER'" 1; }
waits 10 after_in -- "and it mirrors again"
printf '[mirror]\npostgres = %s\nschema = hubm2\n' "$PGCONN" >"$T/hub.conf"
ok kill -HUP "$(daemon_pid hub)" -- "cafed reloads a changed [mirror]"
hubm2_has() { sql_eq "SELECT count(*) FROM hubm2.cafe" "$("$CAFE" --data "$T/hub" list cafe --json | jq length)"; }
waits 20 hubm2_has -- "the mirror restarts into the new schema"
old_gone() { ! kill -0 "$CHILD" 2>/dev/null; }
waits 10 old_gone -- "the old mirror process is gone"
CHILD=$(jq -r .pid "$T/hub/mirror-hubm2.status")
ok daemon_stop hub -- "cafed stops"
alive() { kill -0 "$1" 2>/dev/null; }
nok alive "$CHILD" -- "its mirror process is gone with it"
printf '[mirror]\npostgres = %s\nschema = Bad\n' "$PGCONN" >"$T/bad.conf"
check_conf() { "$CAFED" --data "$T/hub" --config "$T/bad.conf" -n 2>&1; }
like "$(check_conf)" "bad.conf:3: \[mirror\] schema: 'Bad' is not a plain name" "cafed -n refuses a bad schema name, with its line"
printf '[mirror]\npostgres = host=x password=secret\n' >"$T/bad.conf"
chmod 0644 "$T/bad.conf"
like "$(check_conf)" "password in a file others can read" "cafed refuses a password in a configuration others can read"
chmod 0600 "$T/bad.conf"
like "$(check_conf)" "configuration ok" "and takes it from a file only its owner reads"
printf '[mirror]\nhost = x\n' >"$T/bad.conf"
like "$(check_conf)" "bad.conf:2: \[mirror\]: unknown option 'host'" "an unknown [mirror] option is named with its line"

# --- usage errors -----------------------------------------------------------------

run_cafe --data "$T/hub" mirror mysql "$PGCONN"
is "$RC" 2 "an unknown mirror kind is a usage error"
like "$ERR" "the only mirror is postgres" "it says so"
run_cafe --data "$T/hub" mirror postgres "$PGCONN" --schema 'Bad-Name'
is "$RC" 2 "a schema name that is not plain is refused"
like "$ERR" "schema 'Bad-Name': not a plain name" "naming it"
run_cafe --data "$T/hub" mirror postgres "$PGCONN" --batch 0
is "$RC" 2 "a zero batch is refused"
run_cafe --data "$T/hub" mirror postgres "host=$T/nowhere port=1 dbname=x"
is "$RC" 1 "an unreachable server fails with exit 1"
like "$ERR" "^cafe: mirror: postgres: cannot connect" "on one line saying so"
is "$(nlines "$ERR")" 1 "one line"

done_testing
