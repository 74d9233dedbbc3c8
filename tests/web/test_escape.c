/* tests/web/test_escape.c — the pieces under the page and the API: SHA-256
 * against the FIPS 180-4 examples, HTML escaping and UTF-8 repair, and API
 * keys in a real database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "supervisor/web_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void hex_is(const void *data, size_t len, const char *want)
{
	char got[65];
	reg_sha256_hex(data, len, got);
	assert_string_equal(got, want);
}

static void test_sha256(void **state)
{
	(void)state;
	hex_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";   /* 448 bits: two blocks */
	hex_is(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	char *m = malloc(1000000);
	assert_non_null(m);
	memset(m, 'a', 1000000);
	hex_is(m, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(m);
	/* lengths around the padding boundary (one or two final blocks) */
	static const struct { size_t n; const char *hex; } xs[] = {
		{55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
		{56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
		{63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
		{64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
		{119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"},
		{120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"},
	};
	char buf[128];
	memset(buf, 'x', sizeof buf);
	for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) hex_is(buf, xs[i].n, xs[i].hex);
}

static char *esc(const char *s, size_t n, int html)
{
	web_buf b = {0};
	if (html) wb_html(&b, s, n); else wb_utf8(&b, s, n);
	size_t len;
	char *p = wb_take(&b, &len);
	assert_non_null(p);
	assert_int_equal(strlen(p), len);
	return p;
}

static void expect(const char *in, size_t n, int html, const char *want)
{
	char *got = esc(in, n, html);
	if (strcmp(got, want)) printf("escape(%zu bytes): got \"%s\", want \"%s\"\n", n, got, want);
	assert_string_equal(got, want);
	free(got);
}

#define E(s, html, want) expect(s, sizeof(s) - 1, html, want)

static void test_html_escape(void **state)
{
	(void)state;
	E("<script>alert('x') & \"y\"</script>", 1, "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
	E("plain text\twith\nlines", 1, "plain text\twith\nlines");
	E("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 1, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* invalid UTF-8: a lone continuation, a truncated sequence, an overlong
	 * '/', a surrogate, a code point past U+10FFFF, NUL and DEL */
	E("a\x80z", 1, "a\xef\xbf\xbdz");
	E("a\xe2\x82", 1, "a\xef\xbf\xbd\xef\xbf\xbd");
	E("\xc0\xaf", 1, "\xef\xbf\xbd\xef\xbf\xbd");
	E("\xed\xa0\x80", 1, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	E("\xf4\x90\x80\x80", 1, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	E("a\0b\x7f" "c", 1, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c");
	E("\x1b[31mred", 1, "\xef\xbf\xbd[31mred");
	/* wb_utf8 keeps markup characters, repairs the rest */
	E("<b>\xff</b>", 0, "<b>\xef\xbf\xbd</b>");
	/* a long input through wb_printf's slow path */
	web_buf b = {0};
	char big[3000];
	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	wb_printf(&b, "[%s]", big);
	assert_int_equal(b.len, sizeof big + 1);
	assert_int_equal(b.p[0], '[');
	assert_int_equal(b.p[b.len - 1], ']');
	wb_free(&b);
}

static void test_apikeys(void **state)
{
	(void)state;
	char dir[] = "/tmp/vigil-keys-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/k.db", dir);
	reg_db *db;
	char msg[256];
	assert_int_equal(reg_open(path, &db, msg, sizeof msg), REG_OK);
	char ro[80], rw[80];
	int64_t id_ro, id_rw;
	assert_int_equal(web_apikey_create(db, 0, "reader", 1000, ro, sizeof ro, &id_ro), REG_OK);
	assert_int_equal(web_apikey_create(db, 1, "writer", 2000, rw, sizeof rw, &id_rw), REG_OK);
	assert_int_equal(strlen(ro), 67);
	assert_memory_equal(ro, "vk_", 3);
	assert_string_not_equal(ro, rw);
	assert_int_equal(web_apikey_check(db, ro), 1);
	assert_int_equal(web_apikey_check(db, rw), 2);
	assert_int_equal(web_apikey_check(db, "vk_nope"), 0);
	assert_int_equal(web_apikey_check(db, ""), 0);
	assert_int_equal(web_apikey_check(db, NULL), 0);
	char almost[80];
	snprintf(almost, sizeof almost, "%s", ro);
	almost[66] = almost[66] == '0' ? '1' : '0';
	assert_int_equal(web_apikey_check(db, almost), 0);
	web_apikey *ks;
	size_t n;
	assert_int_equal(web_apikey_list(db, &ks, &n), REG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(ks[0].label, "reader");
	assert_int_equal(ks[0].rw, 0);
	assert_int_equal(ks[1].rw, 1);
	assert_int_equal(ks[1].created_ms, 2000);
	char hash[65];
	reg_sha256_hex(rw, strlen(rw), hash);
	assert_memory_equal(ks[1].hash_prefix, hash, 12);
	free(ks);
	assert_int_equal(web_apikey_rm(db, id_ro), REG_OK);
	assert_int_equal(web_apikey_rm(db, id_ro), REG_ENOTFOUND);
	assert_int_equal(web_apikey_check(db, ro), 0);
	assert_int_equal(web_apikey_check(db, rw), 2);
	char small[16];
	assert_int_equal(web_apikey_create(db, 0, "", 0, small, sizeof small, NULL), REG_EINVAL);
	reg_close(db);
	char cmd[200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_apikeys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
