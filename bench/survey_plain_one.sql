-- pgbench script: the baseline for survey_reply_one.sql, the same row into a plain table.
INSERT INTO plain_inbox (msisdn, short_code, body) SELECT msisdn, short_code, body FROM reply_stream WHERE id = nextval('plain_seq');
