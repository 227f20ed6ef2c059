/*
 * nps_worker.h: the SMPP worker's internals, shared by worker.c (loop and
 * timers), smpp_session.c (connections, framing, binds), sender.c (window,
 * rate, retries), receiver.c (deliver_sm / data_sm), outbox_store.c and
 * inbox_store.c (SPI).  One worker process serves one bind; everything
 * here is process-local except the slot in shared memory.
 */
#ifndef NPS_WORKER_H
#define NPS_WORKER_H

#include "nps.h"

#include "lib/ilist.h"
#include "nodes/pg_list.h"
#include "storage/latch.h"
#include "utils/hsearch.h"

#include "smpp_frame.h"
#include "smpp_pdu.h"

typedef enum LongMessage
{
	LM_UDH,
	LM_SAR,
	LM_PAYLOAD
} LongMessage;

/* A row of nps.smsc, read once at start: a change restarts the worker. */
typedef struct BindConfig
{
	char		name[NPS_NAME_LEN];
	char		host[256];
	int			port;
	char		system_id[16];
	char		password[9];
	char		system_type[13];
	bool		transceiver;	/* else transmitter + receiver */
	int			window_size;
	int			max_parts_per_second;	/* 0: no limit */
	int			source_ton;
	int			source_npi;
	int			dest_ton;
	int			dest_npi;
	LongMessage long_message;
	int			enquire_ms;
	int			response_ms;
	int			reconnect_min_ms;
	int			reconnect_max_ms;
} BindConfig;

typedef enum ConnState
{
	CS_DOWN,
	CS_CONNECTING,
	CS_BINDING,
	CS_BOUND,
	CS_UNBINDING
} ConnState;

/* One TCP connection with its SMPP bind */
typedef struct SmppConn
{
	const char *role;			/* transceiver, transmitter, receiver */
	uint32		bind_command;
	bool		sends;			/* carries submit_sm */
	bool		receives;		/* carries deliver_sm */
	int			fd;
	uint32		generation;		/* counts connections */
	ConnState	state;
	int			wes_pos;		/* position in the wait event set, -1 */
	int			wes_events;		/* events asked for there */
	uint8	   *in;				/* bytes read, not yet a whole PDU */
	size_t		in_len;
	uint8	   *out;			/* bytes to write */
	size_t		out_len;
	size_t		out_off;
	size_t		out_cap;
	uint32		req_seq;		/* outstanding bind/enquire_link/unbind */
	TimestampTz req_deadline;	/* 0: none outstanding */
	TimestampTz last_rx;		/* for enquire_link when idle */
} SmppConn;

/* A message claimed from nps.outbox, and its SMS parts */
typedef struct OutMsg OutMsg;

typedef struct OutPart
{
	OutMsg	   *msg;
	int			part_no;		/* from 1 */
	uint8	   *pdu;			/* encoded submit_sm; sequence patched at send */
	int			pdu_len;
	uint32		seq;			/* 0 while not on the wire */
	uint64		ordinal;		/* send order, so retries keep it */
	TimestampTz sent_at;		/* last put on the wire */
	TimestampTz deadline;
	char		message_id[SMPP_MSGID_MAX + 1];
	bool		accepted;
	int			where;			/* PQ_NONE, PQ_SEND, PQ_RETRY or PQ_FLIGHT */
	dlist_node	node;			/* in that list */
} OutPart;

#define PQ_NONE		0
#define PQ_SEND		1
#define PQ_RETRY	2
#define PQ_FLIGHT	3

struct OutMsg
{
	int64		id;
	int			nparts;
	int			answered;		/* parts with a final response */
	bool		failed;
	bool		sent_any;		/* a part went on the wire: a requeue may duplicate */
	bool		releasing;		/* collected by sender_release_unsent */
	uint32		claim_seq;		/* last request sequence issued when claimed */
	uint32		error_code;
	OutPart    *parts;
	struct StoredReceipt *receipt;	/* came in the same batch as the resp */
};

/* A reply (or one part of a concatenated reply) to store */
typedef struct StoredMo
{
	char		msisdn[66];
	char		short_code[66];
	int			data_coding;	/* NPS_DC_GSM7, NPS_DC_LATIN1 or NPS_DC_UCS2 */
	bytea	   *payload;		/* encoded text, UDH removed */
	int			ref;			/* concatenation, total 0 when single */
	int			total;
	int			seq;
	TimestampTz received_at;
	int			resp;			/* index in W->resps */
} StoredMo;

/* A delivery receipt to apply */
typedef struct StoredReceipt
{
	char		message_id[SMPP_MSGID_MAX + 1];
	bool		delivered;
	int			error_code;
	TimestampTz received_at;
	int			resp;
	bool		merged;			/* recorded with its message's submit result */
} StoredReceipt;

/* Receipt / MO results waiting for the next store transaction */
typedef struct PendingResp
{
	SmppConn   *conn;
	uint32		conn_generation;
	uint32		command_id;		/* deliver_sm_resp or data_sm_resp */
	uint32		seq;
	uint32		status;
} PendingResp;

typedef struct Worker
{
	BindConfig	cfg;
	NpsBindSlot *slot;
	SmppConn	conns[2];
	int			nconns;
	WaitEventSet *wes;
	bool		wes_dirty;		/* sockets changed: rebuild the set */

	uint32		next_seq;
	unsigned	next_ref;		/* concatenation reference */
	uint64		next_ordinal;

	/* session */
	int			reconnect_attempt;
	TimestampTz reconnect_at;	/* when DOWN: next attempt */
	bool		ever_connected;
	bool		draining;		/* SIGTERM: stop sending, unbind */
	TimestampTz drain_deadline;

	/* sending */
	dlist_head	sendq;			/* parts claimed, not sent yet */
	int			sendq_len;
	dlist_head	retryq;			/* throttled parts, in ordinal order */
	int			retryq_len;
	dlist_head	inflight;		/* sent, by deadline (= send order) */
	int			inflight_len;
	HTAB	   *window;			/* seq -> OutPart */
	double		tokens;			/* rate limit bucket, parts */
	TimestampTz tokens_at;
	TimestampTz paused_until;	/* after ESME_RTHROTTLED / ESME_RMSGQFUL */
	TimestampTz pause_from;		/* when the last pause began */
	TimestampTz pause_lifted;	/* when the last pause ended */
	int			throttle_streak;	/* pauses since a part was accepted */
	bool		outbox_maybe;	/* a claim may find rows */
	int64		claim_after;	/* claim ids above this (0: from the start) */
	TimestampTz next_poll;		/* claim anyway then (not_before rows) */
	MemoryContext msg_cxt;

	/* results waiting for the store transaction */
	List	   *done_ok;		/* OutMsg * accepted */
	List	   *done_failed;	/* OutMsg * refused */
	List	   *requeue;		/* int64 ids whose outcome is unknown */
	int			requeue_unsent; /* of those, never on the wire */
	List	   *mo;				/* StoredMo * */
	List	   *receipts;		/* StoredReceipt * */
	PendingResp *resps;			/* to send after commit */
	int			nresps;
	int			resps_cap;
	MemoryContext batch_cxt;
	List	   *claimed;		/* OutMsg * claimed by the open transaction */
	TimestampTz store_retry_at; /* the last one failed: retry then (else 0) */
} Worker;

extern Worker *W;

/* worker.c */
extern void worker_note_error(const char *fmt,...) pg_attribute_printf(1, 2);
extern uint32 worker_next_seq(void);
extern int	worker_queue_resp(SmppConn *c, uint32 command_id, uint32 seq, uint32 status);

/* smpp_session.c */
extern void session_init(void);
extern void session_start_connect(void);
extern void session_on_connected(SmppConn *c);
extern bool session_read(SmppConn *c);
extern bool session_flush(SmppConn *c);
extern void session_send(SmppConn *c, const uint8 *pdu, size_t len);
extern void session_send_header(SmppConn *c, uint32 id, uint32 status, uint32 seq);
extern void session_close_all(const char *why);
extern void session_timers(TimestampTz now);
extern void session_unbind(void);
extern void session_barrier(SmppConn *c);
extern bool session_bound(void);
extern SmppConn *session_tx(void);
extern bool session_all_down(void);

/* sender.c */
extern void sender_init(void);
extern void sender_free_msg(OutMsg *m);
extern void sender_claimed(int64 id, const char *msisdn, const char *source_addr, const char *body);
extern void sender_pump(TimestampTz now);
extern bool sender_awaits(uint32 seq);
extern void sender_on_resp(const smpp_header *h, const uint8 *pdu);
extern bool sender_on_nack(uint32 seq, uint32 status);
extern void sender_check_timeouts(TimestampTz now);
extern void sender_connection_lost(void);
extern void sender_release_unsent(void);
extern void sender_unclaim(void);
extern int	sender_claim_wanted(void);
extern long sender_wait_ms(TimestampTz now);
extern bool sender_idle(void);

/* receiver.c */
extern void receiver_on_mo(SmppConn *c, const smpp_header *h, const uint8 *pdu);
extern int	receipt_id_candidates(const char *id, char cands[][SMPP_MSGID_MAX + 1], int max);

/* outbox_store.c */
extern void store_load_config(const char *name);
extern void store_record_and_claim(int claim_limit);

/* store_txn.c */
extern void store_flush(int claim_limit);

/* inbox_store.c */
extern void inbox_store_prepare(void);
extern void inbox_store_flush(void);
extern void inbox_store_committed(void);
extern void inbox_store_doubt_at_start(void);

#endif							/* NPS_WORKER_H */
