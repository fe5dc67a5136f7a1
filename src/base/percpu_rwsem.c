// SPDX-License-Identifier: MIT
/*
 * percpu-rwsem with an asymmetric fence.  A reader adds one to its own
 * slot, then reads "block"; a writer sets "block", then makes every thread
 * pass a full barrier (sys_membarrier), then sums the slots.  So either the
 * writer's sum sees the reader's increment, or the reader sees "block" and
 * backs out; the reader side needs only a compiler barrier.  Where the
 * kernel has no membarrier the semaphore gets no slot: readers add to the
 * shared fallback counter, a seq_cst add, and the writer needs no barrier.
 *
 * Counts may be taken on one thread's slot and dropped on another's, or
 * on the shared fallback counter: only the total matters.
 */
#include <errno.h>

#include "../os/os.h"
#include "log.h"
#include "pcpu.h"
#include "percpu_rwsem.h"

/* Give @sem per-thread counters, once, if membarrier makes them safe.
 * Until then (or without them) readers share the fallback counter. */
static void sem_setup(struct zd_percpu_rwsem *sem)
{
	bool usable = zd_pcpu_usable();

	pthread_mutex_lock(&sem->wait_lock);
	if (!atomic_load(&sem->setup_done)) {
		long off = usable ? zd_pcpu_alloc() : -ENOSYS;

		if (off > 0)
			atomic_store(&sem->slot, (uintptr_t)off);
		else
			zd_info("percpu-rwsem %p: readers share one counter "
				"(%s)", (void *)sem, off == -ENOSYS ?
				"no membarrier" : "no per-thread counter");
		atomic_store(&sem->setup_done, true);
	}
	pthread_mutex_unlock(&sem->wait_lock);
}

/* Slow path of the add: not set up yet, this thread has no counter area
 * yet (take one), or no per-thread counters at all (the shared one). */
void zd__percpu_reader_add_shared(struct zd_percpu_rwsem *sem, long v)
{
	uintptr_t slot;
	char *base;

	if (unlikely(!atomic_load(&sem->setup_done)))
		sem_setup(sem);
	slot = atomic_load(&sem->slot);
	base = slot ? zd_pcpu_this() : NULL;
	if (base) {
		zd_pcpu_add(base, slot, (unsigned long)v);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_fetch_add(&sem->fallback, v);	/* seq_cst: a fence */
	}
}

static long readers(struct zd_percpu_rwsem *sem)
{
	uintptr_t slot = atomic_load(&sem->slot);
	long n = atomic_load(&sem->fallback);

	return n + (slot ? (long)zd_pcpu_sum(slot) : 0);
}

long zd_percpu_rwsem_readers(struct zd_percpu_rwsem *sem)
{
	return readers(sem);
}

void zd__percpu_wake_writer(struct zd_percpu_rwsem *sem)
{
	__atomic_add_fetch(&sem->writer_wake, 1, __ATOMIC_SEQ_CST);
	zd_os_futex_wake(&sem->writer_wake, 1);
}

void zd__percpu_down_read_slow(struct zd_percpu_rwsem *sem)
{
	do {
		/* back out, let the writer finish, try again */
		zd__percpu_reader_add(sem, -1);
		zd__percpu_wake_writer(sem);
		pthread_mutex_lock(&sem->wait_lock);
		while (atomic_load(&sem->block))
			pthread_cond_wait(&sem->writer_done, &sem->wait_lock);
		pthread_mutex_unlock(&sem->wait_lock);
		zd__percpu_reader_add(sem, 1);
	} while (atomic_load_explicit(&sem->block, memory_order_acquire));
}

void zd_percpu_down_write(struct zd_percpu_rwsem *sem)
{
	if (unlikely(!atomic_load(&sem->setup_done)))
		sem_setup(sem);
	pthread_mutex_lock(&sem->writer_lock);
	atomic_store(&sem->block, 1);
	if (atomic_load(&sem->slot))
		zd_os_membarrier();
	for (;;) {
		unsigned int seq = __atomic_load_n(&sem->writer_wake,
						   __ATOMIC_SEQ_CST);

		long n = readers(sem);

		if (n == 0)
			break;
		/* after the barrier every reader inside is counted: below
		 * zero, an up_read had no down_read; take it back */
		if (n < 0) {
			zd_warn("percpu-rwsem %p: %ld up_read without down_read; "
				"count repaired", (void *)sem, -n);
			atomic_fetch_add(&sem->fallback, -n);
			break;
		}
		zd_os_futex_wait(&sem->writer_wake, seq, -1);
	}
	zd_tsan_acquire(sem);
}

void zd_percpu_up_write(struct zd_percpu_rwsem *sem)
{
	zd_tsan_release(sem);
	pthread_mutex_lock(&sem->wait_lock);
	atomic_store_explicit(&sem->block, 0, memory_order_release);
	pthread_cond_broadcast(&sem->writer_done);
	pthread_mutex_unlock(&sem->wait_lock);
	pthread_mutex_unlock(&sem->writer_lock);
}
