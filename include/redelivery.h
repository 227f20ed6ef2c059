/*
 * redelivery.h: which stored replies the SMSC may deliver again
 * (src/redelivery.c); used by smpp_session.c and inbox_store.c.
 */
#ifndef NPS_REDELIVERY_H
#define NPS_REDELIVERY_H

#include "nps_worker.h"

extern void redelivery_stored(SmppConn *c, uint32 generation, int64 inbox_id);
extern void redelivery_response(SmppConn *c, uint32 seq);
extern bool redelivery_barrier_due(SmppConn *c, TimestampTz now);
extern void redelivery_connection_lost(void);
extern void redelivery_bound(TimestampTz now);
extern void redelivery_add_candidate(int64 inbox_id, TimestampTz lost_at);
extern bool redelivery_in_doubt(void);
extern bool redelivery_candidates(Datum *ids, Datum *lost_at);
extern bool redelivery_watermark(int64 *mark);
extern void redelivery_txn_end(bool committed);
extern bool redelivery_held(Datum *ids);
extern void redelivery_barrier_now(void);
extern bool redelivery_may_send(uint32 claim_seq);

#endif							/* NPS_REDELIVERY_H */
