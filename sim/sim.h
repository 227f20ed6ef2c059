/*-------------------------------------------------------------------------
 *
 * sim.h
 *	  Shared state of nps-smsc-sim.  One thread, one epoll loop: the
 *	  globals below are only touched from it.
 *
 *	  smsc_sim.c	options, event loop, shutdown
 *	  conn.c		ESME connections and the PDUs they send
 *	  deliver.c		receipts and subscriber messages owed to ESMEs
 *	  control.c		the control port
 *
 *-------------------------------------------------------------------------
 */
#ifndef NPS_SIM_H
#define NPS_SIM_H

#include <stdint.h>
#include <stdio.h>

#include "net.h"
#include "pdu.h"
#include "store.h"
#include "subscriber.h"
#include "text_codec.h"

#define MAX_SYSTEMS		64
#define OUT_PAUSE		(8 << 20)	/* stop reading a peer that does not read */
#define OUT_RESUME		(1 << 20)
#define CONTROL_LINE_MAX 65536
#define SIM_SYSTEM_ID	"npssim"

/*
 * Octets read from one ESME per loop turn: about half a window of 100
 * submit_sm, so responses to the first half go out while the ESME is
 * still sending the second.  Reading whole windows makes the two sides
 * take turns instead (measured: ~60k/s against ~140k/s with 4 KiB).
 */
#define ESME_READ_MAX	4096

#define BIND_TX		1
#define BIND_RX		2

/* MO concatenation styles */
#define MO_MIX		0
#define MO_UDH8		1
#define MO_UDH16	2
#define MO_SAR		3

typedef struct options
{
	int			port;
	int			control_port;	/* -1: no control port */
	const char *system_id;		/* NULL: any */
	const char *password;		/* NULL: any */
	int			id_hex;
	int			receipt_delay_ms;
	int			receipt_delay_set;
	int			deliver_timeout_ms;
	int			redeliver_ms;
	int			requeue_ms;		/* pause before what a lost connection had in flight */
	int			enquire_ms;
	int			window;
	int			sink;
	int			mo_concat;
	const char *log_path;
	int			verbose;
	sub_config	sub;
} options;

/* counters the control port's "stats" prints, in this order */
typedef struct stats
{
	uint64_t	binds,
				submits,
				submit_parts,
				messages,
				unique_messages,
				duplicates,
				receipts_sent,
				receipts_acked,
				mo_messages,
				mo_sent,
				mo_acked,
				redeliveries,
				deliver_errors,
				deliver_timeouts,
				throttled,
				qfull,
				rejected,
				generic_nacks,
				undecodable,
				concat_dropped;
} stats;

typedef struct conn
{
	struct conn *next;
	int			fd;
	uint32_t	id;
	int			control;		/* control-port client, not an ESME */
	int			bind;			/* BIND_TX | BIND_RX bits */
	int			sys;			/* systems[] index once bound */
	netbuf		in,
				out;
	uint32_t	seq;			/* last sequence_number we used */
	int			inflight;		/* our deliver_sm awaiting a resp */
	int64_t		last_enquire;
	int			closing;		/* close once out is flushed */
	int			dead;			/* fd closed; freed at the end of the loop */
	uint32_t	events;			/* what epoll watches now */
} conn;

/* deliveries waiting for a session of one system_id */
typedef struct sysq
{
	char		name[16];
	dlist		q;
} sysq;

/* smsc_sim.c */
extern options opt;
extern stats st;
extern int64_t now;				/* CLOCK_MONOTONIC ms, set each loop turn */
extern int	hang;				/* control "hang on": read and send nothing */
extern int	epfd;
extern void say(const char *fmt,...);
extern int64_t wall_ms(void);

/* conn.c */
extern conn *conns;				/* newest first */
extern int	n_esme;
extern FILE *submit_log;
extern uint64_t next_msgid;
extern int	inj_throttle,
			inj_qfull,
			inj_reject;
extern uint32_t inj_reject_status;
extern conn *conn_new(int fd, int control);
extern void conn_kill(conn *c);
extern void conns_sweep(void);
extern void watch(conn *c);
extern uint32_t conn_seq(conn *c);
extern void send_header(conn *c, uint32_t id, uint32_t status, uint32_t seq);
extern void read_esme(conn *c);

/* deliver.c */
extern sysq systems[MAX_SYSTEMS];
extern int	n_systems;
extern dheap timers;			/* deliveries not due yet */
extern dlist inflight;			/* sent, awaiting resp; oldest first */
extern u64set seen;				/* hashes of (source, dest, text) */
extern int	system_index(const char *name);
extern void requeue_inflight(conn *c);
extern void pump(void);
extern void delivery_answered(conn *c, uint32_t seq, uint32_t status);
extern void check_timeouts(void);
extern void run_timers(void);
extern void make_receipt(int sys, const pdu_sm *sub, const char *msgid,
						 const char *part_text);
extern int	make_mo(int sys, const char *msisdn, const char *shortcode,
					uint8_t sc_ton, uint8_t sc_npi, const char *text, int style,
					int64_t due);
extern int	decode(int dc, const uint8_t *p, size_t len, char **out);
extern void message_complete(int sys, const pdu_sm *meta, const uint8_t *bytes,
							 size_t len, char *text);
extern void reasm_add(int sys, const pdu_sm *p, int style, unsigned ref,
					  int total, int seq, const uint8_t *data, size_t len);
extern void reasm_expire(int force_oldest);

/* control.c */
extern void read_control(conn *c);

#endif							/* NPS_SIM_H */
