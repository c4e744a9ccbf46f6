// SPDX-License-Identifier: GPL-2.0
/*
 * Column layout of the dashboard's tables (layout.h). A column is dropped whole or
 * shown whole: a number cut short reads as another number, so numbers are never cut,
 * only names, and a cut name ends in ".." so it never passes for another name.
 */
#include <string.h>

#include "tui/layout.h"

size_t cw_tui__fit(const char *s, size_t n)
{
	size_t len = strlen(s), cells = 0, i = 0;

	while (i < len) {
		size_t k = 1;

		/* a UTF-8 lead byte and its continuation bytes are one cell */
		while (i + k < len && ((unsigned char)s[i + k] & 0xc0) == 0x80)
			k++;
		if (cells + 1 > n)
			break;
		cells++;
		i += k;
	}
	return i;
}

/* Display cells of the first bytes of s, a UTF-8 character one. */
static size_t cells_of_n(const char *s, size_t bytes)
{
	size_t n = 0;

	for (size_t i = 0; i < bytes && s[i]; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static size_t cells_of(const char *s)
{
	return cells_of_n(s, strlen(s));
}

int cw_tui__layout(const struct cw_tui_col *cols, size_t nr, int width, int *widths)
{
	int total = -1, shown = 0, flex = -1;

	for (size_t i = 0; i < nr; i++) {
		widths[i] = cols[i].width;
		total += cols[i].width + 1;
		if (cols[i].flex)
			flex = i;
	}
	while (total > width) {
		int worst = -1;

		for (size_t i = 0; i < nr; i++)
			if (widths[i] && cols[i].drop &&
			    (worst < 0 || cols[i].drop > cols[worst].drop))
				worst = i;
		if (worst < 0)
			break;
		total -= widths[worst] + 1;
		widths[worst] = 0;
	}
	if (flex >= 0 && total > width) {
		int less = total - width;

		if (widths[flex] - less < 4)
			less = widths[flex] - 4;
		if (less > 0) {
			widths[flex] -= less;
			total -= less;
		}
	}
	if (flex >= 0 && total < width) {
		int more = width - total;

		if (cols[flex].max && widths[flex] + more > cols[flex].max)
			more = cols[flex].max > widths[flex] ? cols[flex].max - widths[flex] : 0;
		widths[flex] += more;
	}
	for (size_t i = 0; i < nr; i++)
		shown += widths[i] > 0;
	return shown;
}

/* A line being made: bytes and display cells both bounded. */
struct line {
	char *buf;
	size_t at, cap;		/* bytes used, bytes available (without the NUL) */
	size_t cells, width;	/* cells used, cells available */
};

/* Append at most bytes of s: what fits the cells and bytes left, whole characters. */
static void put(struct line *l, const char *s, size_t bytes)
{
	size_t n = cw_tui__fit(s, l->width - l->cells);

	if (bytes > n)
		bytes = n;
	if (bytes > l->cap - l->at)
		bytes = l->cap - l->at;
	/* whole characters only */
	while (bytes && ((unsigned char)s[bytes] & 0xc0) == 0x80)
		bytes--;
	memcpy(l->buf + l->at, s, bytes);
	l->at += bytes;
	for (size_t i = 0; i < bytes; i++)
		l->cells += ((unsigned char)s[i] & 0xc0) != 0x80;
}

static void pad(struct line *l, size_t n)
{
	while (n-- && l->cells < l->width && l->at < l->cap) {
		l->buf[l->at++] = ' ';
		l->cells++;
	}
}

void cw_tui__format_row(const struct cw_tui_col *cols, size_t nr, const int *widths,
			const char *const *cells, int width, char *buf, size_t len)
{
	struct line l = { .buf = buf, .cap = len ? len - 1 : 0, .width = width > 0 ? width : 0 };
	int first = 1;

	for (size_t i = 0; i < nr; i++) {
		const char *s = cells && cells[i] ? cells[i] : cols[i].title;
		size_t w = widths[i], n = cells_of(s);

		if (!w)
			continue;
		if (!first)
			pad(&l, 1);
		first = 0;
		if (n > w && w >= 3) {
			size_t bytes = cw_tui__fit(s, w - 2);

			put(&l, s, bytes);
			put(&l, "..", 2);
			pad(&l, w - 2 - cells_of_n(s, bytes));
		} else if (n > w) {
			put(&l, s, cw_tui__fit(s, w));
		} else {
			if (cols[i].right)
				pad(&l, w - n);
			put(&l, s, strlen(s));
			if (!cols[i].right)
				pad(&l, w - n);
		}
	}
	if (len)
		buf[l.at] = '\0';
}
