/*
 * worker.c: the store thread.  Jobs run one at a time, in the order they
 * were submitted; when one ends, a uv_async wakes the loop, which calls
 * each finished job's done().  Only this thread opens LMDB transactions
 * in the daemon, so growing the map (which LMDB allows only while the
 * process has no transaction open) never races a reader.
 */
#include <pthread.h>
#include <stdlib.h>

#include "daemon.h"

static struct {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *queue, **qtail;     /* waiting to run */
	struct job *done, **dtail;      /* ran; done() not yet called */
	int stop;
	int started;
	uv_async_t async;
	struct store *store;
} W;

/* The thread: takes jobs until told to stop. */
static void *
worker_main(void *arg)
{
	struct job *j;

	(void)arg;
	pthread_mutex_lock(&W.mu);
	for (;;) {
		while (W.queue == NULL && !W.stop)
			pthread_cond_wait(&W.cv, &W.mu);
		if (W.queue == NULL)
			break;
		j = W.queue;
		W.queue = j->next;
		if (W.queue == NULL)
			W.qtail = &W.queue;
		pthread_mutex_unlock(&W.mu);
		j->run(j);
		j->ran = 1;
		pthread_mutex_lock(&W.mu);
		j->next = NULL;
		*W.dtail = j;
		W.dtail = &j->next;
		uv_async_send(&W.async);
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* On the loop: calls done() of every finished job. */
static void
worker_async(uv_async_t *a)
{
	struct job *j, *next;

	(void)a;
	pthread_mutex_lock(&W.mu);
	j = W.done;
	W.done = NULL;
	W.dtail = &W.done;
	pthread_mutex_unlock(&W.mu);
	for (; j != NULL; j = next) {
		next = j->next;
		j->done(j);
	}
}

/* Starts the store thread. */
int
worker_start(uv_loop_t *loop, struct store *s)
{
	W.store = s;
	W.qtail = &W.queue;
	W.dtail = &W.done;
	pthread_mutex_init(&W.mu, NULL);
	pthread_cond_init(&W.cv, NULL);
	if (uv_async_init(loop, &W.async, worker_async) != 0)
		return -1;
	if (pthread_create(&W.thread, NULL, worker_main, NULL) != 0) {
		uv_close((uv_handle_t *)&W.async, NULL);
		return -1;
	}
	W.started = 1;
	return 0;
}

/* Queues a job. */
void
worker_submit(struct job *j)
{
	j->next = NULL;
	j->ran = 0;
	pthread_mutex_lock(&W.mu);
	*W.qtail = j;
	W.qtail = &j->next;
	pthread_cond_signal(&W.cv);
	pthread_mutex_unlock(&W.mu);
}

/*
 * Stops the thread after the running job.  Jobs still queued are not
 * run; their done() is called so they free what they hold, and every
 * finished job's done() runs here too.
 */
void
worker_stop(void)
{
	struct job *q;

	if (!W.started)
		return;
	pthread_mutex_lock(&W.mu);
	q = W.queue;
	W.queue = NULL;
	W.qtail = &W.queue;
	W.stop = 1;
	pthread_cond_signal(&W.cv);
	pthread_mutex_unlock(&W.mu);
	pthread_join(W.thread, NULL);
	W.started = 0;
	worker_async(&W.async);
	while (q != NULL) {
		struct job *next = q->next;

		q->done(q);
		q = next;
	}
	uv_close((uv_handle_t *)&W.async, NULL);
}

/* The store, for jobs. */
struct store *
worker_store(void)
{
	return W.store;
}
