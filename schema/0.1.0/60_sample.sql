-- Sample data: a realistic operator network and its visits, deterministic for
-- a seed.  The demo, the tests and the benchmarks use it.

-- Uniform in [0, 1), a pure function of (seed, n, salt): the same seed gives
-- the same network on every run and every machine.
CREATE FUNCTION nps.sample_random(seed bigint, n bigint, salt text) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ((hashtextextended(salt || ':' || n, seed) >> 11) & 4503599627370495)::float8 / 4503599627370496.0
$$;
COMMENT ON FUNCTION nps.sample_random(bigint, bigint, text) IS
    'Deterministic pseudo-random number in [0,1) for sample data';

CREATE FUNCTION nps.sample_name(seed bigint, n bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (ARRAY['Иванов','Смирнов','Кузнецов','Попов','Васильев','Петров','Соколов','Михайлов',
                  'Новиков','Фёдоров','Морозов','Волков','Алексеев','Лебедев','Семёнов','Егоров'])
               [1 + floor(nps.sample_random(seed, n, 'surname') * 16)::int]
           || ' ' ||
           (ARRAY['Александр','Мария','Дмитрий','Анна','Сергей','Елена','Андрей','Ольга',
                  'Алексей','Татьяна','Максим','Наталья','Иван','Ирина','Павел','Юлия'])
               [1 + floor(nps.sample_random(seed, n, 'first') * 16)::int]
$$;

CREATE FUNCTION nps.generate_network(
    p_seed integer DEFAULT 1,
    p_regions integer DEFAULT 13,
    p_dealers integer DEFAULT 60,
    p_salons integer DEFAULT 240,
    p_office_share double precision DEFAULT 0.2)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    n_regions integer;
BEGIN
    IF p_regions < 1 OR p_dealers < 1 OR p_salons < 1 THEN
        RAISE EXCEPTION 'network sizes must be positive'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('regions %s, dealers %s, salons %s', p_regions, p_dealers, p_salons);
    END IF;

    -- Kaliningrad, Moscow, Novosibirsk and Kamchatka come first so that even a
    -- small network spans the country.
    INSERT INTO nps.region (code, name, time_zone)
    SELECT code, name, tz FROM (VALUES
        (1,  'KGD', 'Калининградская область', 'Europe/Kaliningrad'),
        (2,  'MOW', 'Москва',                  'Europe/Moscow'),
        (3,  'NVS', 'Новосибирская область',   'Asia/Novosibirsk'),
        (4,  'KAM', 'Камчатский край',         'Asia/Kamchatka'),
        (5,  'SPE', 'Санкт-Петербург',         'Europe/Moscow'),
        (6,  'SAM', 'Самарская область',       'Europe/Samara'),
        (7,  'SVE', 'Свердловская область',    'Asia/Yekaterinburg'),
        (8,  'OMS', 'Омская область',          'Asia/Omsk'),
        (9,  'KYA', 'Красноярский край',       'Asia/Krasnoyarsk'),
        (10, 'IRK', 'Иркутская область',       'Asia/Irkutsk'),
        (11, 'SA',  'Республика Саха (Якутия)', 'Asia/Yakutsk'),
        (12, 'PRI', 'Приморский край',         'Asia/Vladivostok'),
        (13, 'MAG', 'Магаданская область',     'Asia/Magadan')) AS r(ord, code, name, tz)
    WHERE ord <= p_regions
    ON CONFLICT (code) DO NOTHING;
    n_regions := least(p_regions, 13);

    INSERT INTO nps.dealer (code, name, region_code)
    SELECT format('D%s', lpad(d::text, 3, '0')),
           format('Дилер %s', lpad(d::text, 3, '0')),
           (SELECT code FROM nps.region ORDER BY code
            OFFSET (d - 1) % n_regions LIMIT 1)
    FROM generate_series(1, p_dealers) d
    ON CONFLICT (code) DO NOTHING;

    -- A salon is an own office with probability p_office_share; a dealer
    -- salon lies in its dealer's region.
    INSERT INTO nps.salon (code, name, dealer_code, region_code)
    SELECT format('S%s', lpad(s::text, 4, '0')),
           format('Салон %s', lpad(s::text, 4, '0')),
           CASE WHEN own THEN NULL ELSE d.code END,
           CASE WHEN own THEN (SELECT code FROM nps.region ORDER BY code OFFSET (s - 1) % n_regions LIMIT 1)
                ELSE d.region_code END
    FROM (SELECT s, nps.sample_random(p_seed, s, 'office') < p_office_share AS own,
                 1 + floor(nps.sample_random(p_seed, s, 'dealer') * p_dealers)::int AS dealer_no
          FROM generate_series(1, p_salons) s) x
    JOIN nps.dealer d ON d.code = format('D%s', lpad(x.dealer_no::text, 3, '0'))
    ON CONFLICT (code) DO NOTHING;

    -- The contact centre sits in Moscow when the network has it.
    INSERT INTO nps.salon (code, name, dealer_code, region_code)
    SELECT 'CC', 'Контактный центр', NULL, code FROM nps.region
    ORDER BY code = 'MOW' DESC, code LIMIT 1
    ON CONFLICT (code) DO NOTHING;

    INSERT INTO nps.staff (login, full_name, role, salon_code)
    SELECT format('spec-%s-%s', s.code, k), nps.sample_name(p_seed, hashtext(s.code) + k), 'specialist', s.code
    FROM nps.salon s, generate_series(1, 3) k
    UNION ALL
    SELECT format('mgr-%s', s.code), nps.sample_name(p_seed, hashtext(s.code) + 10), 'salon_manager', s.code
    FROM nps.salon s
    ON CONFLICT (login) DO NOTHING;

    INSERT INTO nps.staff (login, full_name, role, dealer_code)
    SELECT format('dealer-%s', d.code), nps.sample_name(p_seed, hashtext(d.code)), 'dealer_manager', d.code
    FROM nps.dealer d
    ON CONFLICT (login) DO NOTHING;

    INSERT INTO nps.staff (login, full_name, role, region_code)
    SELECT format('region-%s', r.code), nps.sample_name(p_seed, hashtext(r.code)), 'region_manager', r.code
    FROM nps.region r
    ON CONFLICT (login) DO NOTHING;

    INSERT INTO nps.staff (login, full_name, role)
    VALUES ('vp-cx', nps.sample_name(p_seed, 1), 'vp_cx'), ('ceo', nps.sample_name(p_seed, 2), 'ceo')
    ON CONFLICT (login) DO NOTHING;

    RETURN format('%s regions, %s dealers, %s salons, %s staff',
                  (SELECT count(*) FROM nps.region), (SELECT count(*) FROM nps.dealer),
                  (SELECT count(*) FROM nps.salon), (SELECT count(*) FROM nps.staff));
END $$;
COMMENT ON FUNCTION nps.generate_network(integer, integer, integer, integer, double precision) IS
    'Creates a sample network (regions across the Russian time zones, dealers, salons, own offices, a contact centre, staff); deterministic for a seed, idempotent';

CREATE FUNCTION nps.generate_visits(
    p_count integer,
    p_from timestamptz,
    p_until timestamptz,
    p_seed integer DEFAULT 1,
    p_subscribers integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    salons text[];
    kinds text[];
    n bigint;
BEGIN
    IF p_until <= p_from THEN
        RAISE EXCEPTION 'visit period is empty'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('from %s until %s', p_from, p_until);
    END IF;
    SELECT array_agg(code ORDER BY code), array_agg(kind ORDER BY code)
      INTO salons, kinds FROM nps.salon;
    IF salons IS NULL THEN
        RAISE EXCEPTION 'no salons to visit'
            USING ERRCODE = 'no_data_found', HINT = 'Run nps.generate_network() first.';
    END IF;

    -- Subscribers are drawn from a pool five times the number of visits, so
    -- about one customer in ten comes twice (the fatigue rule then applies).
    INSERT INTO nps.visit (msisdn, salon_code, occurred_at, channel, specialist, external_ref)
    SELECT '79' || lpad((floor(nps.sample_random(p_seed, floor(nps.sample_random(p_seed, i, 'who')
                          * coalesce(p_subscribers, greatest(p_count * 5, 1)))::bigint, 'msisdn')
                          * 1e9))::text, 9, '0'),
           salons[si],
           p_from + (p_until - p_from) * nps.sample_random(p_seed, i, 'when'),
           CASE WHEN salons[si] = 'CC' THEN 'contact_centre' ELSE kinds[si] END,
           CASE WHEN salons[si] = 'CC' THEN NULL
                ELSE format('spec-%s-%s', salons[si], 1 + floor(nps.sample_random(p_seed, i, 'spec') * 3)::int) END,
           format('gen-%s-%s', p_seed, i)
    FROM (SELECT i, 1 + floor(nps.sample_random(p_seed, i, 'salon') * array_length(salons, 1))::int AS si
          FROM generate_series(1, p_count) i) x
    ON CONFLICT (external_ref) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION nps.generate_visits(integer, timestamptz, timestamptz, integer, integer) IS
    'Inserts p_count sample visits spread over [p_from, p_until); deterministic for a seed; a second run with the same seed adds nothing (external_ref)';
