#!/bin/sh
# The cafesync demo: a state hub, two pilot sites and a consultant's
# replica on this machine, each a cafed daemon on 127.0.0.1 with its own
# data directory.  The hub adds the sites' records, which reach every
# node live.  Pine County loses its link and logs its cafés, hosts,
# trainings and follow-up actions offline; Riverside logs online; when
# Pine's link comes back, everything converges through the hub.  The hub
# prints the statewide view, and every node prints the same digest.
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
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
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

say "state hub: a new network, listening on 127.0.0.1:$PORT"
NET=$(hub init --name "State hub" --role hub)
echo "network $NET"
PINE_KEY=$(pine init --name "Pine County FRC laptop" --network "$NET")
RIVER_KEY=$(river init --name "Riverside Elementary laptop" --network "$NET")
AUDIT_KEY=$(consultant init --name "State consultant" --role consultant \
	--network "$NET")
hub peer add pine --inbound --key "$PINE_KEY"
hub peer add river --inbound --key "$RIVER_KEY"
hub peer add consultant --inbound --key "$AUDIT_KEY"
pine peer add hub "127.0.0.1:$PORT" --key "$NET"
river peer add hub "127.0.0.1:$PORT" --key "$NET"
consultant peer add hub "127.0.0.1:$PORT" --key "$NET"
start hub --listen "127.0.0.1:$PORT"
start pine
start river
start consultant
hub sync --wait --timeout 10
hub status | sed -n '/^daemon/,$p'

say "hub: the two pilot sites (pushed to every node as they are written)"
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
hub sync --wait --timeout 10
for n in pine river consultant; do
	printf '%-10s holds %s site records\n' "$n" "$("$n" list site | wc -l)"
done

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

say "convergence: every node holds the same records"
for n in hub pine river consultant; do
	"$n" sync --wait --timeout 30 >/dev/null
done
for n in hub pine river consultant; do
	printf '%-10s digest %s\n' "$n" "$("$n" status --json |
	    sed -n 's/.*"digest": "\([0-9a-f]*\)".*/\1/p')"
done

say "consultant: audit from the replica (every chain, signature and record re-checked)"
consultant audit

echo
echo "data directories and daemon logs are in $DEMO"
