/*-------------------------------------------------------------------------
 *
 * smpp_blast.c
 *	  smpp-blast: the fastest plain libsmpp34 ESME we can write, no database.
 *	  It binds as a transceiver, keeps a window of submit_sm in flight,
 *	  answers every deliver_sm, and reports how long N messages took until
 *	  every submit_sm_resp and every receipt was in.  The nps worker's rate
 *	  is compared against this ceiling.
 *
 *	  With --print-deliver it also prints each deliver_sm it gets (receipts
 *	  and subscriber replies), which makes it a small test client.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "pdu.h"
#include "text_codec.h"

static struct
{
	int			port;
	long		count;
	int			window;
	const char *system_id;
	const char *password;
	const char *source;
	const char *text;
	int			unique;
	int			receipts;
	int			print;
	long		wait_mo;
	int			timeout_s;
} opt = {2775, 100000, 100, "nps", "", "0650", "nps benchmark message", 1, 1, 0, 0, 120};

static int	fd;

/* per read: small enough that answers are handled while more arrive */
#define READ_MAX	16384
static netbuf in,
			out;
static uint32_t seq;
static long sent,
			acked,
			failed,
			parts_ok,
			receipts,
			mo_parts;
static int	bound,
			unbound;

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: smpp-blast [OPTION]...\n"
			"  --port N            SMSC port on 127.0.0.1 (2775)\n"
			"  --count N           messages to send (100000)\n"
			"  --window N          submit_sm in flight (100)\n"
			"  --system-id ID      (nps)   --password PW ('')\n"
			"  --source ADDR       source short code (0650)\n"
			"  --text TEXT         message text, UTF-8; long texts go in parts\n"
			"  --same-text         do not append ' #N' to make each text unique\n"
			"  --no-receipts       registered_delivery 0\n"
			"  --print-deliver     print each deliver_sm received\n"
			"  --wait-mo N         also wait for N subscriber message parts\n"
			"  --timeout-s N       give up after N seconds (120)\n"
			"Prints: messages=N seconds=S rate=R/s receipts=K\n");
}

static void
die(const char *what)
{
	fprintf(stderr, "smpp-blast: %s\n", what);
	exit(1);
}

/* Queues submit_sm for message number i (several if the text is long) */
static void
submit(long i)
{
	static pdu_sm p;
	char		text[2048];
	uint8_t		enc[4096];
	nps_part	parts[16];
	int			dc,
				n,
				k,
				j;

	snprintf(text, sizeof(text), opt.unique ? "%s #%ld" : "%s", opt.text, i);
	n = nps_utf8_encode(text, strlen(text), &dc, enc, sizeof(enc));
	if (n < 0 || (k = nps_split(dc, enc, (size_t) n, NPS_UDH8_LEN, parts, 16)) < 0)
		die("--text is not valid UTF-8 or too long");
	for (j = 0; j < k; j++)
	{
		size_t		o = 0;
		int			len;

		pdu_sm_init(&p);
		seq = (seq % 0x7FFFFFFFu) + 1;
		p.seq = seq;
		p.src_ton = 3;			/* short code: network specific */
		p.src_npi = 0;
		snprintf(p.src, sizeof(p.src), "%s", opt.source);
		p.dst_ton = 1;
		p.dst_npi = 1;
		snprintf(p.dst, sizeof(p.dst), "7900%07ld", i % 10000000);
		p.registered_delivery = opt.receipts ? 1 : 0;
		p.data_coding = (uint8_t) dc;
		if (k > 1)
		{
			p.esm_class = SMPP_ESM_UDHI;
			o = (size_t) nps_udh_build(p.sm, sizeof(p.sm), 0, (unsigned) (i & 0xFF),
									   k, j + 1);
		}
		memcpy(p.sm + o, enc + parts[j].offset, parts[j].length);
		p.sm_len = o + parts[j].length;
		len = pdu_pack_sm(SMPP_CMD_SUBMIT_SM, &p, nb_reserve(&out, 1024), 1024);
		if (len < 0)
			die(pdu_error());
		out.len += (size_t) len;
		sent++;
	}
}

static void
print_deliver(const pdu_sm *d)
{
	nps_concat	cc = {0, 0, 0, 0};
	const uint8_t *data = d->payload_len ? d->payload : d->sm;
	size_t		len = d->payload_len ? d->payload_len : d->sm_len;
	char		text[1024];
	int			u;

	if (!d->payload_len && (d->esm_class & SMPP_ESM_UDHI) &&
		(u = nps_udh_parse(d->sm, d->sm_len, &cc)) >= 0)
	{
		data += u;
		len -= (size_t) u;
	}
	else if (d->has_sar)
	{
		cc.ref = d->sar_ref;
		cc.total = d->sar_total;
		cc.seq = d->sar_seq;
	}
	if (nps_decode_to_utf8(d->data_coding, data, len, text, sizeof(text)) < 0)
		snprintf(text, sizeof(text), "<not text>");
	printf("%s\t%s\t%s\tdc=%u\tesm=0x%02X\t%s%u/%d/%d\t%s\n",
		   (d->esm_class & SMPP_ESM_RECEIPT) ? "receipt" : "mo", d->src, d->dst,
		   d->data_coding, d->esm_class,
		   cc.total == 0 ? "" : d->has_sar ? "sar:" : cc.ref16 ? "udh16:" : "udh8:",
		   cc.ref, cc.seq, cc.total, text);
}

static void
handle(const smpp_header *h, const uint8_t *pdu)
{
	static pdu_sm d;
	uint32_t	status = SMPP_ST_OK;

	switch (h->command_id)
	{
		case SMPP_CMD_BIND_TRANSCEIVER | SMPP_RESP_BIT:
			if (h->command_status != SMPP_ST_OK)
			{
				fprintf(stderr, "smpp-blast: bind refused: 0x%08X\n", h->command_status);
				exit(1);
			}
			bound = 1;
			break;
		case SMPP_CMD_SUBMIT_SM | SMPP_RESP_BIT:
			acked++;
			if (h->command_status == SMPP_ST_OK)
				parts_ok++;
			else
				failed++;
			break;
		case SMPP_CMD_DELIVER_SM:
			if (pdu_unpack_sm(SMPP_CMD_DELIVER_SM, pdu, h->command_length, &d) < 0)
			{
				fprintf(stderr, "smpp-blast: %s\n", pdu_error());
				status = SMPP_ST_RX_P_APPN;
			}
			else if (d.esm_class & SMPP_ESM_RECEIPT)
				receipts++;
			else
				mo_parts++;
			if (opt.print && status == SMPP_ST_OK)
				print_deliver(&d);
			out.len += (size_t) pdu_write_resp_str(nb_reserve(&out, 64), 64,
												   h->command_id | SMPP_RESP_BIT,
												   status, h->sequence_number, "");
			break;
		case SMPP_CMD_ENQUIRE_LINK:
		case SMPP_CMD_UNBIND:
			smpp_write_header_pdu(nb_reserve(&out, 16), 16,
								  h->command_id | SMPP_RESP_BIT, 0,
								  h->sequence_number);
			out.len += 16;
			if (h->command_id == SMPP_CMD_UNBIND)
				unbound = 1;
			break;
		case SMPP_CMD_UNBIND | SMPP_RESP_BIT:
			unbound = 1;
			break;
		case SMPP_CMD_GENERIC_NACK:
			fprintf(stderr, "smpp-blast: generic_nack 0x%08X for seq %u\n",
					h->command_status, h->sequence_number);
			acked++;
			failed++;
			break;
		default:
			if (!(h->command_id & SMPP_RESP_BIT))
			{
				smpp_write_generic_nack(nb_reserve(&out, 16), 16,
										SMPP_ST_RINVCMDID, h->sequence_number);
				out.len += 16;
			}
	}
}

/* One round of I/O: flush, wait up to ms, read and handle what came */
static void
io(int ms)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	smpp_header h;
	const uint8_t *pdu;
	long		r;
	int			rc;

	if (nb_flush_fd(&out, fd) < 0)
		die("write failed");
	if (nb_pending(&out) > 0)
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, ms) <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	r = nb_read_fd(&in, fd, READ_MAX);
	while ((rc = nb_next_pdu(&in, &h, &pdu)) == 1)
	{
		handle(&h, pdu);
		nb_consume(&in, h.command_length);
	}
	if (rc < 0)
		die("bad command_length from the SMSC");
	if (r == 0 || r == -1)
		unbound = 2;
}

static void
parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},
		{"count", required_argument, NULL, 'n'},
		{"window", required_argument, NULL, 'w'},
		{"system-id", required_argument, NULL, 's'},
		{"password", required_argument, NULL, 'P'},
		{"source", required_argument, NULL, 'S'},
		{"text", required_argument, NULL, 't'},
		{"same-text", no_argument, NULL, 'u'},
		{"no-receipts", no_argument, NULL, 'r'},
		{"print-deliver", no_argument, NULL, 'd'},
		{"wait-mo", required_argument, NULL, 'm'},
		{"timeout-s", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			o;

	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (o)
		{
			case 'p':
				opt.port = atoi(optarg);
				break;
			case 'n':
				opt.count = atol(optarg);
				break;
			case 'w':
				opt.window = atoi(optarg);
				break;
			case 's':
				opt.system_id = optarg;
				break;
			case 'P':
				opt.password = optarg;
				break;
			case 'S':
				opt.source = optarg;
				break;
			case 't':
				opt.text = optarg;
				break;
			case 'u':
				opt.unique = 0;
				break;
			case 'r':
				opt.receipts = 0;
				break;
			case 'd':
				opt.print = 1;
				break;
			case 'm':
				opt.wait_mo = atol(optarg);
				break;
			case 'T':
				opt.timeout_s = atoi(optarg);
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				usage(stderr);
				exit(2);
		}
	}
	if (opt.port <= 0 || opt.port > 65535 || opt.count < 0 || opt.window < 1 ||
		opt.timeout_s < 1)
	{
		usage(stderr);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	int64_t		t0,
				t1,
				deadline;
	long		i = 0;
	int			n;

	parse_options(argc, argv);
	fd = net_connect(opt.port);
	if (fd < 0)
		die(strerror(errno));
	n = pdu_write_bind(nb_reserve(&out, 128), 128, SMPP_CMD_BIND_TRANSCEIVER,
					   ++seq, opt.system_id, opt.password);
	if (n < 0)
		die("--system-id or --password too long");
	out.len += (size_t) n;
	deadline = now_ms() + (int64_t) opt.timeout_s * 1000;
	while (!bound && !unbound && now_ms() < deadline)
		io(100);
	if (!bound)
		die("no bind_transceiver_resp");

	t0 = now_ms();
	while (!unbound && now_ms() < deadline)
	{
		/* keep the window full; one flush carries the whole batch */
		while (i < opt.count && sent - acked < opt.window)
			submit(i++);
		if (i == opt.count && acked >= sent &&
			(!opt.receipts || receipts >= parts_ok) && mo_parts >= opt.wait_mo)
			break;
		io(i < opt.count && sent - acked < opt.window ? 0 : 100);
	}
	t1 = now_ms();
	fflush(stdout);

	/* leave politely: unbind and wait briefly for the answer */
	if (!unbound)
	{
		smpp_write_header_pdu(nb_reserve(&out, 16), 16, SMPP_CMD_UNBIND, 0,
							  (seq % 0x7FFFFFFFu) + 1);
		out.len += 16;
		deadline = now_ms() + 1000;
		while (!unbound && now_ms() < deadline)
			io(50);
	}
	close(fd);

	printf("messages=%ld seconds=%.3f rate=%.0f/s receipts=%ld",
		   i, (t1 - t0) / 1000.0,
		   t1 > t0 ? i * 1000.0 / (double) (t1 - t0) : 0.0, receipts);
	if (failed || mo_parts || sent != i)
		printf(" parts=%ld failed=%ld mo_parts=%ld", sent, failed, mo_parts);
	printf("\n");
	return (acked >= sent && failed == 0 && (!opt.receipts || receipts >= parts_ok) &&
			mo_parts >= opt.wait_mo) ? 0 : 1;
}
