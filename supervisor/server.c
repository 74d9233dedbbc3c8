/* supervisor/server.c — libmicrohttpd server: pings with group commit, and
 * everything else handed to web.c.
 *
 * A ping's life:
 *   1. the HTTP thread parses and validates the path (400/404/405 answered at
 *      once), reads the body up to the limit (the rest is counted, not kept);
 *   2. it queues the ping for the committer and suspends the connection;
 *   3. the committer thread takes every queued ping and records them all in
 *      one transaction;
 *   4. the syncer thread makes that commit durable (one fdatasync of the WAL,
 *      the sync synchronous=FULL issues at COMMIT, see open_wal) while the
 *      committer writes the next batch, and resumes each connection with its
 *      result;
 *   5. the HTTP thread answers 200 only for pings whose commit returned OK and
 *      whose WAL sync succeeded.
 * So a 200 always means "on disk", and concurrent pings share one fsync.
 *
 * What a commit writes is kept small (issue 2's throughput): a ping is one
 * INSERT at the end of the pings table (reg_ping_defer), plus its status
 * change and flip when it changes the status.  The checks rows' last_* times
 * and counts follow in fold jobs: the checkpointer thread reads what to
 * write without a lock every FOLD_EVERY_S, and the committer writes it
 * FOLD_ROWS_PER_COMMIT rows at a time inside the pings' own transactions.
 * Until then every reader adds the unfolded pings, and the scheduler folds
 * them in before it judges (registry.h, reg_ping_defer).
 *
 * HTTP runs on one libmicrohttpd thread per core (each with its own
 * registry connection for web requests); the common answers (200, 404
 * orphan) are built once and shared. */
#include "supervisor/server.h"

#include "registry/registry.h"
#include "supervisor/web.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sqlite3.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATH_LEN 512
#define ORPHAN_TEXT "not found: no check with this slug (recorded as orphan)\n"
#define API_BODY_LIMIT (256 * 1024)
#define BATCH_MAX 4096
#define WEB_DB_MAX 16             /* HTTP threads with a connection of their own */

typedef enum { REQ_PING = 1, REQ_WEB } req_type;

typedef struct pending {
	struct pending *next;
	struct MHD_Connection *conn;
	/* input */
	char slug[REG_SLUG_MAX + 1];
	reg_ping_kind kind;
	int exit_status;
	char rid[40];
	char remote[64];
	char method[8];
	int64_t now_ms;
	/* result */
	int done;
	int status;               /* HTTP status to answer */
	int64_t check_id;
} pending;

typedef struct request {
	req_type type;
	unsigned char *body;
	size_t body_len, body_cap, body_limit;
	int body_cut;
	int queued;
	double t0;
	pending p;
} request;

struct vigil_server {
	struct MHD_Daemon *mhd;
	server_opts o;
	char key[80];
	int port;
	int loopback;
	/* one registry connection per HTTP thread (thread-local), all listed
	 * here so that server_stop closes them */
	reg_db *web_dbs[WEB_DB_MAX];
	int n_web_dbs;
	unsigned pool;            /* HTTP threads */
	/* the answers to a recorded ping and to an orphan, built once */
	struct MHD_Response *resp_ok, *resp_orphan;
	/* committer */
	pthread_t committer;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t ckpt_cv;
	pthread_t checkpointer;
	int checkpointer_started;
	pending *head, *tail;
	reg_fold_job *fold_job;   /* prepared by the checkpointer, for the committer */
	int fold_inflight;        /* a job is prepared or being written */
	int stop;
	int committer_started;
	/* syncer: committed batches waiting for the WAL's fsync and their answers */
	pthread_t syncer;
	pthread_mutex_t rmu;
	pthread_cond_t rcv, rdone;
	request *rq[BATCH_MAX * 2];
	int rn, rstop, syncer_started;
	int wal_fd;               /* the WAL file, or -1: the committer commits with FULL */
	int sync_broken;          /* an fsync failed: nothing more is acknowledged */
	int wal_rewind;           /* set by the checkpointer: the committer finishes a checkpoint */
	/* committer and syncer statistics, printed at shutdown */
	uint64_t n_commits, n_pings, n_folds, n_syncs, n_rewinds;
	double commit_s, fsync_s, sync_s, rewind_s;
	double commit_max_s, sync_max_s, rewind_max_s;	/* the longest of each */
};

/* Adds one duration to a statistic's sum and keeps its longest. */
static void time_add(double *sum, double *longest, double dt)
{
	*sum += dt;
	if (dt > *longest) *longest = dt;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- committer ------------------------------------------------------------ */

/* Check rows a fold job writes per commit (reg_fold_step): the job's rows
 * ride along with the pings' transactions a few at a time, so that no
 * commit waits long for them. */
#define FOLD_ROWS_PER_COMMIT 128
/* How often the checkpointer prepares a fold job when pings are waiting. */
#define FOLD_EVERY_S 2.0

static void sync_wal(vigil_server *s, request **reqs, int n);
static void finish_batch(vigil_server *s, request **reqs, int n);

/* Records the n pings (n may be 0) and a step of *job in one transaction;
 * frees *job when it is done or lost; hands the pings to the syncer. */
static void commit_batch(vigil_server *s, reg_db *db, request **reqs, int n, reg_fold_job **job)
{
	int rc = reg_begin(db);
	int ok = rc == REG_OK;
	for (int i = 0; ok && i < n; i++) {
		pending *p = &reqs[i]->p;
		reg_ping_in in = {
			.slug = p->slug, .kind = p->kind, .exit_status = p->exit_status,
			.rid = p->rid, .remote = p->remote, .method = p->method,
			.body = reqs[i]->body, .body_len = reqs[i]->body_len, .body_cut = reqs[i]->body_cut,
			.now_ms = p->now_ms,
		};
		reg_ping_out out;
		if (reg_ping_record(db, &in, &out) != REG_OK) { ok = 0; break; }
		p->status = out.found ? 200 : 404;
		p->check_id = out.found ? out.check_id : 0;
	}
	int job_done = 0, job_lost = 0;
	if (ok && *job) {
		/* a failing fold step must not cost the pings their commit */
		sqlite3 *h = reg_sqlite(db);
		int st = sqlite3_exec(h, "SAVEPOINT fold", NULL, NULL, NULL) == SQLITE_OK
		         ? reg_fold_step(db, *job, FOLD_ROWS_PER_COMMIT) : -1;
		if (st < 0) {
			fprintf(stderr, "vigil: fold: %s\n", reg_errmsg(db));
			sqlite3_exec(h, "ROLLBACK TO fold", NULL, NULL, NULL);
			job_lost = 1;
		} else job_done = st;
		sqlite3_exec(h, "RELEASE fold", NULL, NULL, NULL);
	}
	double tc = mono_now();
	if (ok && reg_commit(db) != REG_OK) ok = 0;
	if (n) s->fsync_s += mono_now() - tc;
	if (!ok) {
		reg_rollback(db);
		fprintf(stderr, "vigil: cannot record pings: %s\n", reg_errmsg(db));
		for (int i = 0; i < n; i++) { reqs[i]->p.status = 503; reqs[i]->p.check_id = 0; }
	}
	if (*job && (job_done || job_lost || !ok)) {
		reg_fold_free(*job);
		*job = NULL;
		pthread_mutex_lock(&s->mu);
		s->fold_inflight = 0;
		pthread_mutex_unlock(&s->mu);
		if (job_done && ok) s->n_folds++;
	}
	if (!n) return;
	if (!s->syncer_started) {	/* no syncer thread: the committer answers */
		if (s->wal_fd >= 0) sync_wal(s, reqs, n);
		finish_batch(s, reqs, n);
		return;
	}
	/* the syncer makes the commit durable and answers, while the committer
	 * goes on with the next batch */
	pthread_mutex_lock(&s->rmu);
	while (s->rn + n > BATCH_MAX * 2) pthread_cond_wait(&s->rdone, &s->rmu);
	for (int i = 0; i < n; i++) s->rq[s->rn++] = reqs[i];
	pthread_cond_signal(&s->rcv);
	pthread_mutex_unlock(&s->rmu);
}

/* ---- the syncer: the WAL's fsync, then the answers ------------------------ */

/* Makes every commit written so far durable: one fdatasync of the WAL file
 * (what synchronous=FULL does at the end of each commit, here shared by every
 * batch committed since the last one).  A failed fsync leaves nothing known
 * to be on disk: the pings are answered 503, and so is every later one (after
 * a failed fsync Linux may drop the unwritten pages and report the next
 * fsync clean). */
static void sync_wal(vigil_server *s, request **reqs, int n)
{
	int any = 0;
	for (int i = 0; i < n; i++) any |= reqs[i]->p.status != 503;
	if (!any) return;
	double t0 = mono_now();
	int broken = __atomic_load_n(&s->sync_broken, __ATOMIC_RELAXED);
	if (!broken && fdatasync(s->wal_fd)) {
		fprintf(stderr, "vigil: fsync of %s-wal failed: %s; pings are refused (503) until vigil restarts\n",
		        s->o.db_path, strerror(errno));
		__atomic_store_n(&s->sync_broken, 1, __ATOMIC_RELAXED);
		broken = 1;
	}
	if (broken)
		for (int i = 0; i < n; i++) reqs[i]->p.status = 503;
	time_add(&s->sync_s, &s->sync_max_s, mono_now() - t0);
	s->n_syncs++;
}

/* Counts the answered pings, wakes the scheduler once, and resumes each
 * connection with its result (MHD_resume_connection is thread-safe and
 * orders the result before the HTTP thread reads it).  After this the
 * requests belong to their HTTP threads again. */
static void finish_batch(vigil_server *s, request **reqs, int n)
{
	int64_t recorded = 0;
	for (int i = 0; i < n; i++) {
		pending *p = &reqs[i]->p;
		if (p->status == 200 || p->status == 404)	/* 503: not recorded, not counted */
			web_count_ping(p->kind, p->status == 200);
		if (p->status == 200) recorded = p->check_id;
	}
	/* one wake-up per batch: the scheduler looks at whatever changed */
	if (recorded && s->o.alerts) alerts_notify(s->o.alerts, recorded);
	for (int i = 0; i < n; i++) {
		struct MHD_Connection *c = reqs[i]->p.conn;
		reqs[i]->p.done = 1;
		MHD_resume_connection(c);
	}
}

static void *syncer_main(void *arg)
{
	vigil_server *s = arg;
	pthread_setname_np(pthread_self(), "vigil-sync");
	request **mine = calloc(BATCH_MAX * 2, sizeof *mine);
	pthread_mutex_lock(&s->rmu);
	for (;;) {
		while (!s->rn && !s->rstop) pthread_cond_wait(&s->rcv, &s->rmu);
		if (!s->rn && s->rstop) break;
		int n = s->rn;
		request **batch = mine ? mine : s->rq;	/* out of memory: work under the lock */
		if (mine) {
			memcpy(mine, s->rq, (size_t)n * sizeof *mine);
			s->rn = 0;
			pthread_cond_broadcast(&s->rdone);
			pthread_mutex_unlock(&s->rmu);
		}
		if (s->wal_fd >= 0) sync_wal(s, batch, n);
		finish_batch(s, batch, n);
		if (mine) pthread_mutex_lock(&s->rmu);
		else { s->rn = 0; pthread_cond_broadcast(&s->rdone); }
	}
	pthread_mutex_unlock(&s->rmu);
	free(mine);
	return NULL;
}

/* Group commit with the fsync taken off the committer's path: the pings'
 * connection commits with synchronous=NORMAL (in WAL mode: the commit's
 * frames are written, not synced), and the syncer thread then makes them
 * durable with one fdatasync of the WAL file, the same sync that
 * synchronous=FULL would have issued at the end of the commit, before any
 * ping of the batch is answered.  Meanwhile the committer writes the next
 * batch.  WAL frames are appended in commit order, so a sync covers every
 * earlier commit too, and a commit that is durable implies that every
 * earlier one is.  The WAL file cannot be replaced while this connection is
 * open (SQLite removes it only when the last connection closes).  Where the
 * file cannot be opened, the connection stays at synchronous=FULL. */
static void open_wal(vigil_server *s, reg_db *db)
{
	char path[4200];
	snprintf(path, sizeof path, "%s-wal", s->o.db_path);
	/* a read makes the connection open its WAL file */
	sqlite3_exec(reg_sqlite(db), "SELECT count(*) FROM ping_fold", NULL, NULL, NULL);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vigil: %s: %s; pings commit with synchronous=FULL\n", path, strerror(errno));
		return;
	}
	if (sqlite3_exec(reg_sqlite(db), "PRAGMA synchronous=NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
		close(fd);
		return;
	}
	s->wal_fd = fd;
}

/* Keeping the WAL from growing.  Under a steady stream of pings the
 * checkpointer's PASSIVE checkpoints never catch up with the committer, so
 * SQLite never starts the WAL over and the file grows without end: every
 * fdatasync then also commits the file's new size and blocks to the ext4
 * journal (measured on this project's VM: 0.19-0.23 ms per WAL sync, 125 us
 * per 32 KB append + fdatasync against 72 us for an overwrite).  So once the
 * WAL holds more than WAL_REWIND_FRAMES, the checkpointer asks the committer,
 * between two transactions, to checkpoint what is left (little: the
 * checkpointer has just copied the rest).  With no write in between, that
 * checkpoint reaches the end of the WAL (unless a reader still needs older
 * frames: then it is simply tried again later), and SQLite starts the WAL
 * over at the next commit, writing and syncing a new header first, as it
 * does at every such restart.  The file keeps its size; later frames
 * overwrite earlier ones, and the syncer's fdatasync flushes data only
 * (0.12-0.16 ms).  The cost is one short pause of the committer (its
 * checkpoint syncs the WAL and the database file) at most every 500 ms, and
 * only while pings keep the WAL above WAL_REWIND_FRAMES. */
#define WAL_REWIND_FRAMES 1024

static void rewind_wal(reg_db *db)
{
	int rc = sqlite3_wal_checkpoint_v2(reg_sqlite(db), NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		fprintf(stderr, "vigil: checkpoint: %s\n", sqlite3_errmsg(reg_sqlite(db)));
}

static void *committer_main(void *arg)
{
	vigil_server *s = arg;
	reg_db *db = NULL;
	char msg[512];
	pthread_setname_np(pthread_self(), "vigil-commit");
	if (reg_open(s->o.db_path, &db, msg, sizeof msg) != REG_OK)
		fprintf(stderr, "vigil: committer: %s\n", msg);
	else {	/* checkpoints run on their own thread, off the ping path */
		sqlite3_wal_autocheckpoint(reg_sqlite(db), 0);
		/* the hot pages (checks, the pings table's right edge) stay cached */
		sqlite3_exec(reg_sqlite(db), "PRAGMA cache_size=-32768", NULL, NULL, NULL);
		/* a ping is one INSERT; the checks rows follow in fold jobs */
		reg_ping_defer(db, 1);
		open_wal(s, db);
	}
	request **reqs = calloc(BATCH_MAX, sizeof *reqs);
	reg_fold_job *job = NULL;
	for (;;) {
		/* A batch committed while the previous one still waits for the
		 * syncer would only wait behind it: let the pings gather into one
		 * larger commit instead (fewer commits, the same fsyncs). */
		pthread_mutex_lock(&s->rmu);
		while (s->rn && !s->rstop) pthread_cond_wait(&s->rdone, &s->rmu);
		pthread_mutex_unlock(&s->rmu);
		pthread_mutex_lock(&s->mu);
		while (!s->head && !s->stop && !s->fold_job && !job) pthread_cond_wait(&s->cv, &s->mu);
		if (!s->head && s->stop) { pthread_mutex_unlock(&s->mu); break; }
		if (!job && s->fold_job) { job = s->fold_job; s->fold_job = NULL; }
		int n = 0;
		while (s->head && n < BATCH_MAX) {
			pending *p = s->head;
			s->head = p->next;
			reqs[n++] = (request *)((char *)p - offsetof(request, p));
		}
		if (!s->head) s->tail = NULL;
		pthread_mutex_unlock(&s->mu);
		if (!db || !reqs) {
			for (int i = 0; i < n; i++) reqs[i]->p.status = 503;
			pthread_mutex_lock(&s->mu);
			for (int i = 0; i < n; i++) { reqs[i]->p.done = 1; MHD_resume_connection(reqs[i]->p.conn); }
			if (job) { reg_fold_free(job); job = NULL; s->fold_inflight = 0; }
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		if (__atomic_exchange_n(&s->wal_rewind, 0, __ATOMIC_RELAXED)) {
			double tr = mono_now();
			rewind_wal(db);
			time_add(&s->rewind_s, &s->rewind_max_s, mono_now() - tr);
			s->n_rewinds++;
		}
		double t0 = mono_now();
		commit_batch(s, db, reqs, n, &job);
		if (n) {
			time_add(&s->commit_s, &s->commit_max_s, mono_now() - t0);
			s->n_commits++;
			s->n_pings += (uint64_t)n;
		}
	}
	free(reqs);
	reg_fold_free(job);
	/* leave every checks row complete (not needed for correctness: readers
	 * and the next start add what is missing) */
	if (db) {
		sqlite3_exec(reg_sqlite(db), "PRAGMA synchronous=FULL", NULL, NULL, NULL);
		if (reg_begin(db) == REG_OK && reg_ping_fold(db) == REG_OK && reg_commit(db) == REG_OK) { /* folded */ }
		else reg_rollback(db);
	}
	reg_close(db);
	return NULL;
}

/* Moves WAL content into the database file every 500 ms (PASSIVE: never
 * waits for, nor blocks, the committer), so that the committer's commits
 * seldom pay for a checkpoint (rewind_wal); and every FOLD_EVERY_S, when
 * pings wait to be folded into their checks rows, reads what to write (no
 * lock held) and hands the job to the committer. */
static void *checkpointer_main(void *arg)
{
	vigil_server *s = arg;
	reg_db *db = NULL;
	char msg[512];
	pthread_setname_np(pthread_self(), "vigil-ckpt");
	if (reg_open(s->o.db_path, &db, msg, sizeof msg) != REG_OK) {
		fprintf(stderr, "vigil: checkpointer: %s\n", msg);
		return NULL;
	}
	sqlite3_wal_autocheckpoint(reg_sqlite(db), 0);
	double last_fold = mono_now();
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
		pthread_cond_timedwait(&s->ckpt_cv, &s->mu, &ts);
		if (s->stop) break;
		pthread_mutex_unlock(&s->mu);
		int nlog = 0, nckpt = 0;
		sqlite3_wal_checkpoint_v2(reg_sqlite(db), NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
		if (nlog > WAL_REWIND_FRAMES) {
			/* a second pass copies what was committed during the first, so
			 * that little is left for the committer (rewind_wal) */
			sqlite3_wal_checkpoint_v2(reg_sqlite(db), NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
			__atomic_store_n(&s->wal_rewind, 1, __ATOMIC_RELAXED);
		}
		reg_fold_job *job = NULL;
		int busy = __atomic_load_n(&s->fold_inflight, __ATOMIC_RELAXED);
		if (!busy && mono_now() - last_fold >= FOLD_EVERY_S) {
			int rc;
			last_fold = mono_now();
			job = reg_fold_prepare(db, &rc);
			if (rc) fprintf(stderr, "vigil: fold: %s\n", reg_errmsg(db));
		}
		pthread_mutex_lock(&s->mu);
		if (job) {
			s->fold_job = job;
			s->fold_inflight = 1;
			pthread_cond_signal(&s->cv);
		}
	}
	pthread_mutex_unlock(&s->mu);
	reg_close(db);
	return NULL;
}

/* ---- responses ------------------------------------------------------------ */

static struct MHD_Response *make_text(const char *text, const vigil_server *s)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	if (!r) return NULL;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (s) {
		char lim[32];
		snprintf(lim, sizeof lim, "%zu", s->o.body_limit);
		MHD_add_response_header(r, "Ping-Body-Limit", lim);
	}
	return r;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *text, const vigil_server *s)
{
	struct MHD_Response *r = make_text(text, s);
	if (!r) return MHD_NO;
	if (status == 405) MHD_add_response_header(r, "Allow", "GET, POST, HEAD");
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- path parsing ----------------------------------------------------------- */

static int is_uuid(const char *s)
{
	static const int dash[] = {8, 13, 18, 23};
	if (strlen(s) != 36) return 0;
	for (int i = 0; i < 36; i++) {
		int d = i == dash[0] || i == dash[1] || i == dash[2] || i == dash[3];
		if (d ? s[i] != '-' : !isxdigit((unsigned char)s[i])) return 0;
	}
	return 1;
}

static int ct_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* Parses "/ping/<key>/<slug>[/<suffix>]".  Returns 0 and fills p, or the HTTP
 * status to answer with *why set. */
int server_parse_ping(const char *url, const char *skey, server_ping_path *p, const char **why)
{
	if (strncmp(url, "/ping/", 6)) { *why = "expected /ping/<key>/<slug>"; return 400; }
	const char *rest = url + strlen("/ping/");
	const char *k_end = strchr(rest, '/');
	if (!k_end || k_end == rest) { *why = "expected /ping/<key>/<slug>"; return 400; }
	const char *slug = k_end + 1;
	const char *s_end = strchr(slug, '/');
	size_t slen = s_end ? (size_t)(s_end - slug) : strlen(slug);
	if (slen == 0) { *why = "missing slug"; return 400; }
	if (slen > REG_SLUG_MAX) { *why = "slug longer than 64 characters"; return 400; }
	memcpy(p->slug, slug, slen);
	p->slug[slen] = '\0';
	if (!reg_slug_valid(p->slug)) {
		for (size_t i = 0; i < slen; i++)
			if (isupper((unsigned char)p->slug[i])) { *why = "slug must be lowercase"; return 400; }
		*why = "invalid slug (expected ^[a-z0-9][a-z0-9_-]{0,63}$)";
		return 400;
	}
	p->kind = REG_PING_SUCCESS;
	p->exit_status = -1;
	if (s_end) {
		const char *suf = s_end + 1;
		if (strchr(suf, '/')) { *why = "too many path segments"; return 400; }
		if (!strcmp(suf, "start")) p->kind = REG_PING_START;
		else if (!strcmp(suf, "fail")) p->kind = REG_PING_FAIL;
		else if (!strcmp(suf, "log")) p->kind = REG_PING_LOG;
		else if (*suf && strlen(suf) <= 3 && strspn(suf, "0123456789") == strlen(suf)) {
			int v = atoi(suf);
			if (v > 255) { *why = "exit status must be 0-255"; return 400; }
			p->kind = REG_PING_EXIT;
			p->exit_status = v;
		} else if (*suf && strspn(suf, "0123456789") == strlen(suf)) {
			*why = "exit status must be 0-255";
			return 400;
		} else {
			*why = "unknown ping kind (expected start, fail, log or 0-255)";
			return 400;
		}
	}
	/* The key is checked last so that malformed requests say what is wrong. */
	size_t klen = (size_t)(k_end - rest);
	char key[80];
	if (klen >= sizeof key) { *why = "not found"; return 404; }
	memcpy(key, rest, klen);
	key[klen] = '\0';
	if (!ct_equal(key, skey)) { *why = "unknown ping key"; return 404; }
	return 0;
}

static int parse_ping_path(const vigil_server *s, const char *url, pending *p, const char **why)
{
	server_ping_path pp;
	int st = server_parse_ping(url, s->key, &pp, why);
	if (st) return st;
	memcpy(p->slug, pp.slug, sizeof p->slug);
	p->kind = (reg_ping_kind)pp.kind;
	p->exit_status = pp.exit_status;
	return 0;
}

static void remote_addr(struct MHD_Connection *c, char *buf, size_t n)
{
	buf[0] = '\0';
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr) return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET && n >= 16) {
		/* by hand: inet_ntop formats through printf, on every ping */
		const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		char *o = buf;
		for (int i = 0; i < 4; i++) {
			unsigned v = a[i];
			if (v >= 100) *o++ = (char)('0' + v / 100);
			if (v >= 10) *o++ = (char)('0' + v / 10 % 10);
			*o++ = (char)('0' + v % 10);
			*o++ = i < 3 ? '.' : '\0';
		}
	} else if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)n);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)n);
}

/* ---- request handling --------------------------------------------------------- */

static int body_append(request *r, const char *data, size_t len)
{
	size_t room = r->body_len < r->body_limit ? r->body_limit - r->body_len : 0;
	size_t take = len < room ? len : room;
	if (take < len) r->body_cut = 1;
	if (!take) return 0;
	if (r->body_len + take > r->body_cap) {
		size_t nc = r->body_cap ? r->body_cap * 2 : 4096;
		while (nc < r->body_len + take) nc *= 2;
		if (nc > r->body_limit) nc = r->body_limit;
		unsigned char *nb = realloc(r->body, nc);
		if (!nb) return -1;
		r->body = nb;
		r->body_cap = nc;
	}
	memcpy(r->body + r->body_len, data, take);
	r->body_len += take;
	return 0;
}

static const char *query_arg(void *ctx, const char *name)
{
	return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* This HTTP thread's registry connection (SQLite connections are not shared
 * between threads), opened on its first web request. */
static _Thread_local reg_db *tls_web_db;

static reg_db *web_db(vigil_server *s)
{
	if (tls_web_db) return tls_web_db;
	reg_db *db = NULL;
	char msg[512];
	if (reg_open(s->o.db_path, &db, msg, sizeof msg) != REG_OK) return NULL;
	pthread_mutex_lock(&s->mu);
	if (s->n_web_dbs < WEB_DB_MAX) s->web_dbs[s->n_web_dbs++] = db;
	else { reg_close(db); db = NULL; }
	pthread_mutex_unlock(&s->mu);
	return tls_web_db = db;
}

static enum MHD_Result answer_web(vigil_server *s, struct MHD_Connection *c, const char *url,
                                  const char *method, request *r)
{
	reg_db *db = web_db(s);
	if (!db) return send_text(c, 503, "database unavailable\n", NULL);
	char remote[64];
	remote_addr(c, remote, sizeof remote);
	web_req req = {
		.method = method, .path = url, .query = "",
		.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
		.cookie = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Cookie"),
		.remote = remote, .body = r->body, .body_len = r->body_len,
		.body_too_large = r->body_cut, .loopback = s->loopback, .db = db,
		.cfg = s->o.cfg, .arg = query_arg, .arg_ctx = c,
	};
	web_resp resp = { .status = 200, .content_type = "text/plain; charset=utf-8" };
	if (!web_handle(&req, &resp)) {
		free(resp.body);
		return send_text(c, 404, "not found\n", NULL);
	}
	struct MHD_Response *mr = MHD_create_response_from_buffer(resp.body_len, resp.body ? resp.body : (void *)"",
	                                                          resp.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!mr) { free(resp.body); return MHD_NO; }
	MHD_add_response_header(mr, "Content-Type", resp.content_type);
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	for (int i = 0; i < resp.nheaders; i++)
		MHD_add_response_header(mr, resp.headers[i].name, resp.headers[i].value);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)resp.status, mr);
	MHD_destroy_response(mr);
	web_observe_latency(mono_now() - r->t0);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
	vigil_server *s = cls;
	(void)version;
	request *r = *con_cls;
	if (!r) {
		/* first call: headers only */
		int is_ping = !strncmp(url, "/ping/", 6);
		if (strlen(url) > MAX_PATH_LEN) return send_text(c, 414, "request path too long\n", NULL);
		if (is_ping && strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "HEAD"))
			return send_text(c, 405, "method not allowed\n", s);
		r = calloc(1, sizeof *r);
		if (!r) return MHD_NO;
		r->type = is_ping ? REQ_PING : REQ_WEB;
		r->body_limit = is_ping ? s->o.body_limit : API_BODY_LIMIT;
		r->t0 = mono_now();
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		if (body_append(r, upload_data, *upload_size)) return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->type == REQ_WEB) return answer_web(s, c, url, method, r);

	if (r->queued) {
		/* resumed by the committer */
		int st = r->p.status;
		web_observe_latency(mono_now() - r->t0);
		/* the two common answers are built once and shared */
		if (st == 200) return MHD_queue_response(c, 200, s->resp_ok);
		if (st == 404) return MHD_queue_response(c, 404, s->resp_orphan);
		return send_text(c, 503, "database unavailable: ping not recorded\n", s);
	}
	const char *why = NULL;
	int st = parse_ping_path(s, url, &r->p, &why);
	if (st) {
		char msg[160];
		snprintf(msg, sizeof msg, "%s\n", why);
		return send_text(c, st, msg, s);
	}
	const char *rid = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "rid");
	if (rid) {
		if (!is_uuid(rid)) return send_text(c, 400, "invalid rid (expected a UUID)\n", s);
		snprintf(r->p.rid, sizeof r->p.rid, "%s", rid);
		for (char *q = r->p.rid; *q; q++) *q = (char)tolower((unsigned char)*q);
	}
	r->p.conn = c;
	r->p.now_ms = wall_ms();
	size_t ml = strlen(method);	/* GET, POST or HEAD (checked above) */
	memcpy(r->p.method, method, ml < sizeof r->p.method ? ml + 1 : sizeof r->p.method);
	r->p.method[sizeof r->p.method - 1] = '\0';
	remote_addr(c, r->p.remote, sizeof r->p.remote);
	pthread_mutex_lock(&s->mu);
	if (s->stop) {
		pthread_mutex_unlock(&s->mu);
		return send_text(c, 503, "shutting down: ping not recorded\n", s);
	}
	r->queued = 1;
	MHD_suspend_connection(c);
	if (s->tail) s->tail->next = &r->p; else s->head = &r->p;
	s->tail = &r->p;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	(void)cls; (void)c; (void)toe;
	request *r = *con_cls;
	if (!r) return;
	free(r->body);
	free(r);
	*con_cls = NULL;
}

/* ---- start / stop ------------------------------------------------------------ */

static int parse_listen(const char *listen, struct sockaddr_in *sa, char *err, size_t errlen)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	const char *colon = strrchr(listen, ':');
	if (!colon) { snprintf(err, errlen, "--listen %s: expected ADDR:PORT", listen); return -1; }
	char addr[64];
	size_t al = (size_t)(colon - listen);
	if (al == 0 || al >= sizeof addr) { snprintf(err, errlen, "--listen %s: bad address", listen); return -1; }
	memcpy(addr, listen, al);
	addr[al] = '\0';
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
		snprintf(err, errlen, "--listen %s: \"%s\" is not an IPv4 address", listen, addr);
		return -1;
	}
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535) {
		snprintf(err, errlen, "--listen %s: port must be 0-65535", listen);
		return -1;
	}
	sa->sin_port = htons((uint16_t)port);
	return 0;
}

int server_start(const server_opts *o, vigil_server **out, char *err, size_t errlen)
{
	*out = NULL;
	vigil_server *s = calloc(1, sizeof *s);
	if (!s) { snprintf(err, errlen, "out of memory"); return -1; }
	s->o = *o;
	s->wal_fd = -1;
	if (!s->o.body_limit) s->o.body_limit = 100 * 1024;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->ckpt_cv, NULL);
	pthread_mutex_init(&s->rmu, NULL);
	pthread_cond_init(&s->rcv, NULL);
	pthread_cond_init(&s->rdone, NULL);
	struct sockaddr_in sa;
	if (parse_listen(o->listen ? o->listen : "127.0.0.1:8321", &sa, err, errlen)) goto fail;
	s->loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;

	reg_db *db;
	char msg[512];
	if (reg_open(o->db_path, &db, msg, sizeof msg) != REG_OK) { snprintf(err, errlen, "%s", msg); goto fail; }
	int rc = reg_ping_key(db, s->key, sizeof s->key);
	if (rc) snprintf(err, errlen, "%s", reg_errmsg(db));
	reg_close(db);
	if (rc) goto fail;

	s->resp_ok = make_text("OK", s);
	s->resp_orphan = make_text(ORPHAN_TEXT, s);
	if (!s->resp_ok || !s->resp_orphan) { snprintf(err, errlen, "out of memory"); goto fail; }
	/* HTTP threads: parsing and answering use every core; the commits stay
	 * on their own thread */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->pool = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (unsigned)ncpu;

	if (pthread_create(&s->syncer, NULL, syncer_main, s) == 0) s->syncer_started = 1;
	if (pthread_create(&s->committer, NULL, committer_main, s)) { snprintf(err, errlen, "cannot start committer thread"); goto fail; }
	s->committer_started = 1;
	if (pthread_create(&s->checkpointer, NULL, checkpointer_main, s) == 0) s->checkpointer_started = 1;

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)512,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_THREAD_POOL_SIZE, s->pool,
		MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "cannot listen on %s: %s", o->listen ? o->listen : "127.0.0.1:8321", strerror(errno));
		goto fail;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : ntohs(sa.sin_port);
	*out = s;
	return 0;
fail:
	server_stop(s);
	return -1;
}

int server_check_listen(const char *listen, char *err, size_t errlen)
{
	struct sockaddr_in sa;
	return parse_listen(listen, &sa, err, errlen);
}

int server_port(const vigil_server *s) { return s->port; }
int server_is_loopback(const vigil_server *s) { return s->loopback; }

void server_stop(vigil_server *s)
{
	if (!s) return;
	/* Refuse new pings, let the committer finish (and resume) every queued
	 * one, and only then stop the HTTP thread: no connection is left
	 * suspended and no acknowledged ping is lost. */
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cv);
	pthread_cond_signal(&s->ckpt_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->checkpointer_started) pthread_join(s->checkpointer, NULL);
	if (s->committer_started) {
		pthread_join(s->committer, NULL);
		if (s->n_commits)
			fprintf(stderr, "vigil: %llu pings in %llu commits (%.1f per commit, %.2f ms per commit, %.2f ms of it in COMMIT, "
			        "longest %.2f ms); %llu fold jobs; %llu WAL rewinds (%.2f ms each, longest %.2f ms)\n",
			        (unsigned long long)s->n_pings, (unsigned long long)s->n_commits,
			        (double)s->n_pings / (double)s->n_commits, 1000 * s->commit_s / (double)s->n_commits,
			        1000 * s->fsync_s / (double)s->n_commits, 1000 * s->commit_max_s, (unsigned long long)s->n_folds,
			        (unsigned long long)s->n_rewinds, s->n_rewinds ? 1000 * s->rewind_s / (double)s->n_rewinds : 0.0,
			        1000 * s->rewind_max_s);
	}
	if (s->syncer_started) {
		pthread_mutex_lock(&s->rmu);
		s->rstop = 1;
		pthread_cond_signal(&s->rcv);
		pthread_mutex_unlock(&s->rmu);
		pthread_join(s->syncer, NULL);
		if (s->n_syncs)
			fprintf(stderr, "vigil: %llu WAL syncs (%.2f ms each, longest %.2f ms)\n", (unsigned long long)s->n_syncs,
			        1000 * s->sync_s / (double)s->n_syncs, 1000 * s->sync_max_s);
	}
	if (s->wal_fd >= 0) close(s->wal_fd);
	if (s->mhd) MHD_stop_daemon(s->mhd);
	for (int i = 0; i < s->n_web_dbs; i++) reg_close(s->web_dbs[i]);
	if (s->resp_ok) MHD_destroy_response(s->resp_ok);
	if (s->resp_orphan) MHD_destroy_response(s->resp_orphan);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->ckpt_cv);
	pthread_mutex_destroy(&s->rmu);
	pthread_cond_destroy(&s->rcv);
	pthread_cond_destroy(&s->rdone);
	reg_fold_free(s->fold_job);
	free(s);
}
