/* SPDX-License-Identifier: MIT */
/*
 * A reader-writer semaphore whose readers touch only their own thread's
 * counter, after the kernel's percpu-rwsem.  Readers are cheap while no
 * writer is about; a writer is expensive (a process-wide barrier) and
 * waits for the readers inside to leave, while new readers wait for it.
 * Readers must not nest while a writer may be waiting (as in the kernel).
 * It sets itself up on first use (ZD_PERCPU_RWSEM_INIT is all it needs).
 */
#ifndef ZD_BASE_PERCPU_RWSEM_H
#define ZD_BASE_PERCPU_RWSEM_H

#include <pthread.h>
#include <stdint.h>

#include "compiler.h"
#include "pcpu.h"

struct zd_percpu_rwsem {
	/* per-thread reader counts; 0 until set up, and for good where the
	 * kernel has no membarrier: readers then use @fallback */
	_Atomic uintptr_t slot;
	atomic_bool setup_done;
	atomic_long fallback;		/* readers without a counter area */
	atomic_int block;		/* a writer is in or waiting */
	unsigned int writer_wake;	/* futex: a reader left while blocked */
	pthread_mutex_t writer_lock;	/* one writer at a time */
	pthread_mutex_t wait_lock;
	pthread_cond_t writer_done;
};

#define ZD_PERCPU_RWSEM_INIT { 0, 0, 0, 0, 0,			\
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,		\
	PTHREAD_COND_INITIALIZER }

void zd_percpu_down_write(struct zd_percpu_rwsem *sem);
void zd_percpu_up_write(struct zd_percpu_rwsem *sem);

/* Readers inside now, summed slot by slot (exact only to a writer). */
long zd_percpu_rwsem_readers(struct zd_percpu_rwsem *sem);

void zd__percpu_down_read_slow(struct zd_percpu_rwsem *sem);
void zd__percpu_wake_writer(struct zd_percpu_rwsem *sem);
void zd__percpu_reader_add_shared(struct zd_percpu_rwsem *sem, long v);

/* Add @v to the reader count, then order it before reading "block": a
 * compiler barrier here, sys_membarrier on the writer's side. */
static inline void zd__percpu_reader_add(struct zd_percpu_rwsem *sem, long v)
{
	uintptr_t slot = READ_ONCE_RELAXED(&sem->slot);
	char *base = zd_pcpu_base;

	if (likely(base && slot)) {
		zd_pcpu_add(base, slot, (unsigned long)v);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		zd__percpu_reader_add_shared(sem, v);
	}
}

static inline void zd_percpu_down_read(struct zd_percpu_rwsem *sem)
{
	zd__percpu_reader_add(sem, 1);
	if (unlikely(atomic_load_explicit(&sem->block, memory_order_acquire)))
		zd__percpu_down_read_slow(sem);
	zd_tsan_acquire(sem);
}

static inline void zd_percpu_up_read(struct zd_percpu_rwsem *sem)
{
	zd_tsan_release(sem);
	zd__percpu_reader_add(sem, -1);
	if (unlikely(atomic_load_explicit(&sem->block, memory_order_relaxed)))
		zd__percpu_wake_writer(sem);
}

#endif /* ZD_BASE_PERCPU_RWSEM_H */
