/*-------------------------------------------------------------------------
 *
 * store.h
 *	  The simulator's in-memory bookkeeping for deliver_sm it owes the
 *	  ESMEs (receipts and subscriber messages): a time heap for those not
 *	  due yet, FIFO lists for queued and in-flight ones, a hash from
 *	  (connection, sequence_number) to the in-flight one, and a set of
 *	  64-bit hashes to spot duplicate submits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NPS_SIM_STORE_H
#define NPS_SIM_STORE_H

#include <stddef.h>
#include <stdint.h>

#define DLV_RECEIPT	1
#define DLV_MO		2

typedef struct delivery
{
	struct delivery *prev,
			   *next;			/* in a queue or the in-flight list */
	struct delivery *hnext;		/* in-flight hash chain */
	int64_t		due_ms;			/* heap: when to queue; in flight: deadline */
	uint64_t	order;			/* heap tie-break: equal times keep order */
	int			sys;			/* systems[] index it goes to */
	int			kind;			/* DLV_RECEIPT or DLV_MO */
	int			attempts;		/* times sent so far */
	uint32_t	conn_id;		/* while in flight */
	uint32_t	seq;
	size_t		len;
	uint8_t		pdu[];			/* packed deliver_sm; seq patched per send */
} delivery;

extern delivery *delivery_new(int sys, int kind, const uint8_t *pdu, size_t len);

typedef struct dlist
{
	delivery   *head,
			   *tail;
	size_t		n;
} dlist;

extern void dl_push(dlist *l, delivery *d);
extern void dl_remove(dlist *l, delivery *d);
extern delivery *dl_pop(dlist *l);

typedef struct dheap
{
	delivery  **a;
	size_t		n,
				cap;
	uint64_t	order;
} dheap;

extern void dh_push(dheap *h, delivery *d);
extern delivery *dh_pop(dheap *h);

static inline delivery *
dh_top(const dheap *h)
{
	return h->n ? h->a[0] : NULL;
}

typedef struct dhash
{
	delivery  **b;
	size_t		nb,
				n;
} dhash;

extern void dhash_put(dhash *h, delivery *d);
/* Removes and returns the delivery in flight as (conn_id, seq), or NULL */
extern delivery *dhash_take(dhash *h, uint32_t conn_id, uint32_t seq);

typedef struct u64set
{
	uint64_t   *a;
	size_t		cap,
				n;
} u64set;

/* 1 if v was new (and is now in), 0 if it was there */
extern int	u64set_add(u64set *s, uint64_t v);
extern void u64set_clear(u64set *s);

#endif							/* NPS_SIM_STORE_H */
