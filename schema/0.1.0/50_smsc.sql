-- SMSC binds.  The worker reads this table; passwords are for nps_admin only
-- (nothing here is granted to PUBLIC).

CREATE TABLE nps.smsc (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,32}$'),
    host          text NOT NULL DEFAULT '127.0.0.1',
    port          integer NOT NULL DEFAULT 2775 CHECK (port BETWEEN 1 AND 65535),
    system_id     text NOT NULL CHECK (length(system_id) <= 15),
    password      text NOT NULL DEFAULT '' CHECK (length(password) <= 8),
    system_type   text NOT NULL DEFAULT '' CHECK (length(system_type) <= 12),
    enabled       boolean NOT NULL DEFAULT true,
    bind_mode     text NOT NULL DEFAULT 'transceiver' CHECK (bind_mode IN ('transceiver', 'transmitter_receiver')),
    window_size   integer NOT NULL DEFAULT 100 CHECK (window_size BETWEEN 1 AND 10000),
    max_parts_per_second integer NOT NULL DEFAULT 0 CHECK (max_parts_per_second >= 0),
    source_ton    smallint NOT NULL DEFAULT 3 CHECK (source_ton BETWEEN 0 AND 6),
    source_npi    smallint NOT NULL DEFAULT 0 CHECK (source_npi IN (0, 1, 3, 4, 6, 8, 9, 10, 14, 18)),
    dest_ton      smallint NOT NULL DEFAULT 1 CHECK (dest_ton BETWEEN 0 AND 6),
    dest_npi      smallint NOT NULL DEFAULT 1 CHECK (dest_npi IN (0, 1, 3, 4, 6, 8, 9, 10, 14, 18)),
    long_message  text NOT NULL DEFAULT 'udh' CHECK (long_message IN ('udh', 'sar', 'payload')),
    enquire_link_interval interval NOT NULL DEFAULT '30 seconds',
    response_timeout      interval NOT NULL DEFAULT '10 seconds',
    reconnect_min interval NOT NULL DEFAULT '1 second',
    reconnect_max interval NOT NULL DEFAULT '60 seconds',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (reconnect_min <= reconnect_max)
);
CREATE TRIGGER smsc_touch BEFORE UPDATE ON nps.smsc
    FOR EACH ROW EXECUTE FUNCTION nps.touch_updated_at();
REVOKE ALL ON nps.smsc FROM PUBLIC;
COMMENT ON TABLE nps.smsc IS 'SMPP binds to SMSCs; the worker starts one session per enabled row and follows changes without a restart';
COMMENT ON COLUMN nps.smsc.name IS 'Bind name (key)';
COMMENT ON COLUMN nps.smsc.host IS 'SMSC host';
COMMENT ON COLUMN nps.smsc.port IS 'SMSC TCP port';
COMMENT ON COLUMN nps.smsc.system_id IS 'SMPP system_id';
COMMENT ON COLUMN nps.smsc.password IS 'SMPP password (readable by nps_admin only)';
COMMENT ON COLUMN nps.smsc.system_type IS 'SMPP system_type';
COMMENT ON COLUMN nps.smsc.enabled IS 'Whether the worker keeps this bind up';
COMMENT ON COLUMN nps.smsc.bind_mode IS 'transceiver (one connection) or transmitter_receiver (two)';
COMMENT ON COLUMN nps.smsc.window_size IS 'Outstanding submit_sm without a response, at most';
COMMENT ON COLUMN nps.smsc.max_parts_per_second IS 'Rate limit in SMS parts per second; 0 = none';
COMMENT ON COLUMN nps.smsc.source_ton IS 'TON of the short code (source_addr)';
COMMENT ON COLUMN nps.smsc.source_npi IS 'NPI of the short code (source_addr)';
COMMENT ON COLUMN nps.smsc.dest_ton IS 'TON of the subscriber number';
COMMENT ON COLUMN nps.smsc.dest_npi IS 'NPI of the subscriber number';
COMMENT ON COLUMN nps.smsc.long_message IS 'How long texts are split: udh (concatenation header), sar (SAR TLVs) or payload (one message_payload TLV)';
COMMENT ON COLUMN nps.smsc.enquire_link_interval IS 'Idle time before an enquire_link';
COMMENT ON COLUMN nps.smsc.response_timeout IS 'Time allowed for any response';
COMMENT ON COLUMN nps.smsc.reconnect_min IS 'First reconnect delay (doubles with jitter)';
COMMENT ON COLUMN nps.smsc.reconnect_max IS 'Longest reconnect delay';
COMMENT ON COLUMN nps.smsc.created_at IS 'When the bind was added';
COMMENT ON COLUMN nps.smsc.updated_at IS 'When the bind was last changed';
