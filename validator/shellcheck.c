/* validator/shellcheck.c — ShellCheck as a subprocess (execve with an argv,
 * no shell, a time limit), its JSON output read with cJSON, and a result
 * cache: one file per (script content, shell, ShellCheck binary), named by
 * the SHA-256 of those, holding ShellCheck's JSON. */
#include "validator/val_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define SC_OUT_MAX (8u << 20)

void val_sc_free(val_sc_item *items, size_t n)
{
	for (size_t i = 0; items && i < n; i++) free(items[i].message);
	free(items);
}

/* Resolves NAME (a path, or a word searched in $PATH) into out. */
static int find_bin(const char *name, char *out, size_t n)
{
	if (strchr(name, '/')) {
		snprintf(out, n, "%s", name);
		return access(out, X_OK) == 0 ? 0 : -1;
	}
	const char *path = getenv("PATH");
	if (!path) path = "/usr/bin:/bin";
	while (*path) {
		const char *e = strchr(path, ':');
		size_t l = e ? (size_t)(e - path) : strlen(path);
		if (l) {
			snprintf(out, n, "%.*s/%s", (int)l, path, name);
			struct stat st;
			if (!stat(out, &st) && S_ISREG(st.st_mode) && access(out, X_OK) == 0) return 0;
		}
		path += l + (e ? 1 : 0);
	}
	return -1;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv, collecting stdout into *out (malloc'd).  0 with *status set;
 * -1 with err on failure or timeout. */
static int run_capture(char *const argv[], int timeout_s, char **out, size_t *outlen, int *status,
                       char *err, size_t errlen)
{
	int po[2] = {-1, -1};
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = -1;
	pid_t pid = -1;
	if (pipe2(po, O_CLOEXEC)) { snprintf(err, errlen, "pipe: %s", strerror(errno)); goto out; }
	pid = fork();
	if (pid < 0) { snprintf(err, errlen, "fork: %s", strerror(errno)); goto out; }
	if (pid == 0) {
		int dn = open("/dev/null", O_RDWR);
		if (dn >= 0) { dup2(dn, 0); dup2(dn, 2); }
		dup2(po[1], 1);
		execve(argv[0], argv, environ);
		_exit(127);
	}
	close(po[1]);
	po[1] = -1;
	int64_t deadline = mono_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		int64_t left = deadline - mono_ms();
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			pid = -1;
			snprintf(err, errlen, "ShellCheck did not finish within %d s", timeout_s);
			goto out;
		}
		struct pollfd pf = {po[0], POLLIN, 0};
		int pr = poll(&pf, 1, (int)(left > 1000 ? 1000 : left));
		if (pr < 0 && errno != EINTR) { snprintf(err, errlen, "poll: %s", strerror(errno)); goto kill; }
		if (pr <= 0) continue;
		if (n + 65536 > cap) {
			if (cap >= SC_OUT_MAX) { snprintf(err, errlen, "ShellCheck wrote more than 8 MiB"); goto kill; }
			size_t nc = cap ? cap * 2 : 65536 * 2;
			char *nb = realloc(buf, nc);
			if (!nb) { snprintf(err, errlen, "out of memory"); goto kill; }
			buf = nb;
			cap = nc;
		}
		ssize_t r = read(po[0], buf + n, cap - n - 1);
		if (r < 0) { if (errno == EINTR || errno == EAGAIN) continue; snprintf(err, errlen, "read: %s", strerror(errno)); goto kill; }
		if (r == 0) break;
		n += (size_t)r;
	}
	int st;
	while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) { snprintf(err, errlen, "waitpid: %s", strerror(errno)); pid = -1; goto out; }
	pid = -1;
	if (!buf && !(buf = malloc(1))) { snprintf(err, errlen, "out of memory"); goto out; }
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	buf = NULL;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	rc = 0;
	goto out;
kill:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	pid = -1;
out:
	if (po[0] >= 0) close(po[0]);
	if (po[1] >= 0) close(po[1]);
	free(buf);
	return rc;
}

/* ShellCheck's json format: [{"file","line","column","level","code","message",...}] */
static int parse_items(const char *json, val_sc_item **items, size_t *n)
{
	cJSON *root = cJSON_Parse(json);
	if (!cJSON_IsArray(root)) { cJSON_Delete(root); return -1; }
	size_t cnt = 0, cap = (size_t)cJSON_GetArraySize(root);
	val_sc_item *v = calloc(cap ? cap : 1, sizeof *v);
	if (!v) { cJSON_Delete(root); return -1; }
	for (const cJSON *o = root->child; o; o = o->next) {
		const cJSON *lvl = cJSON_GetObjectItemCaseSensitive(o, "level");
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(o, "message");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "code");
		const cJSON *line = cJSON_GetObjectItemCaseSensitive(o, "line");
		const cJSON *col = cJSON_GetObjectItemCaseSensitive(o, "column");
		if (!cJSON_IsString(lvl) || !cJSON_IsString(msg)) continue;
		val_sc_item *it = &v[cnt];
		snprintf(it->level, sizeof it->level, "%s", lvl->valuestring);
		it->code = cJSON_IsNumber(code) ? code->valueint : 0;
		it->line = cJSON_IsNumber(line) ? line->valueint : 0;
		it->column = cJSON_IsNumber(col) ? col->valueint : 0;
		it->message = strdup(msg->valuestring);
		if (!it->message) { val_sc_free(v, cnt); cJSON_Delete(root); return -1; }
		cnt++;
	}
	cJSON_Delete(root);
	*items = v;
	*n = cnt;
	return 0;
}

static void mkdirs(const char *dir)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", dir);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') { *p = '\0'; mkdir(tmp, 0755); *p = '/'; }
	mkdir(tmp, 0755);
}

/* The cache key of one job: the binary's identity, the shell, the content. */
static void job_key(const char *ident, const val_sc_job *j, char key[65])
{
	char buf[PATH_MAX + 256];
	int l = snprintf(buf, sizeof buf, "%s|%s|%s", ident, j->shell ? j->shell : "", j->content_sha);
	reg_sha256_hex(buf, (size_t)(l < (int)sizeof buf ? l : (int)sizeof buf - 1), key);
}

static void cache_store(const char *cache_dir, const char *key, const char *json, size_t len)
{
	char cpath[PATH_MAX + 80], tmp[PATH_MAX + 100];
	snprintf(cpath, sizeof cpath, "%s/%s.json", cache_dir, key);
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", cpath, (int)getpid());
	mkdirs(cache_dir);
	FILE *f = fopen(tmp, "we");
	if (!f) return;
	int ok = fwrite(json, 1, len, f) == len;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, cpath)) unlink(tmp);
}

/* Runs ShellCheck on jobs[idx[0..k)] (same shell) in one process.  0 when
 * its output was read (items distributed, cache written), -1 otherwise. */
static int run_batch(const char *exe, const char *cache_dir, int timeout_s, const char *ident,
                     val_sc_job *jobs, const size_t *idx, size_t k, char *err, size_t errlen)
{
	char **argv = calloc(k + 6, sizeof *argv);
	char shopt[32];
	char *out = NULL;
	size_t outlen = 0;
	int status, rc = -1;
	cJSON *root = NULL;
	if (!argv) { snprintf(err, errlen, "out of memory"); return -1; }
	int a = 0;
	argv[a++] = (char *)exe;
	argv[a++] = "--format=json";
	if (jobs[idx[0]].shell) { snprintf(shopt, sizeof shopt, "--shell=%s", jobs[idx[0]].shell); argv[a++] = shopt; }
	argv[a++] = "--";
	for (size_t i = 0; i < k; i++) argv[a++] = (char *)jobs[idx[i]].path;
	argv[a] = NULL;
	int limit = (timeout_s > 0 ? timeout_s : 30) + (int)(k > 1 ? k : 0);
	if (run_capture(argv, limit, &out, &outlen, &status, err, errlen)) goto out;
	if (status != 0 && status != 1) { snprintf(err, errlen, "ShellCheck failed (exit status %d)", status); goto out; }
	root = cJSON_Parse(out);
	if (!cJSON_IsArray(root)) { snprintf(err, errlen, "ShellCheck failed (exit status %d, no JSON)", status); goto out; }
	for (size_t i = 0; i < k; i++) {
		val_sc_job *j = &jobs[idx[i]];
		cJSON *mine = cJSON_CreateArray();
		if (!mine) goto out;
		for (const cJSON *o = root->child; o; o = o->next) {
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "file");
			if (cJSON_IsString(f) && !strcmp(f->valuestring, j->path))
				cJSON_AddItemToArray(mine, cJSON_Duplicate(o, 1));
		}
		char *txt = cJSON_PrintUnformatted(mine);
		cJSON_Delete(mine);
		if (!txt) goto out;
		if (parse_items(txt, &j->items, &j->n)) { free(txt); goto out; }
		if (cache_dir) {
			char key[65];
			job_key(ident, j, key);
			cache_store(cache_dir, key, txt, strlen(txt));
		}
		free(txt);
	}
	rc = 0;
out:
	cJSON_Delete(root);
	free(out);
	free(argv);
	return rc;
}

#define SC_BATCH 64

int val_shellcheck_batch(const char *bin, const char *cache_dir, int timeout_s,
                         val_sc_job *jobs, size_t n, char *err, size_t errlen)
{
	char exe[PATH_MAX], ident[PATH_MAX + 64];
	if (!bin || !*bin) bin = "shellcheck";
	if (find_bin(bin, exe, sizeof exe)) {
		snprintf(err, errlen, "ShellCheck is not installed (no executable \"%s\"%s): install it with "
		         "\"apt-get install shellcheck\" (Debian/Ubuntu) or \"dnf install ShellCheck\", or set "
		         "validator.shellcheck in the config; the gate does not pass without it "
		         "(--ignore-rule V204 skips this rule explicitly)", bin, strchr(bin, '/') ? "" : " in $PATH");
		return VAL_EINPUT;
	}
	struct stat bst;
	if (stat(exe, &bst)) memset(&bst, 0, sizeof bst);
	snprintf(ident, sizeof ident, "%s|%lld|%lld", exe, (long long)bst.st_size, (long long)bst.st_mtime);
	size_t *miss = calloc(n ? n : 1, sizeof *miss), nmiss = 0;
	if (!miss) { snprintf(err, errlen, "out of memory"); return VAL_EINTERNAL; }
	for (size_t i = 0; i < n; i++) {
		val_sc_job *j = &jobs[i];
		j->items = NULL;
		j->n = 0;
		j->err[0] = '\0';
		if (cache_dir) {
			char key[65], cpath[PATH_MAX + 80];
			char *txt = NULL;
			size_t cl;
			job_key(ident, j, key);
			snprintf(cpath, sizeof cpath, "%s/%s.json", cache_dir, key);
			if (val_read_file(cpath, SC_OUT_MAX, &txt, &cl) == 0 && parse_items(txt, &j->items, &j->n) == 0) {
				free(txt);
				continue;
			}
			free(txt);
		}
		miss[nmiss++] = i;
	}
	/* batches of misses with the same shell */
	static const char *const shells[] = {NULL, "sh", "bash", "dash", "ksh"};
	for (size_t s = 0; s < sizeof shells / sizeof shells[0]; s++) {
		size_t batch[SC_BATCH], k = 0;
		for (size_t m = 0; m <= nmiss; m++) {
			int take = 0;
			if (m < nmiss) {
				const char *js = jobs[miss[m]].shell;
				take = (js == NULL && shells[s] == NULL) || (js && shells[s] && !strcmp(js, shells[s]));
				if (take) batch[k++] = miss[m];
			}
			if (k == SC_BATCH || (m == nmiss && k > 0)) {
				char why[256];
				if (run_batch(exe, cache_dir, timeout_s, ident, jobs, batch, k, why, sizeof why)) {
					/* one bad file must not hide the others: retry each alone */
					for (size_t b = 0; b < k; b++) {
						val_sc_job *j = &jobs[batch[b]];
						val_sc_free(j->items, j->n);
						j->items = NULL;
						j->n = 0;
						if (k == 1 || run_batch(exe, cache_dir, timeout_s, ident, jobs, &batch[b], 1, why, sizeof why))
							snprintf(j->err, sizeof j->err, "%s", why);
					}
				}
				k = 0;
			}
		}
	}
	free(miss);
	return VAL_OK;
}

int val_shellcheck(const char *bin, const char *cache_dir, int timeout_s, const char *path,
                   const char *data, size_t len, const char *shell,
                   val_sc_item **items, size_t *n, char *err, size_t errlen)
{
	val_sc_job j = { .path = path, .shell = shell };
	reg_sha256_hex(data, len, j.content_sha);
	int rc = val_shellcheck_batch(bin, cache_dir, timeout_s, &j, 1, err, errlen);
	if (rc) return rc;
	if (j.err[0]) {
		snprintf(err, errlen, "%s: %s", path, j.err);
		return VAL_EINPUT;
	}
	*items = j.items;
	*n = j.n;
	return VAL_OK;
}
