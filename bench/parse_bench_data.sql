-- The benchmark's workload: 100,000 replies (temp table bench_reply) drawn
-- from 33 typical ones, a third with noise added; deterministic for the seed.
\set ON_ERROR_STOP on
SELECT setseed(0.2024);
CREATE TEMP TABLE bench_reply AS
SELECT g AS id, t.kind,
       CASE WHEN random() < 0.3 THEN t.body || ' ' || (ARRAY['!', ')))', '👍', 'спасибо', '...'])[1 + g % 5]
            ELSE t.body END AS body
FROM generate_series(1, 100000) g
JOIN (SELECT row_number() OVER () - 1 AS n, kind, body FROM (VALUES
    ('score', '10'), ('score', '9'), ('score', '8'), ('score', '0'), ('score', '5'),
    ('score', '10 из 10'), ('score', '9/10'), ('score', 'оценка: 8!'), ('score', 'на 9'),
    ('score', 'десять'), ('score', 'твердая восьмерка'), ('score', 'Девятка'),
    ('score', '9-10'), ('score', '7 или 8'), ('score', '11'), ('score', '1O'),
    ('score', '10, всё отлично, спасибо специалисту Марине за помощь с тарифом'),
    ('score', '3, ждал в очереди 40 минут, никто не подошёл'), ('score', 'СТОП'),
    ('yes_no', 'да'), ('yes_no', 'Да!'), ('yes_no', 'нет'), ('yes_no', 'HET'),
    ('yes_no', 'нет, не объяснили'), ('yes_no', 'да, но долго'), ('yes_no', 'не знаю'),
    ('yes_no', 'конечно'), ('yes_no', 'угу'), ('yes_no', 'no'),
    ('text', 'Всё отлично, спасибо'), ('text', 'Долго ждал, специалист был один на весь салон, очередь человек десять'),
    ('text', 'не пишите больше'), ('text', '👍')) v(kind, body)) t
ON t.n = g % 33;
ANALYZE bench_reply;

