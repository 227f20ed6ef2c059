-- Detection: the lexicon's verdict on Russian comments (negations included),
-- and the rules that turn answers into one alert per session.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS nps CASCADE;
CREATE EXTENSION nps CASCADE;
RESET client_min_messages;

-- Each comment with the verdict a person would give and the severity the
-- lexicon's weights and bands promise (1 low, 2 medium, 3 high, 4 critical).
CREATE TEMP TABLE comment (n integer PRIMARY KEY, body text, alarming boolean, severity smallint);
INSERT INTO comment VALUES
    ( 1, 'Меня обманули с тарифом', true, 3),
    ( 2, 'Продавец нахамил и отказался помогать', true, 3),
    ( 3, 'Сотрудница хамила всем в очереди', true, 3),
    ( 4, 'Мошенники! Подключили подписки без моего согласия', true, 4),
    ( 5, 'Подключили платные подписки, о которых я не просил', true, 2),
    ( 6, 'Навязали страховку и ненужный аксессуар', true, 2),
    ( 7, 'Деньги за возврат телефона так и не вернули', true, 3),
    ( 8, 'Списали деньги со счёта без объяснений', true, 2),
    ( 9, 'Консультант наорал на меня', true, 2),
    (10, 'Грубый персонал, ужасное обслуживание', true, 3),
    (11, 'Обманули и нахамили, подам в суд', true, 4),
    (12, 'Напишу жалобу в Роспотребнадзор', true, 3),
    (13, 'Это развод на деньги, а не салон', true, 3),
    (14, 'Врут про условия тарифа', true, 2),
    (15, 'Меня ввели в заблуждение насчёт абонентской платы', true, 2),
    (16, 'Ужасно долго, очередь на час', true, 2),
    (17, 'Сотрудник оскорбил меня при всех', true, 3),
    (18, 'Верните деньги за навязанную услугу!', true, 4),
    (19, 'Уйду к другому оператору, надоело', true, 2),
    (20, 'Некомпетентные сотрудники', true, 1),
    (21, 'Кошмар, а не обслуживание', true, 1),
    (22, 'Мне подключили услугу без согласия, это мошенничество', true, 4),
    (23, 'Продавщица кричала на клиентов', true, 2),
    (24, 'Специалист был груб и навязывал страховку', true, 4),
    (25, 'Обман чистой воды', true, 3),
    (26, 'Не вернули деньги за сломанный телефон', true, 3),
    (27, 'Хамство и грубость, больше не приду', true, 4),
    (28, 'Меня надули с тарифом', true, 3),
    (29, 'Обращусь в прокуратуру', true, 2),
    (30, 'Обокрали на 500 рублей', true, 3),
    (31, 'Нагрубили по телефону', true, 2),
    (32, 'Отвратительное отношение', true, 1),
    (33, 'Не то что не помогли, ещё и нахамили', true, 3),
    (34, 'Консультант послал меня, хамло', true, 3),
    (35, 'Сотрудник унизил при покупателях', true, 3),
    (36, 'Деньги списывают каждый месяц за непонятные услуги', true, 2),
    (37, 'Обещали скидку, а по факту обман', true, 3),
    (38, 'ОБМАНЩИКИ!!!', true, 3),
    (39, 'Салон хороший, но кассир нагрубила', true, 2),
    (40, 'Никогда больше не приду, нахамили', true, 3),
    (41, 'Не обманули, но очень грубо разговаривали', true, 2),
    (42, 'Меня не обманули, всё честно', false, NULL),
    (43, 'Никто не хамил, всё вежливо', false, NULL),
    (44, 'Обмана не было, спасибо', false, NULL),
    (45, 'Хамства нет, персонал вежливый', false, NULL),
    (46, 'Ни разу не нахамили за годы обслуживания', false, NULL),
    (47, 'Никакого обмана, всё прозрачно', false, NULL),
    (48, 'Грубости не заметил, всё хорошо', false, NULL),
    (49, 'Всё отлично, спасибо!', false, NULL),
    (50, 'Быстро и вежливо обслужили', false, NULL),
    (51, 'Специалист всё объяснил понятно', false, NULL),
    (52, 'Хороший салон, рекомендую', false, NULL),
    (53, 'Нормально', false, NULL),
    (54, 'Помогли выбрать тариф, никаких навязанных услуг', false, NULL),
    (55, 'Деньги вернули быстро', false, NULL),
    (56, 'Платных подписок не подключали', false, NULL),
    (57, 'Не было никакого хамства', false, NULL),
    (58, 'Я не жалуюсь, всё хорошо', false, NULL),
    (59, 'Меня никто не обманывал', false, NULL),
    (60, 'Сотрудники не грубят, вежливые', false, NULL),
    (61, 'Оператор не кричал, спокойно всё объяснил', false, NULL),
    (62, 'Никто ничего не навязывал', false, NULL),
    (63, 'Долго ждал, но в итоге всё решили', false, NULL),
    (64, 'Судя по всему, салон хороший', false, NULL),
    (65, 'Спасибо, обмен телефона прошёл быстро', false, NULL),
    (66, 'Оператор Мария молодец', false, NULL),
    (67, 'Ничего плохого сказать не могу', false, NULL),
    (68, 'Салон чистый, персонал вежливый, без очереди', false, NULL),
    (69, 'Сказали честно, что скидки нет', false, NULL),
    (70, 'Не обманули, не нахамили, всё супер', false, NULL),
    (71, 'Подключили с моего согласия, всё хорошо', false, NULL),
    (72, 'Без обмана и без хамства, спасибо', false, NULL),
    (73, 'Всё понравилось, никаких претензий', false, NULL),
    (74, 'Платные подписки не подключали, проверил', false, NULL);
SELECT count(*) AS comments, count(*) FILTER (WHERE alarming) AS alarming,
       count(*) FILTER (WHERE NOT alarming) AS not_alarming,
       count(*) FILTER (WHERE NOT alarming AND body ~* '(^|[^а-яё])(не|ни|нет|никто|никакого|никаких|без)([^а-яё]|$)') AS negated
FROM comment;

CREATE TEMP VIEW verdict AS
SELECT c.n, c.body, c.alarming, c.severity, s.severity IS NOT NULL AS got_alarming,
       s.severity AS got_severity, s.score, s.categories
FROM comment c CROSS JOIN LATERAL nps.alert_scan(c.body) s;

-- Mismatches: none.
SELECT n, body, alarming, severity, got_alarming, got_severity, score, categories
FROM verdict WHERE alarming <> got_alarming OR severity IS DISTINCT FROM got_severity ORDER BY n;

-- The full listing.
SELECT n, body, got_alarming AS alarming, got_severity AS severity, score, categories FROM verdict ORDER BY n;

-- What the normalisation does to negations.
SELECT body, nps.alert_normalize(body) FROM comment WHERE n IN (7, 33, 42, 43, 44, 46, 48, 57, 70, 72) ORDER BY n;

------------------------------------------------------------------------------
-- Through the trigger: each comment as the answer to question 2 of its own
-- session gives an alert exactly when alarming, with the same severity.
------------------------------------------------------------------------------
SELECT nps.generate_network(1, 2, 2, 4);
SELECT nps.generate_visits(100, '2026-09-01 10:00+03', '2026-09-02 10:00+03', 7);
CREATE TEMP TABLE subject AS
SELECT row_number() OVER (ORDER BY s.id)::integer AS n, s.id AS session_id, v.salon_code
FROM nps.session s JOIN nps.visit v ON v.id = s.visit_id;

INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT j.session_id, 2, NULL, c.body, '2026-10-01 12:00+03'
FROM comment c JOIN subject j ON j.n = c.n;
SELECT count(*) AS alerts FROM nps.alert;
SELECT c.n, c.body, c.severity, a.severity AS alert_severity
FROM comment c JOIN subject j ON j.n = c.n LEFT JOIN nps.alert a ON a.session_id = j.session_id
WHERE c.severity IS DISTINCT FROM a.severity;
SELECT a.reasons FROM nps.alert a JOIN subject j ON j.session_id = a.session_id WHERE j.n IN (4, 11) ORDER BY j.n;

------------------------------------------------------------------------------
-- Score rules: detractor 0-6, paid services without consent = yes, question
-- not solved = no; everything else is quiet.  Sessions 81.. of the fixture.
------------------------------------------------------------------------------
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT j.session_id, a.q, a.score, a.score::text, '2026-10-02 12:00+03'
FROM subject j JOIN (VALUES
    (81, 1, 6), (82, 1, 7), (83, 1, 0), (84, 5, 1), (85, 5, 0), (86, 6, 0), (87, 6, 1),
    (88, 3, 1), (89, 4, 0), (90, 1, 10)) AS a(n, q, score) ON a.n = j.n;
SELECT j.n, a.severity, a.level, a.state, a.reasons
FROM subject j JOIN nps.alert a ON a.session_id = j.session_id WHERE j.n > 80 ORDER BY j.n;

-- One alert per session: later answers raise the severity and append
-- reasons (in one statement or several); a quieter one changes nothing.
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT j.session_id, 6, 0, 'нет', '2026-10-02 12:03+03' FROM subject j WHERE j.n = 81;
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT j.session_id, 5, 1, 'да', '2026-10-02 12:05+03' FROM subject j WHERE j.n = 81;
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT j.session_id, 2, NULL, 'Долго ждал', '2026-10-02 12:07+03' FROM subject j WHERE j.n = 81;
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT j.session_id, q, score, body, '2026-10-02 12:09+03' FROM subject j,
    (VALUES (2, NULL, 'мошенники'), (6, 0, 'нет')) AS x(q, score, body) WHERE j.n = 82;
SELECT j.n, count(*) AS alerts, max(a.severity) AS severity, max(a.reasons::text) AS reasons,
       max(a.raised_at) AS raised_at, max(a.due_at) AS due_at
FROM subject j JOIN nps.alert a ON a.session_id = j.session_id WHERE j.n IN (81, 82) GROUP BY j.n ORDER BY j.n;
SELECT e.event, e.at, e.severity, e.note
FROM nps.alert_event e JOIN nps.alert a ON a.id = e.alert_id JOIN subject j ON j.session_id = a.session_id
WHERE j.n = 81 ORDER BY e.id;

-- An answer corrected later (the dialogue may update one) is judged again.
UPDATE nps.answer SET score = 2, body = '2'
WHERE (session_id, question_no) = (SELECT session_id, 1 FROM subject WHERE n = 82);
SELECT a.severity, a.reasons FROM nps.alert a JOIN subject j ON j.session_id = a.session_id WHERE j.n = 82;

-- Rules and the lexicon are data: a new term or rule works at once.
INSERT INTO nps.alert_lexicon (term, weight, category) VALUES ('роуминг:* & дорого:*', 3, 'roaming bill');
SELECT score, severity, categories FROM nps.alert_scan('В роуминге дорого, никто не предупредил');
INSERT INTO nps.alert_rule (question_no, min_score, max_score, severity, reason) VALUES (3, 1, 2, 1, 'specialist rated poorly');
INSERT INTO nps.answer (session_id, question_no, score, body, answered_at)
SELECT session_id, 3, 2, '2', '2026-10-03 12:00+03' FROM subject WHERE n = 91;
SELECT a.severity, a.reasons FROM nps.alert a JOIN subject j ON j.session_id = a.session_id WHERE j.n = 91;
-- A term made only of stop words, or a bad rule, is refused.
INSERT INTO nps.alert_lexicon (term, weight, category) VALUES ('и & или', 3, 'nothing');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO nps.alert_rule (question_no, min_score, max_score, scan_text, severity, reason) VALUES (1, 0, 6, true, 2, 'both');
\echo :LAST_ERROR_SQLSTATE
