/*-------------------------------------------------------------------------
 *
 * subscriber.c
 *	  Simulated subscribers' replies; see subscriber.h.
 *
 *	  The forms below are what people really type back to an NPS SMS:
 *	  bare digits, "9/10", words, emoji, STOP in two alphabets, and
 *	  comments, some of which need a human to act (fraud, rudeness, paid
 *	  services added without consent, money not returned).
 *
 *-------------------------------------------------------------------------
 */
#include "subscriber.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_OF(a) ((int) (sizeof(a) / sizeof((a)[0])))

static const char *const score_words[11] = {
	"ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь",
	"восемь", "девять", "десять"
};

static const char *const yes_forms[] = {
	"да", "Да", "ДА", "ага", "yes", "Да, конечно", "да 👍", "Yes!", "Да."
};
static const char *const no_forms[] = {
	"нет", "Нет", "НЕТ", "no", "неа", "Нет, не было", "Нет!"
};
static const char *const stop_forms[] = {
	"STOP", "СТОП", "Стоп", "ОТПИСКА", "stop", "Отписка"
};
static const char *const garbage_forms[] = {
	"???", "кто это?", "эээ", "asdfgh", "))))", "ничего не понял",
	"123abc", "Что?"
};

/* comments by mood: promoters, passives, detractors */
static const char *const good_comments[] = {
	"Всё отлично, консультант всё подробно объяснил и помог настроить телефон.",
	"Быстро подключили, без очереди. Спасибо Анне!",
	"Очень вежливый специалист, рекомендую этот салон друзьям.",
	"Всё понравилось",
	"Хорошее обслуживание, тариф подобрали выгодный.",
	"Помогли перенести контакты со старого телефона, очень выручили, спасибо "
	"большое за терпение и внимание к пенсионерке.",
	"Нормально",
	"Консультант знает своё дело, ответил на все вопросы по роумингу и "
	"интернету за границей, приду ещё."
};
static const char *const neutral_comments[] = {
	"В целом нормально, но пришлось подождать минут двадцать.",
	"Ничего особенного, подключили и всё.",
	"Хотелось бы больше касс, очередь большая по выходным.",
	"Салон маленький и душный, а так всё нормально.",
	"Тариф дороговат, но связь хорошая.",
	"Без замечаний",
	"Объяснили не всё, про списания за подписки узнала уже дома, пришлось "
	"звонить на горячую линию и разбираться самой."
};
static const char *const bad_comments[] = {
	"Долго ждал, работал один сотрудник на весь салон.",
	"Интернет плохо ловит дома, а в салоне сказали что всё нормально.",
	"Консультант был занят телефоном, пришлось ждать пока он договорит.",
	"Навязывали страховку и чехол, еле отказался.",
	"Не смогли перенести номер с первого раза, пришлось приходить дважды.",
	"Плохо",
	"Цены выросли, а качество связи то же самое. Думаю перейти к другому "
	"оператору, если так будет продолжаться и дальше.",
	"Сайт не работал, пришлось ехать в салон.",
	"Медленно оформляли договор, система зависала."
};
static const char *const alarm_comments[] = {
	"Мне подключили платные подписки без моего согласия, списывают по 300 рублей в месяц!",
	"Сотрудник нахамил и выгнал из салона, требую разобраться.",
	"Деньги за неподошедший телефон так и не вернули, уже месяц прошёл, на звонки не отвечают.",
	"Оформили кредит на мой паспорт без моего ведома, это мошенничество! Обращусь в полицию.",
	"Продавец взял деньги за сим-карту, а чек не дал. Обман.",
	"Подключили услуги, о которых я не просил, и отказались отключать. "
	"Буду писать жалобу в Роспотребнадзор.",
	"Консультант грубил, кричал на мою маму, пенсионерку. Это недопустимо!",
	"Мой номер переоформили на другого человека без моего согласия, я остался "
	"без связи и без доступа к банку.",
	"Списали деньги за услугу, которую я не заказывал. Верните деньги!",
	"В салоне сделали копию моего паспорта и не объяснили зачем, боюсь что данные утекут.",
	"Сотрудник предлагал купить номер «в обход», без документов. Похоже на мошенничество.",
	"Обещали вернуть 5000 рублей на карту за две недели, прошло два месяца, денег нет.",
	"Меня оскорбили при других клиентах. Больше ни ногой.",
	"Продали б/у телефон как новый, в гарантии отказали.",
	"Мне навязали дорогой тариф обманом, сказали что старый закрывают, а это неправда."
};

uint64_t
sub_hash(uint64_t h, const char *s)
{
	/* FNV-1a over the string, then a terminator so "ab"+"c" != "a"+"bc" */
	if (h == 0)
		h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t) *s) * 0x100000001b3ULL;
	return (h ^ 0xFF) * 0x100000001b3ULL;
}

uint64_t
sub_next(sub_rng *r)
{
	uint64_t	z = (r->s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

double
sub_uniform(sub_rng *r)
{
	return (double) (sub_next(r) >> 11) / 9007199254740992.0;
}

static int
pick(sub_rng *r, int n)
{
	return (int) (sub_next(r) % (uint64_t) n);
}

int
sub_parse_scores(const char *s, double *w)
{
	int			i;
	double		sum = 0;

	for (i = 0; i < 11; i++)
	{
		char	   *end;

		w[i] = strtod(s, &end);
		if (end == s || w[i] < 0 || (i < 10 && *end != ',') || (i == 10 && *end))
			return -1;
		sum += w[i];
		s = end + 1;
	}
	return sum > 0 ? 0 : -1;
}

int
sub_unreachable(const sub_config *cfg, const char *msisdn)
{
	sub_rng		r = {sub_hash(cfg->seed ^ 0x756e646cULL, msisdn)};

	return cfg->undeliv_rate > 0 && sub_uniform(&r) < cfg->undeliv_rate;
}

/* The msisdn's own 0-10 score, drawn once from the weights */
static int
mood_of(const sub_config *cfg, const char *msisdn)
{
	sub_rng		r = {sub_hash(cfg->seed ^ 0x6d6f6f64ULL, msisdn)};
	double		sum = 0,
				u;
	int			i;

	for (i = 0; i < 11; i++)
		sum += cfg->scores[i];
	u = sub_uniform(&r) * sum;
	for (i = 0; i < 10; i++)
	{
		if (u < cfg->scores[i])
			return i;
		u -= cfg->scores[i];
	}
	return 10;
}

/* Upper-cases a leading Cyrillic а-я (UTF-8 D0 B0..D1 8F) */
static void
capitalise(char *s)
{
	uint8_t    *p = (uint8_t *) s;

	if (p[0] == 0xD0 && p[1] >= 0xB0 && p[1] <= 0xBF)
		p[1] -= 0x20;
	else if (p[0] == 0xD1 && p[1] >= 0x80 && p[1] <= 0x8F)
	{
		p[0] = 0xD0;
		p[1] += 0x20;
	}
}

static void
score_reply(sub_rng *r, int s, char *out, size_t n)
{
	int			form = pick(r, 100);

	if (form < 45)
		snprintf(out, n, "%d", s);
	else if (form < 55)
		snprintf(out, n, "%d/10", s);
	else if (form < 62)
		snprintf(out, n, "%d из 10", s);
	else if (form < 68)
		snprintf(out, n, "оценка: %d!", s);
	else if (form < 74)
		snprintf(out, n, "Ставлю %d", s);
	else if (form < 84)
	{
		snprintf(out, n, "%s", score_words[s]);
		if (form & 1)
			capitalise(out);
	}
	else if (form < 90)
		snprintf(out, n, "%d %s", s, s >= 7 ? "👍" : s >= 5 ? "😐" : "😡");
	else if (form < 95)
		snprintf(out, n, " %d.", s);
	else
		snprintf(out, n, "%d, %s", s,
				 s >= 9 ? "всё супер" : s >= 7 ? "нормально" : "долго ждал");
}

static void
five_reply(sub_rng *r, int mood, char *out, size_t n)
{
	int			s = 1 + (mood * 4 + 5) / 10 + (pick(r, 5) == 0 ? pick(r, 3) - 1 : 0);
	int			form = pick(r, 100);

	s = s < 1 ? 1 : s > 5 ? 5 : s;
	if (form < 60)
		snprintf(out, n, "%d", s);
	else if (form < 70)
		snprintf(out, n, "%d из 5", s);
	else if (form < 80)
		snprintf(out, n, "%d/5", s);
	else if (form < 90)
		snprintf(out, n, "на %d", s);
	else
	{
		snprintf(out, n, "%s", score_words[s]);
		capitalise(out);
	}
}

/* The scale phrases stand mid-sentence in lower case: a plain match */
static int
asks(const char *q, const char *what)
{
	return strstr(q, what) != NULL;
}

int
sub_reply(const sub_config *cfg, const char *msisdn, const char *question,
		  char *reply, size_t replysize, int *delay_ms, sub_rng *rng)
{
	int			mood = mood_of(cfg, msisdn);
	const char *q = question;
	double		u;

	rng->s = sub_hash(sub_hash(cfg->seed, msisdn), question);
	while (*q == ' ' || *q == '\n')
		q++;
	if (strncmp(q, "Спасибо", strlen("Спасибо")) == 0)
		return 0;				/* thank-you text: nothing to answer */
	if (sub_uniform(rng) >= cfg->reply_rate)
		return 0;
	*delay_ms = cfg->reply_min_ms +
		pick(rng, cfg->reply_max_ms - cfg->reply_min_ms + 1);

	u = sub_uniform(rng);
	if (u < cfg->stop_rate)
		snprintf(reply, replysize, "%s", stop_forms[pick(rng, N_OF(stop_forms))]);
	else if (u < cfg->stop_rate + cfg->garbage_rate)
		snprintf(reply, replysize, "%s", garbage_forms[pick(rng, N_OF(garbage_forms))]);
	else if (asks(q, "от 0 до 10"))
		score_reply(rng, mood, reply, replysize);
	else if (asks(q, "от 1 до 5"))
		five_reply(rng, mood, reply, replysize);
	else if (asks(q, "да или нет"))
	{
		int			yes = sub_uniform(rng) < 0.2 + 0.07 * mood;

		snprintf(reply, replysize, "%s", yes ? yes_forms[pick(rng, N_OF(yes_forms))]
				 : no_forms[pick(rng, N_OF(no_forms))]);
	}
	else if (sub_uniform(rng) < cfg->alarm_rate)
		snprintf(reply, replysize, "%s", alarm_comments[pick(rng, N_OF(alarm_comments))]);
	else if (mood >= 9)
		snprintf(reply, replysize, "%s", good_comments[pick(rng, N_OF(good_comments))]);
	else if (mood >= 7)
		snprintf(reply, replysize, "%s", neutral_comments[pick(rng, N_OF(neutral_comments))]);
	else
		snprintf(reply, replysize, "%s", bad_comments[pick(rng, N_OF(bad_comments))]);
	return 1;
}
