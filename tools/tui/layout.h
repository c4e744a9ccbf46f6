/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dashboard's tables without curses: which columns fit a terminal's width and how a
 * row is cut to them. Plain C, so the unit tests check that a narrow terminal drops
 * columns and never overflows a line (selftests/unit/test_tui_layout.c).
 */
#ifndef __CW_TUI_LAYOUT_H
#define __CW_TUI_LAYOUT_H

#include <stddef.h>

struct cw_tui_col {
	const char *title;
	int width;	/* the width it wants; the flex column's least */
	int drop;	/* 0: never dropped; else dropped when narrow, highest first */
	int right;	/* right-aligned (numbers) */
	int flex;	/* takes the room left over (one column: the name) */
	int max;	/* the flex column's widest, 0: no limit */
};

/*
 * The width of each of nr columns in a line of width cells: 0 for a column dropped.
 * Columns are dropped, highest drop first, until the rest fit with a space between
 * each two; then the flex column shrinks (to 4 at least), or takes what is left up to its
 * max. Returns
 * how many columns are shown.
 */
int cw_tui__layout(const struct cw_tui_col *cols, size_t nr, int width, int *widths);

/*
 * One line of the table into buf (len bytes, at least width + 1): each shown column's
 * cell padded or cut to its width ("..": cut), never more than width bytes; a cell cut
 * inside a UTF-8 character is cut before it. cells[i] NULL: the title.
 */
void cw_tui__format_row(const struct cw_tui_col *cols, size_t nr, const int *widths,
			const char *const *cells, int width, char *buf, size_t len);

/* The bytes of s that fit n cells, not splitting a UTF-8 character. */
size_t cw_tui__fit(const char *s, size_t n);

#endif /* __CW_TUI_LAYOUT_H */
