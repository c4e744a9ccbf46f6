// SPDX-License-Identifier: GPL-2.0
/*
 * The dashboard's column layout (tools/tui/layout.c), without a terminal: every column
 * when there is room, the flex column taking what is left up to its bound; columns
 * dropped in their order when narrow, never one marked 0; a cut name ends in "..", a
 * line never passes the width, and a UTF-8 character is never split.
 */
#include <string.h>

#include "kselftest_harness.h"
#include "tui/layout.h"

static const struct cw_tui_col cols[] = {
	{ "TID", 5, 0, 1 },
	{ "NAME", 8, 0, 0, 1, 12 },
	{ "POLICY", 6, 2, 0 },
	{ "CPU%", 4, 1, 1 },
	{ "WAIT", 6, 3, 1 },
};
#define NR (sizeof(cols) / sizeof(cols[0]))

TEST(wide_shows_all_flex_bounded)
{
	int w[NR];
	char line[256];

	/* 5+8+6+4+6 and four spaces: 33; the name grows to its bound of 12 */
	ASSERT_EQ(5, cw_tui__layout(cols, NR, 80, w));
	EXPECT_EQ(5, w[0]);
	EXPECT_EQ(12, w[1]);
	EXPECT_EQ(6, w[2]);
	EXPECT_EQ(4, w[3]);
	EXPECT_EQ(6, w[4]);
	cw_tui__format_row(cols, NR, w, NULL, 80, line, sizeof(line));
	EXPECT_STREQ("  TID NAME         POLICY CPU%   WAIT", line);
}

TEST(narrow_drops_in_order)
{
	const char *cells[NR] = { "1234", "workers", "OTHER", "12", "3.1 ms" };
	int w[NR];
	char line[256];

	/* 33 needed; at 30 WAIT (3) goes */
	ASSERT_EQ(4, cw_tui__layout(cols, NR, 30, w));
	EXPECT_EQ(0, w[4]);
	/* at 24 POLICY (2) too: 5+8+4 and two spaces is 19, the name takes 5 more */
	ASSERT_EQ(3, cw_tui__layout(cols, NR, 24, w));
	EXPECT_EQ(0, w[2]);
	EXPECT_EQ(12, w[1]);
	/* at 14 CPU% (1) too, then the name shrinks: TID and NAME are never dropped */
	ASSERT_EQ(2, cw_tui__layout(cols, NR, 12, w));
	EXPECT_EQ(5, w[0]);
	EXPECT_EQ(6, w[1]);
	cw_tui__format_row(cols, NR, w, cells, 12, line, sizeof(line));
	EXPECT_STREQ(" 1234 work..", line);
	/* narrower than the columns that stay: the line is cut at the width */
	ASSERT_EQ(2, cw_tui__layout(cols, NR, 7, w));
	cw_tui__format_row(cols, NR, w, cells, 7, line, sizeof(line));
	EXPECT_EQ(7, strlen(line));
	EXPECT_STREQ(" 1234 w", line);
}

TEST(never_past_width)
{
	const char *cells[NR] = { "123456789", "a-very-long-thread-name", "SCHED_DEADLINE",
				  "100", "1234.5 ms" };
	int w[NR];
	char line[256];

	for (int width = 1; width < 90; width++) {
		cw_tui__layout(cols, NR, width, w);
		cw_tui__format_row(cols, NR, w, cells, width, line, sizeof(line));
		EXPECT_LE(strlen(line), (size_t)width) TH_LOG("width %d: '%s'", width, line);
	}
	/* a buffer smaller than the width bounds the line too */
	cw_tui__layout(cols, NR, 80, w);
	cw_tui__format_row(cols, NR, w, cells, 80, line, 10);
	EXPECT_EQ(9, strlen(line));
}

TEST(utf8_not_split)
{
	static const struct cw_tui_col one[] = { { "NAME", 5, 0, 0 } };
	/* "héllo wörld": é and ö are two bytes, one cell each */
	const char *cells[1] = { "h\xc3\xa9llo w\xc3\xb6rld" };
	int w[1];
	char line[64];

	ASSERT_EQ(1, cw_tui__layout(one, 1, 5, w));
	cw_tui__format_row(one, 1, w, cells, 5, line, sizeof(line));
	/* three cells of name and the cut mark: "hél.." */
	EXPECT_STREQ("h\xc3\xa9l..", line);
	EXPECT_EQ(3, cw_tui__fit("h\xc3\xa9llo", 2));
	EXPECT_EQ(1, cw_tui__fit("h\xc3\xa9llo", 1));
	EXPECT_EQ(0, cw_tui__fit("h", 0));
}

TEST_HARNESS_MAIN
