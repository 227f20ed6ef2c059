-- Touchpoints: a connection or a service that earns the customer a survey.

CREATE TABLE nps.visit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    msisdn       text NOT NULL CHECK (msisdn ~ '^7[0-9]{10}$'),
    salon_code   text NOT NULL REFERENCES nps.salon ON UPDATE CASCADE,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    channel      text NOT NULL DEFAULT 'dealer'
                 CHECK (channel IN ('dealer', 'office', 'contact_centre')),
    specialist   text,
    external_ref text UNIQUE,
    loaded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON nps.visit (msisdn, occurred_at);
CREATE INDEX ON nps.visit (salon_code, occurred_at);
CREATE TRIGGER visit_normalize_msisdn BEFORE INSERT OR UPDATE OF msisdn ON nps.visit
    FOR EACH ROW EXECUTE FUNCTION nps.normalize_msisdn_trigger();
COMMENT ON TABLE nps.visit IS 'Touchpoints: a customer connected or served in a dealer salon, an own office or the contact centre';
COMMENT ON COLUMN nps.visit.id IS 'Visit id (key)';
COMMENT ON COLUMN nps.visit.msisdn IS 'Customer phone number, normalised to 7XXXXXXXXXX (raw: hidden from analysts)';
COMMENT ON COLUMN nps.visit.salon_code IS 'Salon, office or contact centre that served the customer';
COMMENT ON COLUMN nps.visit.occurred_at IS 'When the customer was served';
COMMENT ON COLUMN nps.visit.channel IS 'dealer, office or contact_centre';
COMMENT ON COLUMN nps.visit.specialist IS 'Login of the specialist who served the customer (nps.staff.login), when known';
COMMENT ON COLUMN nps.visit.external_ref IS 'Id of the visit in the source system; unique, so a visit loaded twice is one visit';
COMMENT ON COLUMN nps.visit.loaded_at IS 'When the row reached nps';
