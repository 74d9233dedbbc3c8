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

int val_shellcheck(const char *bin, const char *cache_dir, int timeout_s, const char *path,
                   const char *data, size_t len, const char *shell,
                   val_sc_item **items, size_t *n, char *err, size_t errlen)
{
	char exe[PATH_MAX], key[65], cpath[PATH_MAX + 80];
	char *out = NULL, *kbuf = NULL;
	size_t outlen = 0;
	int rc = VAL_EINPUT;
	*items = NULL;
	*n = 0;
	if (!bin || !*bin) bin = "shellcheck";
	if (find_bin(bin, exe, sizeof exe)) {
		snprintf(err, errlen, "ShellCheck is not installed (no executable \"%s\"%s): install it with "
		         "\"apt-get install shellcheck\" (Debian/Ubuntu) or \"dnf install ShellCheck\", or set "
		         "validator.shellcheck in the config; the gate does not pass without it "
		         "(--ignore-rule V204 skips this rule explicitly)", bin, strchr(bin, '/') ? "" : " in $PATH");
		return VAL_EINPUT;
	}
	/* the cache key: content, shell, and the binary's identity */
	struct stat bst;
	if (stat(exe, &bst)) memset(&bst, 0, sizeof bst);
	char ident[PATH_MAX + 128];
	int il = snprintf(ident, sizeof ident, "%s|%lld|%lld|%s|", exe, (long long)bst.st_size,
	                  (long long)bst.st_mtime, shell ? shell : "");
	kbuf = malloc(len + (size_t)il);
	if (!kbuf) { snprintf(err, errlen, "out of memory"); return VAL_EINTERNAL; }
	memcpy(kbuf, ident, (size_t)il);
	memcpy(kbuf + il, data, len);
	val_sha256_hex(kbuf, len + (size_t)il, key);
	free(kbuf);
	if (cache_dir) {
		snprintf(cpath, sizeof cpath, "%s/%s.json", cache_dir, key);
		size_t cl;
		if (val_read_file(cpath, SC_OUT_MAX, &out, &cl) == 0) {
			if (parse_items(out, items, n) == 0) { free(out); return VAL_OK; }
			free(out);
			out = NULL;
		}
	}
	char shopt[32];
	char *argv[8];
	int a = 0;
	argv[a++] = exe;
	argv[a++] = "--format=json";
	if (shell) { snprintf(shopt, sizeof shopt, "--shell=%s", shell); argv[a++] = shopt; }
	argv[a++] = "--";
	argv[a++] = (char *)path;
	argv[a] = NULL;
	int status;
	char why[256];
	if (run_capture(argv, timeout_s > 0 ? timeout_s : 30, &out, &outlen, &status, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	if (status == 127 && !outlen) { snprintf(err, errlen, "%s: could not execute %s", path, exe); goto out; }
	if ((status != 0 && status != 1) || parse_items(out, items, n)) {
		snprintf(err, errlen, "%s: ShellCheck failed (exit status %d)", path, status);
		goto out;
	}
	if (cache_dir) {
		char tmp[PATH_MAX + 100];
		snprintf(tmp, sizeof tmp, "%s.%d.tmp", cpath, (int)getpid());
		mkdirs(cache_dir);
		FILE *f = fopen(tmp, "we");
		if (f) {
			int ok = fwrite(out, 1, outlen, f) == outlen;
			ok &= fclose(f) == 0;
			if (!ok || rename(tmp, cpath)) unlink(tmp);
		}
	}
	rc = VAL_OK;
out:
	free(out);
	return rc;
}
