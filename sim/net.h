/*-------------------------------------------------------------------------
 *
 * net.h
 *	  Byte buffers, non-blocking loopback sockets and PDU framing shared by
 *	  the simulator and smpp-blast.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NPS_SIM_NET_H
#define NPS_SIM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "smpp_frame.h"

/* A growable FIFO of bytes: data[off, len) is pending */
typedef struct netbuf
{
	uint8_t    *data;
	size_t		off;
	size_t		len;
	size_t		cap;
} netbuf;

extern void nb_free(netbuf *b);
extern void nb_clear(netbuf *b);

static inline size_t
nb_pending(const netbuf *b)
{
	return b->len - b->off;
}

/* Room for n more octets at data + len (aborts on out of memory) */
extern uint8_t *nb_reserve(netbuf *b, size_t n);
extern void nb_append(netbuf *b, const void *p, size_t n);
extern void nb_consume(netbuf *b, size_t n);

/*
 * read(2) until EAGAIN or max octets: >0 octets read, 0 EOF, -1 error,
 * -2 nothing to read now.  A small max keeps two busy peers pipelined:
 * each answers part of a window while the other still produces the rest.
 */
extern long nb_read_fd(netbuf *b, int fd, size_t max);

/* write(2) what is pending: 0 all written, 1 some left (EAGAIN), -1 error */
extern int	nb_flush_fd(netbuf *b, int fd);

/*
 * Next whole PDU at the front of b: 1 with *h and *pdu set (consume
 * h->command_length after handling it), 0 if more data is needed,
 * -1 if the length is out of bounds (the stream is lost).
 */
extern int	nb_next_pdu(netbuf *b, smpp_header *h, const uint8_t **pdu);

/* Non-blocking TCP listener on 127.0.0.1; *port 0 picks a free port and
 * is updated.  Returns the fd or -1 (errno set). */
extern int	net_listen(int *port);

/* Blocking connect to 127.0.0.1:port, then non-blocking + TCP_NODELAY */
extern int	net_connect(int port);

/* O_NONBLOCK, TCP_NODELAY (PDUs are small: Nagle would hold them) */
extern void net_tune(int fd);

/* CLOCK_MONOTONIC in milliseconds */
extern int64_t now_ms(void);

#endif							/* NPS_SIM_NET_H */
