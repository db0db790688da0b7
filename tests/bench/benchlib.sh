# benchlib.sh: what sync.sh, mirror.sh and fanin.sh share, sourced after
# each has made its private directory $T and its PIDS list.  POSIX sh.
#
#   say TEXT              a progress line on stderr
#   die TEXT              FAILED on stderr, exit 1 (a script may redefine it)
#   get KEY FILE          the value of "KEY value" in FILE, or die
#   calc EXPR, fmt D N    awk arithmetic; N with D decimals
#   cafe NODE ARGS        cafe --data $T/NODE ARGS
#   now                   seconds since the epoch, with nanoseconds
#   kb PID FIELD          a /proc/PID/status field (VmRSS, VmHWM ...) in kB
#   start NODE [ARGS]     cafed --data $T/NODE ARGS, log in $T/NODE.log; waits
#                         START_TRIES (200) x 20 ms for its control socket
#   pid NODE, stop NODE   its pid; SIGTERM and wait

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: FAILED: %s\n' "$*" >&2; exit 1; }
get() {
	v=$(awk -v k="$1" '$1 == k { print $2; exit }' "$2")
	[ -n "$v" ] || die "no $1 in $2"
	printf '%s\n' "$v"
}
calc() { awk "BEGIN { printf \"%.6g\\n\", ($1) }"; }
fmt() { awk -v d="$1" -v n="$2" 'BEGIN { printf ("%." d "f\n", n) }'; }
cafe() { d=$1; shift; "$CAFE" --data "$T/$d" "$@"; }
now() { date +%s.%N; }
kb() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status"; }

start() {
	name=$1; shift
	"$CAFED" --data "$T/$name" "$@" 2>>"$T/$name.log" &
	eval "PID_$name=$!"
	PIDS="$PIDS $!"
	i=0
	until [ -S "$T/$name/ctl/cafed.sock" ]; do
		i=$((i + 1))
		[ $i -lt "${START_TRIES:-200}" ] || die "cafed $name did not start"
		sleep 0.02
	done
}
pid() { eval "echo \$PID_$1"; }
stop() { kill "$(pid "$1")"; wait "$(pid "$1")" 2>/dev/null || true; }
