/* SPDX-License-Identifier: MIT */
/*
 * The pgmap teardown protocol, as spin checks it (tests/model/run-spin.sh).
 *
 * What is modelled, step for step as the C code does it:
 *  - percpu_ref (src/base/percpu_ref.c): per-thread slots that a get or put
 *    touches inside a per-thread section while neither the DEAD nor the
 *    ATOMIC bit is set; otherwise an atomic count, which sits BIAS above
 *    the truth until the slots are folded in.  Kill sets DEAD, then ATOMIC
 *    with one extra reference for the switch, queues the fold on the RCU
 *    worker and drops the initial reference.  The worker waits until every
 *    thread has left the section (or RCU read section) it may have entered
 *    before ATOMIC was set, folds the slots in one add, then drops the
 *    switch's reference.  Whoever takes the count to zero completes.
 *  - completion (src/base/completion.c): one word, WAITERS bit and a count
 *    of dones; the waiter sets WAITERS and futex-waits on the word it saw,
 *    the completer bumps the count and wakes only if WAITERS was set.
 *  - teardown (src/mm/memremap.c): kill, put the idle pages' references,
 *    wait for the completion, and only then remove the memory.  A driver
 *    maps two pgmaps and unmaps them newest first, as devres does.
 *  - users: tryget_live on either pgmap, touch its memory, put; user 0
 *    hands one reference to user 1, who puts it from its own slot, so the
 *    slots go negative as they do in real programs.
 *
 * What must hold, checked in every interleaving: no user touches memory
 * that was removed (assert), no count goes below zero (assert), and every
 * process ends: no deadlock, no wakeup lost (spin's invalid end states).
 *
 * Each BUG_* define replays a known wrong design; run-spin.sh checks that
 * spin finds the error it must:
 *  BUG_SHARED_REF          one percpu_ref for both pgmaps (seed 000's two-BAR
 *                          deadlock: the first teardown waits on page
 *                          references only the second teardown drops)
 *  BUG_REMOVE_BEFORE_WAIT  remove the memory before waiting (seeds 000, 004)
 *  BUG_NO_SYNC             fold the slots without waiting for sections
 *  BUG_NO_WAKE             the completer never wakes the waiter (lost wakeup)
 */

#define NUSER	2
#define NTHR	3		/* the users and the driver */
#define DRV	2
#define BIAS	64
#define NPAGES	2		/* idle page references per pgmap */
#define NPGMAP	2
#define WAITERS	128
#define DONES	127

#ifdef BUG_SHARED_REF
#define REF(p)	0
#else
#define REF(p)	(p)
#endif

typedef ref_t {
	bool dead;
	bool atomic_mode;
	short count;		/* BIAS + 1 (initial) + atomic traffic */
	short slot[NTHR];
	bool switching;		/* a fold is queued on the worker */
	byte comp;		/* the pgmap's completion word */
	bool sleeping;		/* its waiter sits in futex_wait */
};

ref_t ref[NPGMAP];
bool insec[NTHR];		/* in a per-thread section */
bool inrcu[NTHR];		/* in an RCU read section */
bool removed[NPGMAP];
chan handoff = [1] of { bool };

inline complete(r) {
	atomic {
		w = (ref[r].comp & WAITERS) != 0;
		ref[r].comp = ref[r].comp + 1;
		assert((ref[r].comp & DONES) == 1);	/* released once */
	}
#ifndef BUG_NO_WAKE
	if
	:: w -> ref[r].sleeping = false
	:: else
	fi
#endif
}

inline wait_for_completion(r) {
	do
	:: atomic { (ref[r].comp & DONES) -> ref[r].comp--; break }
	:: atomic { !(ref[r].comp & DONES) ->
			ref[r].comp = ref[r].comp | WAITERS; seen = ref[r].comp }
		atomic {
			if
			:: ref[r].comp == seen -> ref[r].sleeping = true
			:: else
			fi
		}
		!ref[r].sleeping
	od
}

/* The atomic-mode put; the caller holds an RCU read section. */
inline atomic_sub(r, nr) {
	atomic {
		assert(ref[r].count >= nr);
		ref[r].count = ref[r].count - nr;
		rel = ref[r].count == 0
	}
}

inline put(r, t, nr) {
	insec[t] = true;
	if
	:: !ref[r].dead && !ref[r].atomic_mode ->
		ref[r].slot[t] = ref[r].slot[t] - nr;
		insec[t] = false
	:: else ->
		insec[t] = false;
		inrcu[t] = true;
		atomic_sub(r, nr);
		inrcu[t] = false;
		if
		:: rel -> complete(r)
		:: else
		fi
	fi
}

inline tryget_live(r, t) {
	insec[t] = true;
	if
	:: !ref[r].dead && !ref[r].atomic_mode ->
		ref[r].slot[t]++;
		insec[t] = false;
		ok = true
	:: else ->
		insec[t] = false;
		inrcu[t] = true;
		if
		:: ref[r].dead -> ok = false
		:: else ->
			atomic {
				if
				:: ref[r].count == 0 -> ok = false
				:: else -> ref[r].count++; ok = true
				fi
			}
		fi;
		inrcu[t] = false
	fi
}

inline kill(r) {
	ref[r].dead = true;
	atomic {
		ref[r].atomic_mode = true;
		ref[r].count++;		/* the switch's own reference */
		ref[r].switching = true
	}
	put(r, DRV, 1)			/* the initial reference */
}

/* switch_to_atomic_rcu() on the zd-rcu thread */
proctype worker()
{
	byte r, t;
	short sum;
	bool rel, w;

end:	do
	:: atomic { ref[0].switching || ref[1].switching ->
			r = (ref[0].switching -> 0 : 1) }
#ifndef BUG_NO_SYNC
		t = 0;
		do
		:: t < NTHR -> !insec[t] && !inrcu[t]; t++
		:: else -> break
		od;
#endif
		atomic {
			sum = ref[r].slot[0] + ref[r].slot[1] + ref[r].slot[2];
			ref[r].count = ref[r].count + sum - BIAS;
			assert(ref[r].count > 0)
		}
		atomic_sub(r, 1);
		ref[r].switching = false;
		if
		:: rel -> complete(r)
		:: else
		fi
	od
}

proctype driver()
{
	byte p, seen;
	bool rel, w;

	p = NPGMAP;
	do
	:: p > 0 ->
		p--;
		if
		:: !ref[REF(p)].dead -> kill(REF(p))
		:: else
		fi;
		put(REF(p), DRV, NPAGES);
#ifdef BUG_REMOVE_BEFORE_WAIT
		removed[p] = true;
		wait_for_completion(REF(p));
#else
		wait_for_completion(REF(p));
		removed[p] = true;
#endif
	:: else -> break
	od
}

proctype user0()
{
	bool ok, rel, w;

	tryget_live(REF(0), 0);
	handoff ! ok;			/* user 1 puts it */
	tryget_live(REF(1), 0);
	if
	:: ok -> assert(!removed[1]); put(REF(1), 0, 1)
	:: else
	fi
}

proctype user1()
{
	bool ok, rel, w;

	tryget_live(REF(1), 1);
	if
	:: ok -> assert(!removed[1]); put(REF(1), 1, 1)
	:: else
	fi;
	handoff ? ok;
	if
	:: ok -> assert(!removed[0]); put(REF(0), 1, 1)
	:: else
	fi
}

init
{
	byte p;

	atomic {
		for (p : 0 .. NPGMAP - 1) {
			ref[REF(p)].count = BIAS + 1;
			ref[REF(p)].slot[DRV] = ref[REF(p)].slot[DRV] + NPAGES
		}
		run worker();
		run driver();
		run user0();
		run user1()
	}
}
