/* tests/lib/failsync.c — LD_PRELOAD shim for tests: while the file named by
 * $VIGIL_FAILSYNC exists, fsync and fdatasync of any file whose name ends in
 * "-wal" fail with EIO (a disk that can no longer make writes durable). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int should_fail(int fd)
{
	const char *flag = getenv("VIGIL_FAILSYNC");
	if (!flag || access(flag, F_OK)) return 0;
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 4) return 0;
	path[n] = '\0';
	return !strcmp(path + n - 4, "-wal");
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (should_fail(fd)) { errno = EIO; return -1; }
	if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}

int fsync(int fd)
{
	static int (*real)(int);
	if (should_fail(fd)) { errno = EIO; return -1; }
	if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}
