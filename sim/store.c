/*-------------------------------------------------------------------------
 *
 * store.c
 *	  Delivery heap, lists and hashes for the simulator; see store.h.
 *
 *-------------------------------------------------------------------------
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

delivery *
delivery_new(int sys, int kind, const uint8_t *pdu, size_t len)
{
	delivery   *d = xrealloc(NULL, sizeof(delivery) + len);

	memset(d, 0, sizeof(delivery));
	d->sys = sys;
	d->kind = kind;
	d->len = len;
	memcpy(d->pdu, pdu, len);
	return d;
}

void
dl_push(dlist *l, delivery *d)
{
	d->next = NULL;
	d->prev = l->tail;
	if (l->tail)
		l->tail->next = d;
	else
		l->head = d;
	l->tail = d;
	l->n++;
}

void
dl_remove(dlist *l, delivery *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		l->head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		l->tail = d->prev;
	d->prev = d->next = NULL;
	l->n--;
}

delivery *
dl_pop(dlist *l)
{
	delivery   *d = l->head;

	if (d)
		dl_remove(l, d);
	return d;
}

static int
before(const delivery *a, const delivery *b)
{
	return a->due_ms < b->due_ms ||
		(a->due_ms == b->due_ms && a->order < b->order);
}

void
dh_push(dheap *h, delivery *d)
{
	size_t		i;

	if (h->n == h->cap)
	{
		h->cap = h->cap ? h->cap * 2 : 1024;
		h->a = xrealloc(h->a, h->cap * sizeof(*h->a));
	}
	d->order = h->order++;
	i = h->n++;
	while (i > 0 && before(d, h->a[(i - 1) / 2]))
	{
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = d;
}

delivery *
dh_pop(dheap *h)
{
	delivery   *top,
			   *last;
	size_t		i = 0;

	if (h->n == 0)
		return NULL;
	top = h->a[0];
	last = h->a[--h->n];
	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && before(h->a[c + 1], h->a[c]))
			c++;
		if (!before(h->a[c], last))
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (h->n > 0)
		h->a[i] = last;
	return top;
}

static size_t
slot_of(const dhash *h, uint32_t conn_id, uint32_t seq)
{
	uint64_t	k = ((uint64_t) conn_id << 32 | seq) * 0x9E3779B97F4A7C15ULL;

	return (size_t) (k >> 32) & (h->nb - 1);
}

void
dhash_put(dhash *h, delivery *d)
{
	size_t		s;

	if (h->n >= h->nb)
	{
		/* rehash into twice the buckets: keeps chains about one long */
		size_t		nb = h->nb ? h->nb * 2 : 1024,
					i;
		dhash		g = {xrealloc(NULL, nb * sizeof(delivery *)), nb, 0};

		memset(g.b, 0, nb * sizeof(delivery *));
		for (i = 0; i < h->nb; i++)
			while (h->b[i])
			{
				delivery   *e = h->b[i];

				h->b[i] = e->hnext;
				s = slot_of(&g, e->conn_id, e->seq);
				e->hnext = g.b[s];
				g.b[s] = e;
			}
		free(h->b);
		g.n = h->n;
		*h = g;
	}
	s = slot_of(h, d->conn_id, d->seq);
	d->hnext = h->b[s];
	h->b[s] = d;
	h->n++;
}

delivery *
dhash_take(dhash *h, uint32_t conn_id, uint32_t seq)
{
	delivery  **p;

	if (h->nb == 0)
		return NULL;
	for (p = &h->b[slot_of(h, conn_id, seq)]; *p; p = &(*p)->hnext)
		if ((*p)->conn_id == conn_id && (*p)->seq == seq)
		{
			delivery   *d = *p;

			*p = d->hnext;
			d->hnext = NULL;
			h->n--;
			return d;
		}
	return NULL;
}

/* open addressing; 0 marks an empty slot, so 0 is stored as 1 */
static int
u64set_insert(u64set *s, uint64_t v)
{
	size_t		i = (size_t) (v * 0x9E3779B97F4A7C15ULL >> 20) & (s->cap - 1);

	while (s->a[i] != 0)
	{
		if (s->a[i] == v)
			return 0;
		i = (i + 1) & (s->cap - 1);
	}
	s->a[i] = v;
	s->n++;
	return 1;
}

int
u64set_add(u64set *s, uint64_t v)
{
	if (v == 0)
		v = 1;
	if ((s->n + 1) * 2 > s->cap)
	{
		u64set		g = {NULL, s->cap ? s->cap * 2 : 4096, 0};
		size_t		i;

		g.a = xrealloc(NULL, g.cap * sizeof(uint64_t));
		memset(g.a, 0, g.cap * sizeof(uint64_t));
		for (i = 0; i < s->cap; i++)
			if (s->a[i])
				u64set_insert(&g, s->a[i]);
		free(s->a);
		*s = g;
	}
	return u64set_insert(s, v);
}

void
u64set_clear(u64set *s)
{
	free(s->a);
	memset(s, 0, sizeof(*s));
}
