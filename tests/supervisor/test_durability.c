/* Durability: clients ping as fast as they can while the server is killed
 * with SIGKILL; after a restart every ping that was answered 200 is in the
 * database with its body, and the database passes integrity_check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "tests/lib/vtest.h"

enum { THREADS = 6, MAXPER = 100000 };

static char dir[128], db[256];
static vt_server srv;
static atomic_int acked_total;
static atomic_int stop_flag;

typedef struct worker {
	int id, round;
	int acked[MAXPER / 8];	/* sequence numbers answered 200 */
	int nacked;
} worker;

static void *worker_main(void *arg)
{
	worker *w = arg;
	CURL *h = curl_easy_init();
	char url[512];
	snprintf(url, sizeof url, "%s/ping/%s/job", srv.base, srv.key);
	for (int seq = 0; !atomic_load(&stop_flag) && w->nacked < (int)(sizeof w->acked / sizeof w->acked[0]); seq++) {
		char body[64];
		int len = snprintf(body, sizeof body, "r%d-t%d-s%d", w->round, w->id, seq);
		vt_buf sink = {0};
		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, vt_collect);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
		long code = 0;
		if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		free(sink.p);
		if (code == 200) {
			w->acked[w->nacked++] = seq;
			atomic_fetch_add(&acked_total, 1);
		} else if (code == 0) {
			break;	/* the server is gone */
		}
	}
	curl_easy_cleanup(h);
	return NULL;
}

static int body_present(sqlite3 *s, const char *body)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(s, "SELECT count(*) FROM pings WHERE CAST(body AS TEXT)=?", -1, &st, NULL);
	sqlite3_bind_text(st, 1, body, -1, SQLITE_STATIC);
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return n;
}

static void test_kill9_loses_nothing_acknowledged(void **state)
{
	(void)state;
	vt_tmpdir(dir, sizeof dir, "dur");
	snprintf(db, sizeof db, "%s/vigil.db", dir);
	char out[256];
	assert_int_equal(vt_vigil((const char *[]){"--db", db, "check", "add", "job", "--every", "1h", NULL}, out, sizeof out, NULL, 0), 0);
	static worker w[THREADS];
	int total_acked = 0;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(vt_server_start(&srv, dir, db, NULL), 0);
		assert_int_equal(vt_vigil((const char *[]){"--db", db, "key", NULL}, out, sizeof out, NULL, 0), 0);
		out[strcspn(out, "\n")] = '\0';
		snprintf(srv.key, sizeof srv.key, "%s", out);
		atomic_store(&acked_total, 0);
		atomic_store(&stop_flag, 0);
		pthread_t th[THREADS];
		for (int i = 0; i < THREADS; i++) {
			memset(&w[i], 0, sizeof w[i]);
			w[i].id = i;
			w[i].round = round;
			pthread_create(&th[i], NULL, worker_main, &w[i]);
		}
		/* kill once a varying number of pings has been acknowledged */
		int target = 200 + round * 150;
		for (int t = 0; t < 60000 && atomic_load(&acked_total) < target; t += 2) vt_sleep_ms(2);
		assert_true(atomic_load(&acked_total) >= target);
		assert_int_equal(vt_server_stop(&srv, SIGKILL), 128 + SIGKILL);
		atomic_store(&stop_flag, 1);
		for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);

		sqlite3 *s;
		assert_int_equal(sqlite3_open(db, &s), SQLITE_OK);	/* recovers the WAL */
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(s, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
		sqlite3_finalize(st);
		int acked_round = 0;
		for (int i = 0; i < THREADS; i++)
			for (int k = 0; k < w[i].nacked; k++) {
				char body[64];
				snprintf(body, sizeof body, "r%d-t%d-s%d", round, i, w[i].acked[k]);
				int n = body_present(s, body);
				if (n != 1) fprintf(stderr, "acknowledged ping %s found %d times\n", body, n);
				assert_int_equal(n, 1);
				acked_round++;
			}
		sqlite3_close(s);
		total_acked += acked_round;
		fprintf(stderr, "round %d: %d acknowledged pings all on disk\n", round, acked_round);
	}
	/* the server starts again on the crashed database and answers */
	assert_int_equal(vt_server_start(&srv, dir, db, NULL), 0);
	snprintf(srv.key, sizeof srv.key, "%s", out);
	char url[512];
	snprintf(url, sizeof url, "%s/ping/%s/job", srv.base, srv.key);
	vt_resp r;
	assert_int_equal(vt_http("GET", url, NULL, 0, NULL, &r), 0);
	assert_int_equal(r.status, 200);
	vt_resp_free(&r);
	assert_int_equal(vt_server_stop(&srv, SIGTERM), 0);
	assert_true(total_acked >= 200 + 350 + 500);
	vt_rmrf(dir);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9_loses_nothing_acknowledged),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
