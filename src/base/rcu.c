// SPDX-License-Identifier: MIT
/*
 * The zd-rcu worker: a FIFO of callbacks, one grace period per batch.
 * A batch is taken whole under queue_lock, so work queued while a grace
 * period is in progress waits for the next one, as it must.
 */
#include <errno.h>
#include <pthread.h>

#include "fault.h"
#include "fork.h"
#include "log.h"
#include "rcu.h"

char zd_rcu_tsan_gp;

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct zd_rcu_work *queue_head, **queue_tail = &queue_head;
static bool worker_running;
/* A batch is being run; fork waits for it so that the child never holds a
 * half-run batch, and no new batch starts while a fork is pending. */
static bool batch_in_flight, fork_pending;
/* Callbacks queued and run so far: fork drains what was queued before it. */
static unsigned long nr_queued, nr_run;
static __thread bool on_worker;

static struct zd_rcu_work *take_all(void)
{
	struct zd_rcu_work *batch = queue_head;

	queue_head = NULL;
	queue_tail = &queue_head;
	return batch;
}

static int run_batch(struct zd_rcu_work *batch)
{
	int n = 0;

	if (!batch)
		return 0;
	zd_synchronize_rcu();
	while (batch) {
		struct zd_rcu_work *next = batch->next;

		/* @batch may be freed by its own callback */
		batch->func(batch);
		batch = next;
		n++;
	}
	return n;
}

static void *worker(void *unused)
{
	on_worker = true;
	pthread_setname_np(pthread_self(), "zd-rcu");
	pthread_mutex_lock(&queue_lock);
	for (;;) {
		struct zd_rcu_work *batch;
		int n;

		while (!queue_head || fork_pending)
			pthread_cond_wait(&queue_cond, &queue_lock);
		batch = take_all();
		batch_in_flight = true;
		pthread_mutex_unlock(&queue_lock);
		n = run_batch(batch);
		pthread_mutex_lock(&queue_lock);
		nr_run += n;
		batch_in_flight = false;
		pthread_cond_broadcast(&queue_cond);
	}
	return NULL;
}

static int start_worker_locked(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	int err;

	if (worker_running)
		return 0;
	if (zd_fault("rcu.worker"))
		return -EAGAIN;
	zd_fork_hooks_init();
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err = pthread_create(&tid, &attr, worker, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		zd_warn("cannot start the zd-rcu thread: %d", err);
		return -err;
	}
	worker_running = true;
	return 0;
}

int zd_rcu_call(struct zd_rcu_work *work, void (*func)(struct zd_rcu_work *))
{
	int err;

	work->func = func;
	work->next = NULL;
	pthread_mutex_lock(&queue_lock);
	err = start_worker_locked();
	if (!err) {
		*queue_tail = work;
		queue_tail = &work->next;
		nr_queued++;
		pthread_cond_signal(&queue_cond);
	}
	pthread_mutex_unlock(&queue_lock);
	return err;
}

bool zd_rcu_on_worker(void)
{
	return on_worker;
}

int zd_rcu_run_pending(void)
{
	struct zd_rcu_work *batch;

	pthread_mutex_lock(&queue_lock);
	batch = take_all();
	pthread_mutex_unlock(&queue_lock);
	return run_batch(batch);
}

void zd_rcu_fork_quiesce(void)
{
	unsigned long target;

	pthread_mutex_lock(&queue_lock);
	target = nr_queued;
	while ((nr_run < target || batch_in_flight) && worker_running &&
	       !on_worker)
		pthread_cond_wait(&queue_cond, &queue_lock);
	fork_pending = true;
	pthread_mutex_unlock(&queue_lock);
}

void zd_rcu_fork_prepare(void)
{
	pthread_mutex_lock(&queue_lock);
}

void zd_rcu_fork_parent(void)
{
	fork_pending = false;
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
}

/*
 * What is still queued was queued by threads racing with the fork, which
 * the child does not have; their refs may live on stacks that the child
 * recycles for its own threads, so the child must not touch them.
 */
void zd_rcu_fork_child(void)
{
	pthread_mutex_init(&queue_lock, NULL);
	pthread_cond_init(&queue_cond, NULL);
	if (queue_head)
		zd_log(ZD_LOG_DEBUG, "fork: %lu callbacks queued by other "
		       "threads stay with the parent", nr_queued - nr_run);
	take_all();
	nr_queued = nr_run = 0;
	fork_pending = false;
	batch_in_flight = false;
	worker_running = false;
	on_worker = false;
}
