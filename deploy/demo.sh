#!/bin/sh
# The cafesync demo: a state hub, two pilot sites and a consultant's
# replica on this machine, each a cafed daemon on 127.0.0.1 with its own
# data directory.  The hub adds the sites' records, which reach every
# node live.  Pine County loses its link and logs its cafés, hosts,
# trainings and follow-up actions offline; Riverside logs online; when
# Pine's link comes back, everything converges through the hub.  The hub
# (the network's admin, whose key is the network id) makes a one-time
# invite per laptop; each joins with its token (`cafe join`), which
# enrolls it for its site (the consultant for all sites).  The
# hub prints the statewide view; the hub and the consultant print the same
# digest, and each site holds the hub's records and its own (a site reads
# no other site's log).  The hub mirrors its records into a PostgreSQL it
# starts (when PostgreSQL is installed) and prints one SQL answer from it;
# the consultant's audit re-checks everything.
#
# Usage: CAFE=path/to/cafe CAFED=path/to/cafed sh deploy/demo.sh
# (make demo does this).
set -eu

CAFE=${CAFE:-cafe}
CAFED=${CAFED:-cafed}
DEMO=${DEMO_DIR:-$(mktemp -d /tmp/cafesync-demo.XXXXXX)}
HUB=$DEMO/hub
PINE=$DEMO/pine
RIVER=$DEMO/river
AUDIT=$DEMO/consultant
PORT=${DEMO_PORT:-$((17300 + $$ % 2000))}

hub() { "$CAFE" --data "$HUB" "$@"; }
pine() { "$CAFE" --data "$PINE" "$@"; }
river() { "$CAFE" --data "$RIVER" "$@"; }
consultant() { "$CAFE" --data "$AUDIT" "$@"; }
say() { printf '\n== %s\n' "$*"; }

PIDS=""
PGLIB="$(dirname "$0")/../tests/net/pglib.sh"
PGT=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ -z "$PGT" ] || pg_cleanup
}
trap cleanup EXIT INT TERM

# Starts a node's daemon (log in DEMO/NAME.log) and waits until it answers.
start() {
	name=$1; shift
	"$CAFED" --data "$DEMO/$name" "$@" 2>>"$DEMO/$name.log" &
	eval "PID_$name=$!"
	PIDS="$PIDS $!"
	i=0
	until "$CAFE" --data "$DEMO/$name" sync >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "cafed $name did not start"; exit 1; }
		sleep 0.05
	done
}
stop() {
	eval "kill \$PID_$1"
	eval "wait \$PID_$1" || true
}
# Waits until node NAME (its daemon running) holds the admin's member
# record for KEY.
enrolled() {
	"$1" sync --wait --timeout 10
	i=0
	until "$1" member list --json |
	    jq -e --arg k "$2" 'any(.[]; .key == $k)' >/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "$1 never received its enrollment"; exit 1; }
		sleep 0.05
	done
	printf '%-10s holds its enrollment\n' "$1"
}

say "state hub: a new network, its cafed listening on 127.0.0.1:$PORT"
NET=$(hub init --name "State hub" --role hub)
echo "network $NET (the hub's key: the network's admin)"
start hub --listen "127.0.0.1:$PORT"

say "hub: the two pilot sites"
PINE_SITE=$(hub add site name="Pine County Family Resource Center" \
	organization="Pine County FRC" county=Pine region=North \
	partner_type=family_resource_center languages=English,Spanish \
	status=active started=2026-08-01)
RIVER_SITE=$(hub add site name="Riverside Elementary" \
	organization="Riverside USD" county=Lake region=South \
	partner_type=school languages=English status=starting \
	started=2026-09-15)
hub add milestone site="$PINE_SITE" step=5 status=done date=2026-08-20 \
	notes="Orientation with consultants" >/dev/null
hub add milestone site="$RIVER_SITE" step=4 status=in_progress \
	notes="Starting team forming" >/dev/null

say "hub: one-time invites, one line each (sent by text message, say)"
PINE_TOKEN=$(hub invite --role site --site "$PINE_SITE" --expires 7d \
	--addr "127.0.0.1:$PORT")
RIVER_TOKEN=$(hub invite --role site --site "$RIVER_SITE" --expires 7d \
	--addr "127.0.0.1:$PORT")
AUDIT_TOKEN=$(hub invite --role consultant --expires 7d \
	--addr "127.0.0.1:$PORT")
echo "$PINE_TOKEN"

say "each new laptop joins with its invite, then starts its cafed"
pine join "$PINE_TOKEN" --name "Pine County FRC laptop"
river join "$RIVER_TOKEN" --name "Riverside Elementary laptop"
consultant join "$AUDIT_TOKEN" --name "State consultant"
PINE_KEY=$(pine id)
RIVER_KEY=$(river id)
AUDIT_KEY=$(consultant id)
echo "an invite works once: another join with Pine's token is refused:"
"$CAFE" --data "$DEMO/stranger" join "$PINE_TOKEN" --name "someone" ||
	true
hub member list
start pine
start river
start consultant
# A node writes only once it holds the admin's member record for its key.
enrolled pine "$PINE_KEY"
enrolled river "$RIVER_KEY"
enrolled consultant "$AUDIT_KEY"
hub sync --wait --timeout 10
hub status | sed -n '/^daemon/,$p'

say "Pine County's link drops (its cafed stops)"
stop pine

say "Pine County (offline): hosts, a training, three cafés, actions"
ANA=$(pine add person name="Ana R." roles=parent_leader,host \
	site="$PINE_SITE" trained=2026-08-20 languages=English,Spanish)
MARCUS=$(pine add person name="Marcus T." roles=host,table_host \
	site="$PINE_SITE" trained=2026-08-20)
pine add training site="$PINE_SITE" date=2026-08-20 kind=host_training \
	trainer="State café consultant" participants=9 >/dev/null
ALL=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
C1=$(pine add cafe site="$PINE_SITE" date=2026-09-09 format=parent \
	series_no=1 topic="Taking care of yourself" factors=resilience \
	hosts="$ANA,$MARCUS" language=Spanish attendees=14 new_attendees=9 \
	children_cared_for=11 tables=3 max_table_size=5 elements=$ALL \
	harvest="Parents want a monthly evening swap of child care")
C2=$(pine add cafe site="$PINE_SITE" date=2026-10-14 format=dads \
	series_no=2 topic="Building your village" \
	factors=social_connections,concrete_support hosts="$MARCUS" \
	attendees=8 new_attendees=5 children_cared_for=6 tables=2 \
	max_table_size=4 elements=$ALL)
C3=$(pine add cafe site="$PINE_SITE" date=2026-11-04 format=parent \
	series_no=3 topic="Growing with your child" \
	factors=child_development,social_emotional hosts="$ANA" \
	attendees=16 new_attendees=3 children_cared_for=12 tables=4 \
	max_table_size=5 elements=$ALL)
pine add action cafe="$C1" title="Start a child-care swap list" \
	owner="Ana R." due=2026-10-01 status=done \
	outcome="12 families signed up" >/dev/null
pine add action cafe="$C2" title="Invite the food bank to the next café" \
	owner="Marcus T." due=2026-11-15 status=open >/dev/null
pine add feedback cafe="$C1" responses=13 felt_safe=13 learned=12 \
	will_return=11 wants_role=3 >/dev/null
pine edit "$C3" attendees=17 >/dev/null
pine stats
pine status | sed -n '/^daemon/,$p'

say "Riverside (online): a host and two cafés, pushed live"
LEE=$(river add person name="Lee K." roles=parent_leader,host \
	site="$RIVER_SITE")
river add cafe site="$RIVER_SITE" date=2026-10-21 format=community \
	series_no=1 topic="What our kids need from us" \
	factors=resilience,social_connections hosts="$LEE" \
	partners="Riverside PTA,Lake County Library" attendees=22 \
	new_attendees=22 children_cared_for=15 tables=5 max_table_size=5 \
	elements=$ALL >/dev/null
river add cafe site="$RIVER_SITE" date=2026-11-18 format=virtual \
	series_no=2 topic="Asking for help" factors=concrete_support \
	hosts="$LEE" attendees=9 new_attendees=2 \
	elements=welcome,theme,agreements,harvest,closing >/dev/null
river sync --wait --timeout 10

say "Pine County's link comes back: it catches up both ways"
start pine
pine sync --wait --timeout 30
hub sync --wait --timeout 30
hub verify
hub status | sed -n '/^daemon/,$p'

say "statewide: cafés per site"
hub stats --by site
say "statewide: cafés per month"
hub stats --by month
say "statewide: protective factors covered"
hub stats --by factor
say "statewide: totals"
hub stats
say "open follow-up actions"
hub list action --where status=open

say "convergence: the hub and the consultant hold every record"
for n in hub pine river consultant; do
	"$n" sync --wait --timeout 30 >/dev/null
done
digest() { "$1" status --json | sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p'; }
for n in hub consultant; do
	printf '%-10s digest %s\n' "$n" "$(digest "$n")"
done
[ "$(digest hub)" = "$(digest consultant)" ] ||
	{ echo "the hub's and the consultant's digests differ"; exit 1; }

say "convergence: each site holds the hub's records and its own, as the hub does"
# A site key reads the admin's log (the sites and member records), the
# hub's log for its own site (the milestones the hub wrote for it) and its
# own log, nothing of the other site.
same() {
	[ "$1" = "$2" ] || { echo "$3: differs from the hub"; exit 1; }
}
for n in pine river; do
	if [ "$n" = pine ]; then site=$PINE_SITE; else site=$RIVER_SITE; fi
	for t in site member; do
		if [ "$t" = member ]; then
			# The same members; when each last synced is the node's own.
			same "$("$n" member list --json | jq 'map(del(.last_sync))')" \
			    "$(hub member list --json | jq 'map(del(.last_sync))')" \
			    "$n member list"
		else
			same "$("$n" list "$t" --json)" "$(hub list "$t" --json)" \
			    "$n list $t"
		fi
	done
	for t in person cafe action training feedback milestone; do
		same "$("$n" list "$t" --json)" \
		    "$(hub list "$t" --site "$site" --json)" "$n list $t"
	done
	printf '%-10s the hub'"'"'s records of its site: %s cafés (digest %s)\n' \
	    "$n" "$("$n" list cafe --json | jq length)" "$(digest "$n")"
done

# Analytics: the hub keeps a PostgreSQL database in step with its
# records (docs/analytics.md); here a private server in a temporary
# directory, when PostgreSQL is installed (make demo installs it).
if [ -f "$PGLIB" ] && . "$PGLIB" && pg_bin_dir >/dev/null && pg_start >/dev/null; then
	say "analytics: the hub mirrors its records into PostgreSQL"
	hub mirror postgres "$PGCONN"
	say "analytics: SQL on the mirror: cafés and attendance per site and month"
	"$PG_BIN/psql" -X -q "$PGCONN" -c "SELECT site_name AS site,
	    to_char(month, 'YYYY-MM') AS month, cafes, attendees
	    FROM cafesync.site_month ORDER BY site_name, month"
else
	say "analytics: PostgreSQL is not installed here: no mirror (apt-get install postgresql)"
fi

say "consultant: audit from the replica (every chain, signature and record re-checked)"
consultant audit

say "state lead: the statewide report for the last twelve months (HTML, to open or print)"
hub report --months 12 --format html -o "$DEMO/report.html"
hub report --months 12 --format csv -o "$DEMO/report-csv" >/dev/null
hub report --months 12 | sed -n '/^Implementation steps/,$p'
echo "statewide report: $DEMO/report.html (its tables as CSV: $DEMO/report-csv/)"

echo
echo "data directories and daemon logs are in $DEMO"
