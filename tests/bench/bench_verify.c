/*
 * bench_verify.c: the ed25519 verify rate of libsodium on one core.
 *
 *   bench_verify [SECONDS]
 *
 * Makes 64 key pairs and 64 random 200-byte messages (about the size of a
 * signed single-op commit: domain, network id and E), signs them, then
 * calls crypto_sign_verify_detached() round-robin over them on this one
 * thread for SECONDS (default 2) and prints the rate.  It then does the
 * same through proto_verify(), which adds the copy of the domain and the
 * network id in front of E, to show what cafesync's wrapper costs.  Every
 * verification must succeed.
 *
 * Output, one "name value" per line, for tests/bench/run.sh:
 *   verify_per_s        libsodium verifies per second of wall-clock time
 *   verify_per_cpu_s    the same per second of this process's CPU time
 *                       (user + sys): steadier when other processes
 *                       share the cores
 *   proto_verify_per_s  verifies per second through proto_verify()
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>

#include "proto/proto.h"

#define NKEYS 64
#define MSG_LEN 200
#define E_LEN (MSG_LEN - (sizeof(PROTO_SIG_DOMAIN) - 1) - PROTO_KEY_LEN)

static uint8_t pk[NKEYS][crypto_sign_PUBLICKEYBYTES];
static uint8_t sk[NKEYS][crypto_sign_SECRETKEYBYTES];
static uint8_t msg[NKEYS][MSG_LEN];
static uint8_t sig[NKEYS][crypto_sign_BYTES];
static uint8_t psig[NKEYS][crypto_sign_BYTES];
static uint8_t network[PROTO_KEY_LEN];

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* This process's CPU time (user + sys) in seconds. */
static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * Verifies round-robin for at least secs; returns verifies per second of
 * wall-clock time, and per second of CPU time in *per_cpu.
 */
static double
run(double secs, int wrapped, double *per_cpu)
{
	double t0 = now_s(), c0 = cpu_s(), t;
	unsigned long n = 0;
	int i;

	do {
		for (i = 0; i < NKEYS; i++) {
			int rc = wrapped ?
			    proto_verify(psig[i], msg[i], E_LEN, network,
			    pk[i]) :
			    crypto_sign_verify_detached(sig[i], msg[i],
			    MSG_LEN, pk[i]);

			if (rc != 0) {
				fprintf(stderr, "bench_verify: a valid "
				    "signature did not verify\n");
				exit(1);
			}
		}
		n += NKEYS;
		t = now_s() - t0;
	} while (t < secs);
	if (per_cpu != NULL)
		*per_cpu = (double)n / (cpu_s() - c0);
	return (double)n / t;
}

int
main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0, wall, cpu;
	int i;

	if (sodium_init() < 0) {
		fprintf(stderr, "bench_verify: libsodium failed to start\n");
		return 1;
	}
	if (secs <= 0)
		secs = 2.0;
	randombytes_buf(network, sizeof(network));
	for (i = 0; i < NKEYS; i++) {
		crypto_sign_keypair(pk[i], sk[i]);
		randombytes_buf(msg[i], MSG_LEN);
		crypto_sign_detached(sig[i], NULL, msg[i], MSG_LEN, sk[i]);
		proto_sign(psig[i], msg[i], E_LEN, network, sk[i]);
	}
	run(0.2, 0, NULL);	/* warm up: caches, CPU frequency */
	wall = run(secs, 0, &cpu);
	printf("verify_per_s %.0f\n", wall);
	printf("verify_per_cpu_s %.0f\n", cpu);
	printf("proto_verify_per_s %.0f\n", run(secs / 2, 1, NULL));
	return 0;
}
