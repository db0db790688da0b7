/*
 * bench_time.c: runs a command and reports its wall-clock time.
 *
 *   bench_time [-n RUNS] [-w WARMUP] [-o OUT] [-e ERR] -- CMD [ARG ...]
 *
 * Runs CMD WARMUP times untimed, then RUNS times (default 1) timed, each
 * with stdin from /dev/null, stdout to OUT and stderr to ERR (default
 * /dev/null for both; OUT is truncated before each run, so it holds the
 * last run's output).  The time of a run is from just before fork() to
 * waitpid() returning (CLOCK_MONOTONIC): process start, the store's
 * opening and closing and all output included, as a user sees it.
 *
 * Prints, one "name value" per line:
 *   runs       RUNS
 *   median_ms  median over the runs
 *   min_ms, max_ms
 *   cpu_ms     mean CPU time (user + sys) of the command per timed run
 *   write_mb   mean MB the command wrote through write calls per timed
 *              run (wchar of /proc/self/io, which counts reaped
 *              children; -1 where there is no /proc/self/io)
 *   status     the exit status of the last run that failed, or 0
 * and exits 0 when every run exited 0, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Returns wchar of /proc/self/io (children reaped included), or -1. */
static double
wchar(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	double v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "wchar: ", 7) == 0)
			v = atof(line + 7);
	fclose(f);
	return v;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Runs argv once; returns its exit status (128+signal when killed), with
 * its wall-clock time in *ms and its CPU time added to *cpu.
 */
static int
run_once(char **argv, const char *out, const char *err, double *ms,
    double *cpu)
{
	struct rusage ru;
	double t0 = now_ms();
	pid_t pid = fork();
	int st;

	if (pid < 0) {
		perror("bench_time: fork");
		exit(2);
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (in < 0 || o < 0 || e < 0 || dup2(in, 0) < 0 ||
		    dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (wait4(pid, &st, 0, &ru) < 0)
		if (errno != EINTR) {
			perror("bench_time: wait4");
			exit(2);
		}
	*ms = now_ms() - t0;
	*cpu += (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_time [-n RUNS] [-w WARMUP] [-o OUT] "
	    "[-e ERR] -- CMD [ARG ...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *out = "/dev/null", *err = "/dev/null";
	int runs = 1, warm = 0, i, rc, failed = 0;
	double *ms, t, cpu = 0, wcpu = 0, w0, w1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "-n") == 0)
			runs = atoi(argv[++i]);
		else if (strcmp(argv[i], "-w") == 0)
			warm = atoi(argv[++i]);
		else if (strcmp(argv[i], "-o") == 0)
			out = argv[++i];
		else if (strcmp(argv[i], "-e") == 0)
			err = argv[++i];
		else
			usage();
	}
	if (i >= argc || runs < 1 || warm < 0)
		usage();
	argv += i;
	ms = calloc((size_t)runs, sizeof(*ms));
	if (ms == NULL)
		return 2;
	while (warm-- > 0)
		if ((rc = run_once(argv, out, err, &t, &wcpu)) != 0)
			failed = rc;
	w0 = wchar();
	for (i = 0; i < runs; i++)
		if ((rc = run_once(argv, out, err, &ms[i], &cpu)) != 0)
			failed = rc;
	w1 = wchar();
	qsort(ms, (size_t)runs, sizeof(*ms), dbl_cmp);
	printf("runs %d\n", runs);
	printf("median_ms %.3f\n", runs % 2 ? ms[runs / 2] :
	    (ms[runs / 2 - 1] + ms[runs / 2]) / 2);
	printf("min_ms %.3f\n", ms[0]);
	printf("max_ms %.3f\n", ms[runs - 1]);
	printf("cpu_ms %.3f\n", cpu / runs);
	printf("write_mb %.1f\n", w0 < 0 || w1 < 0 ? -1.0 :
	    (w1 - w0) / 1e6 / runs);
	printf("status %d\n", failed);
	free(ms);
	return failed != 0;
}
