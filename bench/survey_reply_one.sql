-- pgbench script: one reply per transaction through nps.receive, as the
-- worker records a deliver_sm (the stream row comes by sequence, one client).
SELECT nps.receive(msisdn, short_code, body) FROM reply_stream WHERE id = nextval('stream_seq');
