/*-------------------------------------------------------------------------
 *
 * smsc_sim.c
 *	  nps-smsc-sim: an SMSC simulator for the nps demo, tests and benchmarks.
 *
 *	  Single-threaded epoll loop on 127.0.0.1.  ESMEs bind, submit survey
 *	  questions and get submit_sm_resp, delivery receipts and the simulated
 *	  subscribers' replies as deliver_sm.  A line-based control port lets
 *	  tests inject faults (throttling, queue full, rejects, dropped or hung
 *	  connections, garbage PDUs) and read counters.
 *
 *	  Deliveries owed to an ESME are kept until it acknowledges them: an
 *	  error status, a timeout or a dropped connection sends them again
 *	  later, as a real SMSC does.
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define MAX_EVENTS		256

options	opt = {
	.port = 2775,
	.control_port = -1,
	.id_hex = 1,
	.receipt_delay_ms = 200,
	.deliver_timeout_ms = 10000,
	.redeliver_ms = 2000,
	.enquire_ms = 30000,
	.window = 100,
	.mo_concat = MO_MIX,
	.sub = {
		.seed = 1,
		.reply_rate = 0.8,
		.stop_rate = 0.01,
		.garbage_rate = 0.02,
		.alarm_rate = 0.1,
		.scores = {2, 1, 1, 1, 2, 3, 10, 12, 18, 20, 30},
		.reply_min_ms = 1000,
		.reply_max_ms = 5000,
	},
};

stats		st;
int64_t		now;
int			hang;
int			epfd;

static int	listen_fd,
			control_fd = -1;
static volatile sig_atomic_t stop_requested;

/* epoll tags for the two listeners */
static int	tag_listen,
			tag_control;

void
say(const char *fmt,...)
{
	va_list		ap;

	if (!opt.verbose)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "nps-smsc-sim: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
accept_all(int lfd, int control)
{
	for (;;)
	{
		int			fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			return;				/* EAGAIN, or a transient error: try later */
		net_tune(fd);
		say("connection %u accepted%s", conn_new(fd, control)->id,
			control ? " (control)" : "");
	}
}

static void
send_enquires(void)
{
	conn	   *c;

	for (c = conns; c; c = c->next)
		if (!c->dead && !c->closing && c->bind &&
			now - c->last_enquire >= opt.enquire_ms)
		{
			send_header(c, SMPP_CMD_ENQUIRE_LINK, SMPP_ST_OK, conn_seq(c));
			c->last_enquire = now;
		}
}

static void
flush_all(void)
{
	conn	   *c;

	for (c = conns; c; c = c->next)
	{
		if (c->dead)
			continue;
		if (nb_pending(&c->out) > 0 && nb_flush_fd(&c->out, c->fd) < 0)
		{
			conn_kill(c);
			continue;
		}
		if (c->closing && nb_pending(&c->out) == 0)
		{
			conn_kill(c);
			continue;
		}
		watch(c);
	}
}

static int
wait_ms(void)
{
	int64_t		due = now + 1000;
	delivery   *d = dh_top(&timers);

	if (d && d->due_ms < due)
		due = d->due_ms;
	if (!hang && inflight.head && inflight.head->due_ms < due)
		due = inflight.head->due_ms;
	return due <= now ? 0 : (int) (due - now);
}

static void
loop_once(int timeout)
{
	struct epoll_event ev[MAX_EVENTS];
	int			n = epoll_wait(epfd, ev, MAX_EVENTS, timeout);
	int			i;
	static int64_t last_housekeeping;

	now = now_ms();
	for (i = 0; i < n; i++)
	{
		void	   *p = ev[i].data.ptr;
		conn	   *c = p;

		if (p == &tag_listen)
			accept_all(listen_fd, 0);
		else if (p == &tag_control)
			accept_all(control_fd, 1);
		else if (c->dead)
			continue;
		else if (hang && !c->control)
		{
			/* hung: read nothing, but do not spin on a peer that is gone */
			if (ev[i].events & (EPOLLHUP | EPOLLERR))
				conn_kill(c);
		}
		else if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			(c->control ? read_control : read_esme) (c);
	}
	run_timers();
	if (!hang)
	{
		check_timeouts();
		pump();
		if (opt.enquire_ms > 0)
			send_enquires();
	}
	/* The log reaches the file before any response goes out, so a killed
	 * simulator never has acknowledged a submit it did not log. */
	if (submit_log)
		fflush(submit_log);
	flush_all();
	conns_sweep();
	if (now - last_housekeeping >= 1000)
	{
		last_housekeeping = now;
		reasm_expire(0);
	}
}

/* Unbinds every ESME and gives them a moment to answer */
static void
shutdown_all(void)
{
	conn	   *c;
	int64_t		until = now_ms() + 1000;

	hang = 0;
	for (c = conns; c; c = c->next)
	{
		if (c->dead)
			continue;
		if (c->bind)
			send_header(c, SMPP_CMD_UNBIND, SMPP_ST_OK, conn_seq(c));
		else
			c->closing = 1;
	}
	while (n_esme > 0 && now_ms() < until)
	{
		int			open_esme = 0;

		for (c = conns; c; c = c->next)
			if (!c->dead && !c->control && !c->closing)
				open_esme++;
		if (open_esme == 0)
			break;
		flush_all();
		loop_once(50);
	}
	for (c = conns; c; c = c->next)
		if (!c->dead)
		{
			nb_flush_fd(&c->out, c->fd);
			conn_kill(c);
		}
	conns_sweep();
}

static void
on_signal(int sig)
{
	stop_requested = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
			"Usage: nps-smsc-sim [OPTION]...\n"
			"SMPP 3.4 SMSC simulator for nps (listens on 127.0.0.1 only).\n"
			"\n"
			"  --port N              SMPP port (default 2775; 0 picks a free one)\n"
			"  --control-port N      line-based control port (0 picks one; default off)\n"
			"  --system-id ID        accept only this system_id (default any)\n"
			"  --password PW         require this password (default any)\n"
			"  --id-format hex|dec   message_id format (default hex)\n"
			"  --receipt-delay-ms N  delay before a receipt (default 200; --sink: 0)\n"
			"  --deliver-timeout-ms N  deliver_sm_resp wait before redelivery (10000)\n"
			"  --redeliver-ms N      pause before sending a refused deliver_sm again (2000)\n"
			"  --requeue-ms N        pause before delivering again what a lost connection\n"
			"                        had in flight (default 0: at the next bind)\n"
			"  --enquire-ms N        enquire_link interval, 0 = never (30000)\n"
			"  --window N            deliver_sm in flight per session (100)\n"
			"  --sink                benchmark: no subscriber replies, receipts at once\n"
			"  --log FILE            one TSV line per submit_sm received\n"
			"  --verbose             connection events on stderr\n"
			"\n"
			"Simulated subscribers:\n"
			"  --seed N              answers are deterministic for a seed (1)\n"
			"  --reply-rate P        share of questions answered (0.8)\n"
			"  --reply-min-ms N      earliest reply (1000)\n"
			"  --reply-max-ms N      latest reply (5000)\n"
			"  --scores W0,...,W10   weights of scores 0..10 (2,1,1,1,2,3,10,12,18,20,30)\n"
			"  --alarm-rate P        share of comments that are alarming (0.1)\n"
			"  --stop-rate P         share of replies that are STOP/СТОП/ОТПИСКА (0.01)\n"
			"  --garbage-rate P      share of unparseable replies (0.02)\n"
			"  --mo-concat STYLE     long replies: mix|udh8|udh16|sar (mix)\n"
			"  --undeliv-rate P      share of msisdns unreachable: receipt UNDELIV,\n"
			"                        no reply (0)\n"
			"\n"
			"Control port commands (one line each, answered 'ok ...' or 'error ...'):\n"
			"  stats | throttle N | qfull N | reject N STATUS | drop | hang on|off |\n"
			"  garbage | nack SEQ | mo MSISDN SHORTCODE TEXT... | reset | help\n");
}

static int
parse_int(const char *s, int min, int *out)
{
	char	   *end;
	long		v = strtol(s, &end, 10);

	if (end == s || *end || v < min || v > 2147483647L)
		return -1;
	*out = (int) v;
	return 0;
}

static int
parse_rate(const char *s, double *out)
{
	char	   *end;
	double		v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 1)
		return -1;
	*out = v;
	return 0;
}

static void
parse_options(int argc, char **argv)
{
	enum
	{
		O_PORT = 256, O_CONTROL, O_SYSID, O_PASSWORD, O_IDFMT, O_RDELAY,
		O_DTIMEOUT, O_REDELIVER, O_REQUEUE, O_ENQUIRE, O_WINDOW, O_SINK, O_LOG,
		O_VERBOSE, O_SEED, O_RRATE, O_RMIN, O_RMAX, O_SCORES, O_ALARM,
		O_STOP, O_GARBAGE, O_MOCONCAT, O_UNDELIV, O_HELP
	};
	static const struct option longopts[] = {
		{"port", required_argument, NULL, O_PORT},
		{"control-port", required_argument, NULL, O_CONTROL},
		{"system-id", required_argument, NULL, O_SYSID},
		{"password", required_argument, NULL, O_PASSWORD},
		{"id-format", required_argument, NULL, O_IDFMT},
		{"receipt-delay-ms", required_argument, NULL, O_RDELAY},
		{"deliver-timeout-ms", required_argument, NULL, O_DTIMEOUT},
		{"redeliver-ms", required_argument, NULL, O_REDELIVER},
		{"requeue-ms", required_argument, NULL, O_REQUEUE},
		{"enquire-ms", required_argument, NULL, O_ENQUIRE},
		{"window", required_argument, NULL, O_WINDOW},
		{"sink", no_argument, NULL, O_SINK},
		{"log", required_argument, NULL, O_LOG},
		{"verbose", no_argument, NULL, O_VERBOSE},
		{"seed", required_argument, NULL, O_SEED},
		{"reply-rate", required_argument, NULL, O_RRATE},
		{"reply-min-ms", required_argument, NULL, O_RMIN},
		{"reply-max-ms", required_argument, NULL, O_RMAX},
		{"scores", required_argument, NULL, O_SCORES},
		{"alarm-rate", required_argument, NULL, O_ALARM},
		{"stop-rate", required_argument, NULL, O_STOP},
		{"garbage-rate", required_argument, NULL, O_GARBAGE},
		{"mo-concat", required_argument, NULL, O_MOCONCAT},
		{"undeliv-rate", required_argument, NULL, O_UNDELIV},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0}
	};
	int			o,
				bad = 0;

	while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		const char *a = optarg;

		switch (o)
		{
			case O_PORT:
				bad |= parse_int(a, 0, &opt.port) < 0 || opt.port > 65535;
				break;
			case O_CONTROL:
				bad |= parse_int(a, 0, &opt.control_port) < 0 || opt.control_port > 65535;
				break;
			case O_SYSID:
				opt.system_id = a;
				bad |= strlen(a) > 15;
				break;
			case O_PASSWORD:
				opt.password = a;
				bad |= strlen(a) > 8;
				break;
			case O_IDFMT:
				opt.id_hex = strcmp(a, "hex") == 0;
				bad |= !opt.id_hex && strcmp(a, "dec") != 0;
				break;
			case O_RDELAY:
				bad |= parse_int(a, 0, &opt.receipt_delay_ms) < 0;
				opt.receipt_delay_set = 1;
				break;
			case O_DTIMEOUT:
				bad |= parse_int(a, 1, &opt.deliver_timeout_ms) < 0;
				break;
			case O_REDELIVER:
				bad |= parse_int(a, 0, &opt.redeliver_ms) < 0;
				break;
			case O_REQUEUE:
				bad |= parse_int(a, 0, &opt.requeue_ms) < 0;
				break;
			case O_ENQUIRE:
				bad |= parse_int(a, 0, &opt.enquire_ms) < 0;
				break;
			case O_WINDOW:
				bad |= parse_int(a, 1, &opt.window) < 0;
				break;
			case O_SINK:
				opt.sink = 1;
				break;
			case O_LOG:
				opt.log_path = a;
				break;
			case O_VERBOSE:
				opt.verbose = 1;
				break;
			case O_SEED:
				opt.sub.seed = strtoull(a, NULL, 10);
				break;
			case O_RRATE:
				bad |= parse_rate(a, &opt.sub.reply_rate) < 0;
				break;
			case O_RMIN:
				bad |= parse_int(a, 0, &opt.sub.reply_min_ms) < 0;
				break;
			case O_RMAX:
				bad |= parse_int(a, 0, &opt.sub.reply_max_ms) < 0;
				break;
			case O_SCORES:
				bad |= sub_parse_scores(a, opt.sub.scores) < 0;
				break;
			case O_ALARM:
				bad |= parse_rate(a, &opt.sub.alarm_rate) < 0;
				break;
			case O_STOP:
				bad |= parse_rate(a, &opt.sub.stop_rate) < 0;
				break;
			case O_GARBAGE:
				bad |= parse_rate(a, &opt.sub.garbage_rate) < 0;
				break;
			case O_UNDELIV:
				bad |= parse_rate(a, &opt.sub.undeliv_rate) < 0;
				break;
			case O_MOCONCAT:
				opt.mo_concat = strcmp(a, "udh8") == 0 ? MO_UDH8 :
					strcmp(a, "udh16") == 0 ? MO_UDH16 :
					strcmp(a, "sar") == 0 ? MO_SAR :
					strcmp(a, "mix") == 0 ? MO_MIX : -1;
				bad |= opt.mo_concat < 0;
				break;
			case O_HELP:
				usage(stdout);
				exit(0);
			default:
				bad = 1;
		}
		if (bad)
		{
			if (o != '?')
				fprintf(stderr, "nps-smsc-sim: bad value for --%s: %s\n",
						longopts[o - O_PORT].name, a ? a : "");
			fprintf(stderr, "Try 'nps-smsc-sim --help'.\n");
			exit(2);
		}
	}
	if (optind < argc || opt.sub.reply_max_ms < opt.sub.reply_min_ms)
	{
		fprintf(stderr, "nps-smsc-sim: %s\n", optind < argc ?
				"unexpected argument" : "--reply-max-ms is below --reply-min-ms");
		exit(2);
	}
	if (opt.sink && !opt.receipt_delay_set)
		opt.receipt_delay_ms = 0;
}

static int
listen_on(int *port, void *tag, const char *what)
{
	struct epoll_event e;
	int			fd = net_listen(port);

	if (fd < 0)
	{
		fprintf(stderr, "nps-smsc-sim: cannot listen on 127.0.0.1:%d for %s: %s\n",
				*port, what, strerror(errno));
		exit(1);
	}
	e.events = EPOLLIN;
	e.data.ptr = tag;
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	return fd;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;

	parse_options(argc, argv);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opt.log_path && (submit_log = fopen(opt.log_path, "a")) == NULL)
	{
		fprintf(stderr, "nps-smsc-sim: cannot open %s: %s\n", opt.log_path,
				strerror(errno));
		return 1;
	}
	if (submit_log)
		setvbuf(submit_log, NULL, _IOFBF, 1 << 16);

	epfd = epoll_create1(0);
	now = now_ms();
	/* ids unique across restarts, so a test never sees one twice */
	next_msgid = (uint64_t) wall_ms();
	listen_fd = listen_on(&opt.port, &tag_listen, "SMPP");
	printf("listening on 127.0.0.1:%d\n", opt.port);
	if (opt.control_port >= 0)
	{
		control_fd = listen_on(&opt.control_port, &tag_control, "control");
		printf("control on 127.0.0.1:%d\n", opt.control_port);
	}
	fflush(stdout);

	while (!stop_requested)
		loop_once(wait_ms());

	say("stopping");
	shutdown_all();
	close(listen_fd);
	if (control_fd >= 0)
		close(control_fd);
	if (submit_log)
		fclose(submit_log);
	return 0;
}
