/*-------------------------------------------------------------------------
 *
 * net.c
 *	  Byte buffers, loopback sockets and PDU framing; see net.h.
 *
 *-------------------------------------------------------------------------
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


void
nb_free(netbuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void
nb_clear(netbuf *b)
{
	b->off = b->len = 0;
}

uint8_t *
nb_reserve(netbuf *b, size_t n)
{
	if (b->off > 0 && (b->off == b->len || b->len + n > b->cap))
	{
		/* slide pending data down before growing */
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
		{
			fprintf(stderr, "out of memory\n");
			abort();
		}
		b->cap = cap;
	}
	return b->data + b->len;
}

void
nb_append(netbuf *b, const void *p, size_t n)
{
	memcpy(nb_reserve(b, n), p, n);
	b->len += n;
}

void
nb_consume(netbuf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

long
nb_read_fd(netbuf *b, int fd, size_t max)
{
	long		total = 0;

	while ((size_t) total < max)
	{
		size_t		want = max - (size_t) total;
		ssize_t		r = read(fd, nb_reserve(b, want), want);

		if (r > 0)
		{
			b->len += (size_t) r;
			total += r;
			if ((size_t) r < want)
				break;			/* drained: save a read that would EAGAIN */
			continue;
		}
		if (r == 0)
			return total > 0 ? total : 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return total > 0 ? total : -2;
		return -1;
	}
	return total;
}

int
nb_flush_fd(netbuf *b, int fd)
{
	while (nb_pending(b) > 0)
	{
		ssize_t		w = send(fd, b->data + b->off, nb_pending(b), MSG_NOSIGNAL);

		if (w > 0)
			nb_consume(b, (size_t) w);
		else if (w < 0 && errno == EINTR)
			continue;
		else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		else
			return -1;
	}
	return 0;
}

int
nb_next_pdu(netbuf *b, smpp_header *h, const uint8_t **pdu)
{
	int			rc = smpp_read_header(b->data + b->off, nb_pending(b), h);

	if (rc <= 0)
		return rc;
	if (nb_pending(b) < h->command_length)
		return 0;
	*pdu = b->data + b->off;
	return 1;
}

void
net_tune(int fd)
{
	int			one = 1;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void
loopback(struct sockaddr_in *a, int port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t) port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int
net_listen(int *port)
{
	struct sockaddr_in a;
	socklen_t	alen = sizeof(a);
	int			one = 1;
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	loopback(&a, *port);
	if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
		listen(fd, 128) < 0 ||
		getsockname(fd, (struct sockaddr *) &a, &alen) < 0)
	{
		int			e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*port = ntohs(a.sin_port);
	return fd;
}

int
net_connect(int port)
{
	struct sockaddr_in a;
	int			fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	loopback(&a, port);
	if (connect(fd, (struct sockaddr *) &a, sizeof(a)) < 0)
	{
		int			e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	net_tune(fd);
	return fd;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
