// SPDX-License-Identifier: GPL-2.0
/*
 * Strings a traced process chose, as each output writes them (tools/report/escape.c):
 * text with \xNN for control characters and stray bytes, JSON with \u00XX and U+FFFD,
 * dot with its quotes and backslashes escaped too. Exact bytes out for bytes in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "report/report.h"

/* What a FILE writer made of s. */
static char *written(void (*fn)(FILE *, const char *, size_t), const char *s, size_t max)
{
	size_t len = 0;
	char *buf = NULL;
	FILE *m = open_memstream(&buf, &len);

	fn(m, s, max);
	fclose(m);
	return buf;
}

static void json_writer(FILE *out, const char *s, size_t max)
{
	cw_report__json_string(out, s, max);
}

static void safe(FILE *out, const char *s, size_t max)
{
	cw_report__write_safe(out, s, strnlen(s, max));
}

TEST(text_fields)
{
	char buf[128];

	ASSERT_STREQ("plain name", cw_report__text_safe("plain name", 64, buf, sizeof(buf)));
	ASSERT_STREQ("t\\x0a\\x1b[2J\\xff2", cw_report__text_safe("t\n\x1b[2J\xff" "2", 16, buf,
								   sizeof(buf)));
	/* valid UTF-8 stays; C1 controls (U+009B, a CSI) and DEL do not */
	ASSERT_STREQ("w\xc3\xb6rker \\xc2\\x9b \\x7f", cw_report__text_safe(
		"w\xc3\xb6rker \xc2\x9b \x7f", 64, buf, sizeof(buf)));
	/* overlong, surrogate, truncated sequences: each byte escaped */
	ASSERT_STREQ("\\xc0\\xaf \\xed\\xa0\\x80 \\xe2\\x82", cw_report__text_safe(
		"\xc0\xaf \xed\xa0\x80 \xe2\x82", 64, buf, sizeof(buf)));
	/* at most max bytes of the input; a piece that does not fit is left out whole */
	ASSERT_STREQ("ab", cw_report__text_safe("abcdef", 2, buf, sizeof(buf)));
	ASSERT_STREQ("ab", cw_report__text_safe("ab\x1b", 3, buf, 6));
	ASSERT_STREQ("?", cw_report__text_safe("?", 1, buf, sizeof(buf)));
}

TEST(dot_labels)
{
	char buf[128];

	ASSERT_STREQ("a\\\"b\\\\c\\\\x0a\\\\xff", cw_report__dot_safe("a\"b\\c\n\xff", 64, buf,
								      sizeof(buf)));
}

TEST(json_strings)
{
	char *s;

	s = written(json_writer, "t\n\x1b[2J\xff" "2\t\"\\", 64);
	ASSERT_STREQ("\"t\\n\\u001b[2J\\ufffd2\\t\\\"\\\\\"", s);
	free(s);
	s = written(json_writer, "w\xc3\xb6rker \xc2\x9b \x7f \xf0\x9f\x94\x92", 64);
	ASSERT_STREQ("\"w\xc3\xb6rker \\u009b \\u007f \xf0\x9f\x94\x92\"", s);
	free(s);
	s = written(json_writer, "\xe2\x82", 64);
	ASSERT_STREQ("\"\\ufffd\\ufffd\"", s);
	free(s);
	s = written(json_writer, "abc", 2);
	ASSERT_STREQ("\"ab\"", s);
	free(s);
}

/* The text report's last filter: newlines and tabs kept, every other control escaped. */
TEST(write_safe)
{
	char *s = written(safe, "line\tone\nl\x1b[31m\xff\n", 64);

	ASSERT_STREQ("line\tone\nl\\x1b[31m\\xff\n", s);
	free(s);
}

TEST_HARNESS_MAIN
