-- Reference data: regions, dealers, salons, staff and the feedback hierarchy.

CREATE TABLE nps.region (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name        text NOT NULL,
    time_zone   text NOT NULL CHECK (nps.check_time_zone(time_zone)),
    send_from   time NOT NULL DEFAULT '10:00',
    send_until  time NOT NULL DEFAULT '21:00',
    CHECK (send_from < send_until)
);
COMMENT ON TABLE nps.region IS 'Operator regions; each has its IANA time zone (Russia spans Kaliningrad UTC+2 to Kamchatka UTC+12)';
COMMENT ON COLUMN nps.region.code IS 'Region code (key)';
COMMENT ON COLUMN nps.region.name IS 'Region name';
COMMENT ON COLUMN nps.region.time_zone IS 'IANA time zone of the region; period boundaries and sending hours are local to it';
COMMENT ON COLUMN nps.region.send_from IS 'Earliest local time a survey SMS may be sent in this region';
COMMENT ON COLUMN nps.region.send_until IS 'Latest local time a survey SMS may be sent in this region';

CREATE TABLE nps.dealer (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name        text NOT NULL,
    region_code text NOT NULL REFERENCES nps.region ON UPDATE CASCADE
);
CREATE INDEX ON nps.dealer (region_code);
COMMENT ON TABLE nps.dealer IS 'Dealers: partner companies that run dealer salons';
COMMENT ON COLUMN nps.dealer.code IS 'Dealer code (key)';
COMMENT ON COLUMN nps.dealer.name IS 'Dealer name';
COMMENT ON COLUMN nps.dealer.region_code IS 'Home region of the dealer';

CREATE TABLE nps.salon (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name        text NOT NULL,
    dealer_code text REFERENCES nps.dealer ON UPDATE CASCADE,
    region_code text NOT NULL REFERENCES nps.region ON UPDATE CASCADE,
    kind        text NOT NULL GENERATED ALWAYS AS
                    (CASE WHEN dealer_code IS NULL THEN 'office' ELSE 'dealer' END) STORED
);
CREATE INDEX ON nps.salon (dealer_code);
CREATE INDEX ON nps.salon (region_code);
COMMENT ON TABLE nps.salon IS 'Points of service: dealer salons, own offices (no dealer) and contact centres';
COMMENT ON COLUMN nps.salon.code IS 'Salon code (key)';
COMMENT ON COLUMN nps.salon.name IS 'Salon name or address';
COMMENT ON COLUMN nps.salon.dealer_code IS 'Dealer that runs the salon; NULL for the operator''s own offices';
COMMENT ON COLUMN nps.salon.region_code IS 'Region of the salon; its time zone applies';
COMMENT ON COLUMN nps.salon.kind IS 'dealer (run by a dealer) or office (own office), derived from dealer_code';

-- The hierarchy that feedback climbs, lowest first.
CREATE TABLE nps.staff_role (
    role        text PRIMARY KEY,
    level       smallint NOT NULL UNIQUE,
    scope       text NOT NULL CHECK (scope IN ('salon', 'dealer', 'region', 'company')),
    title       text NOT NULL
);
INSERT INTO nps.staff_role VALUES
    ('specialist',     1, 'salon',   'Specialist'),
    ('salon_manager',  2, 'salon',   'Salon manager'),
    ('dealer_manager', 3, 'dealer',  'Dealer''s contact'),
    ('region_manager', 4, 'region',  'Regional director'),
    ('vp_cx',          5, 'company', 'VP customer experience'),
    ('ceo',            6, 'company', 'CEO');
COMMENT ON TABLE nps.staff_role IS 'Levels of the feedback hierarchy: specialist, salon manager, dealer, region, VP customer experience, CEO';
COMMENT ON COLUMN nps.staff_role.role IS 'Role name';
COMMENT ON COLUMN nps.staff_role.level IS 'Position in the hierarchy, 1 = specialist, 6 = CEO';
COMMENT ON COLUMN nps.staff_role.scope IS 'What a person in this role is responsible for: a salon, a dealer, a region or the company';
COMMENT ON COLUMN nps.staff_role.title IS 'Human-readable title';

CREATE TABLE nps.staff (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login       text NOT NULL UNIQUE,
    full_name   text NOT NULL,
    role        text NOT NULL REFERENCES nps.staff_role,
    salon_code  text REFERENCES nps.salon ON UPDATE CASCADE,
    dealer_code text REFERENCES nps.dealer ON UPDATE CASCADE,
    region_code text REFERENCES nps.region ON UPDATE CASCADE,
    email       text,
    active      boolean NOT NULL DEFAULT true,
    CONSTRAINT staff_scope_check CHECK (CASE
        WHEN role IN ('specialist', 'salon_manager') THEN salon_code IS NOT NULL
        WHEN role = 'dealer_manager' THEN dealer_code IS NOT NULL
        WHEN role = 'region_manager' THEN region_code IS NOT NULL
        ELSE true END)
);
CREATE INDEX ON nps.staff (salon_code) WHERE active;
CREATE INDEX ON nps.staff (dealer_code) WHERE active;
CREATE INDEX ON nps.staff (region_code) WHERE active;
COMMENT ON TABLE nps.staff IS 'People who receive feedback: specialists and every manager up to the CEO';
COMMENT ON COLUMN nps.staff.id IS 'Staff id (key)';
COMMENT ON COLUMN nps.staff.login IS 'Login, also the database role name where the person reads nps directly';
COMMENT ON COLUMN nps.staff.full_name IS 'Full name';
COMMENT ON COLUMN nps.staff.role IS 'Role in the hierarchy (nps.staff_role)';
COMMENT ON COLUMN nps.staff.salon_code IS 'Salon of a specialist or salon manager';
COMMENT ON COLUMN nps.staff.dealer_code IS 'Dealer of a dealer''s contact';
COMMENT ON COLUMN nps.staff.region_code IS 'Region of a regional director';
COMMENT ON COLUMN nps.staff.email IS 'Where notifications go';
COMMENT ON COLUMN nps.staff.active IS 'False once the person has left; kept for history';

-- Who is responsible for a salon at each level, lowest first; an own office
-- has no dealer level.  Escalation and row-level visibility both read this.
CREATE FUNCTION nps.hierarchy(p_salon_code text)
RETURNS TABLE (level smallint, role text, staff_id bigint, login text, full_name text)
LANGUAGE sql STABLE AS $$
    SELECT r.level, r.role, s.id, s.login, s.full_name
    FROM nps.salon sa
    JOIN nps.staff_role r ON r.level >= 2
    JOIN nps.staff s ON s.role = r.role AND s.active AND CASE r.scope
            WHEN 'salon'  THEN s.salon_code = sa.code
            WHEN 'dealer' THEN s.dealer_code = sa.dealer_code
            WHEN 'region' THEN s.region_code = sa.region_code
            ELSE true END
    WHERE sa.code = p_salon_code
    ORDER BY r.level, s.id
$$;
COMMENT ON FUNCTION nps.hierarchy(text) IS
    'Managers responsible for a salon at each level (salon manager, dealer, region, VP CX, CEO), lowest first';
