#!/bin/sh
# The cafesync demo: a state hub and two pilot sites on this machine, each
# with its own data directory.  The hub enrolls the sites' records, hands
# them out as a bundle; the sites log cafés, hosts, trainings and
# follow-up actions with no network; each site hands its log back to the
# hub as a bundle file (as on a USB stick); the hub verifies and merges
# them and prints the statewide view.
#
# Usage: CAFE=path/to/cafe sh deploy/demo.sh   (make demo does this)
set -eu

CAFE=${CAFE:-cafe}
DEMO=${DEMO_DIR:-$(mktemp -d /tmp/cafesync-demo.XXXXXX)}
HUB=$DEMO/hub
PINE=$DEMO/pine
RIVER=$DEMO/river

hub() { "$CAFE" --data "$HUB" "$@"; }
pine() { "$CAFE" --data "$PINE" "$@"; }
river() { "$CAFE" --data "$RIVER" "$@"; }
say() { printf '\n== %s\n' "$*"; }

say "state hub: a new network"
NET=$(hub init --name "State hub" --role hub)
echo "network $NET"

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
hub bundle export "$DEMO/from-hub.bundle"

say "sites: join the network and take the hub's bundle"
pine init --name "Pine County FRC laptop" --network "$NET" >/dev/null
river init --name "Riverside Elementary laptop" --network "$NET" >/dev/null
pine bundle import "$DEMO/from-hub.bundle"
river bundle import "$DEMO/from-hub.bundle"

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
pine bundle export "$DEMO/pine.bundle"

say "Riverside (offline): a host and two cafés"
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
river bundle export "$DEMO/river.bundle"

say "hub: verify and merge the sites' bundles"
hub bundle import "$DEMO/pine.bundle"
hub bundle import "$DEMO/river.bundle"
hub verify

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

say "convergence: every node now holds the same records"
hub bundle export "$DEMO/back.bundle"
pine bundle import "$DEMO/back.bundle"
river bundle import "$DEMO/back.bundle"
for n in hub pine river; do
	printf '%-6s digest %s\n' "$n" "$("$n" status --json |
	    sed -n 's/.*"digest": "\(.*\)".*/\1/p')"
done
echo
echo "data directories are in $DEMO"
