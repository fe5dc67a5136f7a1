/* SPDX-License-Identifier: MIT */
/*
 * p2pmem allocation against provider unbind (src/p2pdma/p2pdma.c), as spin
 * checks it (tests/model/run-spin.sh).
 *
 * A provider has added two BAR resources: two pgmaps, each the owner of its
 * own chunk in one gen_pool.  Clients allocate (inside an RCU read section:
 * the provider's p2pdma pointer, the stopped flag, a chunk, then
 * tryget_live on that chunk's owner, giving the memory back if the owner is
 * dying), DMA into what they got, and free it (the memory back to the pool
 * first, then the reference).  Unbind runs the provider's devres actions
 * newest first: stop (no new allocation; a grace period), each pgmap's
 * unmap (kill, wait for the references, remove), and last the release of
 * the pool.  The reference count here is a plain counter: percpu_ref and
 * the completion under it are checked in src/mm/teardown.pml.
 *
 * What must hold in every interleaving: no DMA into removed memory, no use
 * of the pool after it is destroyed, the pool is empty when destroyed, and
 * every process ends.
 *
 * Each BUG_* define replays a wrong design that run-spin.sh expects spin
 * to catch:
 *  BUG_GLOBAL_REF       every allocation pins resource 0, whatever chunk it
 *                       came from (one reference per device, not per
 *                       resource: what seed 004 changed)
 *  BUG_PUT_BEFORE_FREE  free drops the reference before the memory is back
 *                       in the pool, so unbind can destroy the pool under it
 *  BUG_NO_SYNC          neither stop nor release waits for a grace period
 */

#define NRES	2
#define NCLI	2
#define CAP	2		/* allocations each chunk can hold */

bool dead[NRES];
byte count[NRES];		/* the initial reference plus allocations */
bool removed[NRES];
byte used[NRES];		/* allocations out of each chunk */
bool published = true;		/* pdev->p2pdma is set */
bool stopped;
bool pool_alive = true;
bool inrcu[NCLI];

inline synchronize_rcu() {
	c = 0;
	do
	:: c < NCLI -> !inrcu[c]; c++
	:: else -> break
	od
}

inline put(r) {
	atomic { assert(count[r] > 0); count[r]-- }
}

/* devres action of each resource: memunmap's teardown */
inline unmap(r) {
	dead[r] = true;
	put(r);				/* the initial reference */
	count[r] == 0;			/* wait_for_completion */
	removed[r] = true
}

proctype provider_unbind()
{
	byte c;

	/* stop: the newest resource's action does it */
	stopped = true;
#ifndef BUG_NO_SYNC
	synchronize_rcu();
#endif
	unmap(1);
	unmap(0);
	/* release: the pool and the p2pdma structure */
	published = false;
#ifndef BUG_NO_SYNC
	synchronize_rcu();
#endif
	atomic {
		assert(used[0] == 0 && used[1] == 0);
		pool_alive = false
	}
}

proctype client(byte me)
{
	byte r, owner;
	bool ok;

	inrcu[me] = true;
	if
	:: published && !stopped ->
		assert(pool_alive);
		atomic {
			if
			:: used[0] < CAP -> r = 0
			:: used[1] < CAP -> r = 1
			fi;
			used[r]++
		}
#ifdef BUG_GLOBAL_REF
		owner = 0;
#else
		owner = r;
#endif
		atomic {
			if
			:: !dead[owner] && count[owner] > 0 ->
				count[owner]++; ok = true
			:: else -> ok = false
			fi
		}
		if
		:: !ok -> assert(pool_alive); used[r]--
		:: else
		fi
	:: else -> ok = false
	fi;
	inrcu[me] = false;
	if
	:: ok ->
		assert(!removed[r]);		/* the DMA */
#ifdef BUG_PUT_BEFORE_FREE
		put(owner);
		assert(pool_alive); used[r]--
#else
		assert(pool_alive); used[r]--;
		put(owner)
#endif
	:: else
	fi
}

init
{
	atomic {
		count[0] = 1;
		count[1] = 1;
		run provider_unbind();
		run client(0);
		run client(1)
	}
}
