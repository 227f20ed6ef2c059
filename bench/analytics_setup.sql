-- The network and the three default surveys for the analytics benchmark.
\set ON_ERROR_STOP 1
SELECT nps.generate_network(42);
INSERT INTO nps.survey (code, name, channel, thanks) VALUES
    ('dealer-default', 'Дилеры', 'dealer', 'Спасибо!'),
    ('office-default', 'Офисы', 'office', 'Спасибо!'),
    ('contact-centre-default', 'Контактный центр', 'contact_centre', 'Спасибо!')
ON CONFLICT (code) DO NOTHING;
INSERT INTO nps.question (survey_id, question_no, kind, body, min_score, max_score)
SELECT s.id, q, k, 'вопрос ' || q, lo, hi FROM nps.survey s,
    (VALUES (1, 'score', 0, 10), (2, 'text', NULL, NULL), (3, 'score', 1, 5),
            (4, 'yes_no', NULL, NULL), (5, 'yes_no', NULL, NULL), (6, 'yes_no', NULL, NULL)) x(q, k, lo, hi)
WHERE s.code LIKE '%-default'
ON CONFLICT DO NOTHING;
