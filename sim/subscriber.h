/*-------------------------------------------------------------------------
 *
 * subscriber.h
 *	  Simulated subscribers: what a customer texts back to a survey
 *	  question, decided from the question's wording.
 *
 *	  Answers are deterministic for a seed: they depend on (seed, msisdn,
 *	  question) only, not on timing, so a test run can be repeated.  Each
 *	  msisdn has a fixed "mood" (its 0-10 score), so one customer's answers
 *	  agree with each other.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NPS_SIM_SUBSCRIBER_H
#define NPS_SIM_SUBSCRIBER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sub_config
{
	uint64_t	seed;
	double		reply_rate;		/* share of questions answered at all */
	double		stop_rate;		/* share of answers that are STOP */
	double		garbage_rate;	/* share of answers nobody can parse */
	double		alarm_rate;		/* share of comments that are alarming */
	double		undeliv_rate;	/* share of msisdns that cannot be reached */
	double		scores[11];		/* weights of 0..10 */
	int			reply_min_ms;
	int			reply_max_ms;
} sub_config;

/* Deterministic generator (splitmix64) */
typedef struct sub_rng
{
	uint64_t	s;
} sub_rng;

extern uint64_t sub_hash(uint64_t h, const char *s);
extern uint64_t sub_next(sub_rng *r);
extern double sub_uniform(sub_rng *r);	/* [0, 1) */

/* 1 if this msisdn's handset is unreachable (receipts say UNDELIV) */
extern int	sub_unreachable(const sub_config *cfg, const char *msisdn);

/* Parses "w0,w1,...,w10"; 0 or -1 */
extern int	sub_parse_scores(const char *s, double *w);

/*
 * What the subscriber answers to question (UTF-8).  Returns 1 with the
 * reply in reply[] and the delay in *delay_ms, 0 when there is no answer
 * (thank-you text, or the subscriber stays silent).  *rng is seeded for
 * this (msisdn, question) and may be used further by the caller.
 */
extern int	sub_reply(const sub_config *cfg, const char *msisdn,
					  const char *question, char *reply, size_t replysize,
					  int *delay_ms, sub_rng *rng);

#endif							/* NPS_SIM_SUBSCRIBER_H */
