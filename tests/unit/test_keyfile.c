/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets in files (control/keyfile.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "control/keyfile.h"

static char dir[64], path[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/cw-keyfile.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/key", dir);
	return 0;
}

static int teardown(void **state)
{
	char tmp[160];

	(void)state;
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	unlink(tmp);
	return rmdir(dir);
}

static void test_round_trip(void **state)
{
	uint8_t a[32], b[32], c[16];
	struct stat st;

	(void)state;
	assert_int_equal(cw_keyfile_read(path, b, sizeof(b)), -ENOENT);
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 13 + 5);
	assert_int_equal(cw_keyfile_write(path, a, sizeof(a)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cw_keyfile_read(path, b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
	/* A file of another size is not a key of this one. */
	assert_int_equal(cw_keyfile_read(path, c, sizeof(c)), -EINVAL);
	assert_int_equal(cw_keyfile_write(path, c, 0), 0);
	assert_int_equal(cw_keyfile_read(path, b, sizeof(b)), -EINVAL);
}

/* The first call makes a random key and keeps it; later calls read it. */
static void test_load_or_create(void **state)
{
	uint8_t a[32], b[32], zero[32] = {0};

	(void)state;
	unlink(path);
	assert_int_equal(cw_keyfile_load_or_create(path, a, sizeof(a)), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_int_equal(cw_keyfile_load_or_create(path, b, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_load_or_create),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
