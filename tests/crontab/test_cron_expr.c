/* Schedule parser: one table of accepted schedules with the bits and flags
 * they must produce, one table of rejected schedules with the column and a
 * piece of the message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "crontab/crontab.h"

#define ALL_MIN ((1ULL << 60) - 1)
#define ALL_HR ((1u << 24) - 1)
#define ALL_DOM 0xfffffffeu
#define ALL_MON 0x1ffeu
#define ALL_DOW 0x7fu

static const struct ok_case {
	const char *text;
	uint64_t minute;
	uint32_t hour, dom;
	uint16_t month;
	uint8_t dow, flags;
} ok_cases[] = {
	{ "* * * * *", ALL_MIN, ALL_HR, ALL_DOM, ALL_MON, ALL_DOW, 0x0f },
	{ "0 0 1 1 0", 1, 1, 2, 2, 1, 0 },
	{ "59 23 31 12 6", 1ULL << 59, 1u << 23, 1u << 31, 1u << 12, 1u << 6, 0 },
	{ "0,15,30,45 * * * *", 1 | 1ULL << 15 | 1ULL << 30 | 1ULL << 45, ALL_HR, ALL_DOM, ALL_MON, ALL_DOW, 0x0e },
	{ "*/20 */6 * * *", 1 | 1ULL << 20 | 1ULL << 40, 1 | 1u << 6 | 1u << 12 | 1u << 18, ALL_DOM, ALL_MON, ALL_DOW, 0x0f },
	{ "1-5 8-10/2 * * *", 0x3e, 1u << 8 | 1u << 10, ALL_DOM, ALL_MON, ALL_DOW, 0x0c },
	{ "05 007 * * *", 1 << 5, 1 << 7, ALL_DOM, ALL_MON, ALL_DOW, 0x0c },              /* leading zeros */
	{ "0 0 * * 7", 1, 1, ALL_DOM, ALL_MON, 1, 0x04 },                               /* 7 is Sunday */
	{ "0 0 * * 5-7", 1, 1, ALL_DOM, ALL_MON, 1 | 1 << 5 | 1 << 6, 0x04 },
	{ "0 0 * * sun-7", 1, 1, ALL_DOM, ALL_MON, ALL_DOW, 0x04 },
	{ "0 0 * * mon-fri", 1, 1, ALL_DOM, ALL_MON, 0x3e, 0x04 },                      /* names in ranges */
	{ "0 0 * * MON,wEd,Fri", 1, 1, ALL_DOM, ALL_MON, 0x2a, 0x04 },                  /* any case */
	{ "0 0 * JAN-Mar/2 *", 1, 1, ALL_DOM, 1 << 1 | 1 << 3, ALL_DOW, 0x0c },
	{ "0 0 1,15 * 5", 1, 1, 1u << 1 | 1u << 15, ALL_MON, 1 << 5, 0 },
	{ "0 0 */2 * 1", 1, 1, 0xaaaaaaaau, ALL_MON, 1 << 1, 0x04 },                    /* '*' prefix flag */
	{ "0 0 1 * */3", 1, 1, 2, ALL_MON, 1 | 1 << 3 | 1 << 6, 0x08 },
	{ "0 0 29 2 *", 1, 1, 1u << 29, 1 << 2, ALL_DOW, 0x08 },                        /* leap day: fires */
	{ "0 0 31 1-2 *", 1, 1, 1u << 31, 0x6, ALL_DOW, 0x08 },                         /* Jan 31 exists */
	{ "0 0 30 2 1", 1, 1, 1u << 30, 1 << 2, 1 << 1, 0 },                            /* OR rule: Mondays in Feb */
	{ "*/1 * * * *", ALL_MIN, ALL_HR, ALL_DOM, ALL_MON, ALL_DOW, 0x0f },
	{ "0-59/30 * * * *", 1 | 1ULL << 30, ALL_HR, ALL_DOM, ALL_MON, ALL_DOW, 0x0e },
	{ "  0\t0  *  *  *  ", 1, 1, ALL_DOM, ALL_MON, ALL_DOW, 0x0c },                 /* blanks */
	{ "1,2-4,*/30 * * * *", 0x1f | 1ULL << 30, ALL_HR, ALL_DOM, ALL_MON, ALL_DOW, 0x0e },
	{ "@yearly", 1, 1, 2, 2, ALL_DOW, 0x08 },
	{ "@annually", 1, 1, 2, 2, ALL_DOW, 0x08 },
	{ "@monthly", 1, 1, 2, ALL_MON, ALL_DOW, 0x08 },
	{ "@weekly", 1, 1, ALL_DOM, ALL_MON, 1, 0x04 },
	{ "@daily", 1, 1, ALL_DOM, ALL_MON, ALL_DOW, 0x0c },
	{ "@midnight", 1, 1, ALL_DOM, ALL_MON, ALL_DOW, 0x0c },
	{ "@hourly", 1, ALL_HR, ALL_DOM, ALL_MON, ALL_DOW, 0x0e },
	{ "@reboot", ALL_MIN, ALL_HR, ALL_DOM, ALL_MON, ALL_DOW, 0x10 },
};

static void test_accepted(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
		const struct ok_case *c = &ok_cases[i];
		cron_expr e;
		cron_error err;
		if (cron_expr_parse(c->text, &e, &err))
			fail_msg("\"%s\" refused: col %d: %s", c->text, err.col, err.msg);
		if (e.minute != c->minute || e.hour != c->hour || e.dom != c->dom || e.month != c->month ||
		    e.dow != c->dow || e.flags != c->flags)
			fail_msg("\"%s\": got min %llx hr %x dom %x mon %x dow %x flags %x", c->text,
			         (unsigned long long)e.minute, e.hour, e.dom, e.month, e.dow, e.flags);
	}
}

static const struct bad_case {
	const char *text;
	int col;
	const char *msg;   /* a piece of the message */
} bad_cases[] = {
	/* what Debian refuses too */
	{ "60 * * * *", 1, "minute field: 60 is out of range 0-59" },
	{ "* 24 * * *", 3, "hour field: 24 is out of range 0-23" },
	{ "* * 0 * *", 5, "day-of-month field: 0 is out of range 1-31" },
	{ "* * 32 * *", 5, "day-of-month field: 32 is out of range 1-31" },
	{ "* * * 0 *", 7, "month field: 0 is out of range 1-12" },
	{ "* * * 13 *", 7, "month field: 13 is out of range 1-12" },
	{ "* * * * 8", 9, "day-of-week field: 8 is out of range 0-7" },
	{ "* * * * 7-8", 11, "day-of-week field: 8 is out of range" },
	{ "1-60/100 * * * *", 3, "60 is out of range" },
	{ "*/0 * * * *", 3, "a step must be at least 1" },
	{ "* * * 1-12/0 *", 12, "month field: a step must be at least 1" },
	{ "5/2 * * * *", 2, "a step needs '*' or a range before it" },
	{ "mon * * * *", 1, "minute field: names are not allowed here" },
	{ "* * * * Monday", 9, "unknown name \"Monday\"" },
	{ "* * * janu *", 7, "unknown name \"janu\"" },
	{ "* * * * 0x5", 9, "unknown name \"0x5\"" },
	{ "* * * * */mon", 11, "expected a step number after '/'" },
	{ "-5 * * * *", 1, "expected a number 0-59, '*' or a range, got '-'" },
	{ "5, * * * *", 3, "got a blank" },
	{ "5- * * * *", 3, "got a blank" },
	{ "* * * *", 8, "missing day-of-week field" },
	{ "*", 2, "missing hour field" },
	{ "", 1, "missing minute field" },
	{ "@DAILY", 1, "unknown macro \"@DAILY\"" },
	{ "@every", 1, "unknown macro" },
	{ "@weekly,x", 1, "unknown macro \"@weekly,x\"" },
	{ "@daily x", 8, "unexpected text after the schedule" },
	{ "* * * * * x", 11, "unexpected text after the schedule" },
	{ "\xef\xbb\xbf* * * * *", 1, "minute field" },
	{ "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	  "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005 * * * *",
	  1, "minute field: number \"00000000...\" is too long" },
	/* what Debian accepts silently and vigil refuses, saying so */
	{ "5; * * * *", 2, "';' follows \"5\"; Debian's cron would accept the line" },
	{ "*/5/3 * * * *", 4, "'/' follows \"*/5\"; Debian's cron would accept" },
	{ "1#2 * * * *", 2, "'#' follows \"1\"" },
	{ "*5 * * * *", 2, "'5' follows \"*\"" },
	{ "0 0 * * 1-5x", 11, "unknown name \"5x\"" },
	{ "0 0 * * 1-5. x", 12, "'.' follows \"1-5\"" },
	{ "5-1 * * * *", 1, "range 5-1 is reversed; Debian's cron would accept it and select nothing" },
	{ "* * * * fri-mon", 9, "range 5-1 is reversed" },
	{ "*/60 * * * *", 3, "step 60 is larger than the range 0-59, so only 0 is selected" },
	{ "* */24 * * *", 5, "step 24 is larger than the range 0-23" },
	{ "0 0 30 2 *", 5, "never fires: day 30 never occurs in February; Debian's cron would accept it" },
	{ "0 0 31 4,6 *", 5, "never fires: none of the days selected occurs in the months selected" },
	{ "0 0 31 2 */2", 5, "never fires" },
	{ "0 0 30-31 feb *", 5, "never fires" },
	{ "0 0 * * *\r", 10, "a carriage return follows \"*\"" },
};

static void test_rejected(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		cron_expr e;
		cron_error err;
		if (!cron_expr_parse(c->text, &e, &err)) fail_msg("\"%s\" accepted", c->text);
		if (!strstr(err.msg, c->msg) || err.col != c->col)
			fail_msg("\"%s\": want col %d \"%s\", got col %d \"%s\"", c->text, c->col, c->msg, err.col, err.msg);
		assert_int_equal(err.line, 1);
	}
}

static void test_wild_and_match(void **st)
{
	(void)st;
	static const struct { const char *t; int wild; } w[] = {
		{ "0 2 * * *", 0 }, { "* 2 * * *", 1 }, { "0 * * * *", 1 }, { "*/5 2 * * *", 1 },
		{ "0 */2 * * *", 1 }, { "0-59 0-23 * * *", 0 }, { "@hourly", 1 }, { "@daily", 0 },
		{ "@weekly", 0 }, { "30 1,2 * * *", 0 },
	};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
		cron_expr e;
		cron_error err;
		assert_int_equal(cron_expr_parse(w[i].t, &e, &err), 0);
		if (cron_expr_is_wild(&e) != w[i].wild) fail_msg("%s: wild %d", w[i].t, !w[i].wild);
	}
	cron_expr e;
	cron_error err;
	assert_int_equal(cron_expr_parse("30 4 1,15 * 5", &e, &err), 0);
	assert_true(cron_expr_match(&e, 1, 2, 5, 4, 30));    /* a Friday */
	assert_true(cron_expr_match(&e, 1, 15, 4, 4, 30));   /* the 15th */
	assert_false(cron_expr_match(&e, 1, 14, 3, 4, 30));
	assert_int_equal(cron_expr_parse("30 4 */2 * 5", &e, &err), 0);
	assert_false(cron_expr_match(&e, 1, 2, 5, 4, 30));   /* Friday but even day: AND */
	assert_true(cron_expr_match(&e, 1, 3, 5, 4, 30));
	assert_int_equal(cron_expr_parse("0 0 * * 7", &e, &err), 0);
	assert_true(cron_expr_match(&e, 6, 7, 0, 0, 0));
	assert_false(cron_expr_never(&e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_rejected),
		cmocka_unit_test(test_wild_and_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
