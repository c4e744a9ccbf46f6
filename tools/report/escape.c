// SPDX-License-Identifier: GPL-2.0
/*
 * Strings a traced process chose, made safe for each output. Thread names (prctl
 * PR_SET_NAME) and command lines are whatever the process wrote, and so are the symbol
 * and file names of the programs it maps: an escape sequence must not reach the user's
 * terminal, a newline must not break a table, a byte that is not UTF-8 must not make the
 * JSON invalid or the dot file unreadable.
 *
 * - text: control characters (C0, DEL and C1, which terminals obey too) and bytes that
 *   are not UTF-8 as \xNN; valid UTF-8 as it is.
 * - JSON: control characters as \u00XX; bytes that are not UTF-8 as U+FFFD, the
 *   replacement character (JSON strings are Unicode: a byte has no escape of its own).
 * - dot: as text, then '"' and '\' escaped for dot's quoted strings ("\\x1b" shows as
 *   \x1b in the drawing).
 */
#include <errno.h>
#include <string.h>

#include "report/report.h"

/*
 * The length of the UTF-8 sequence at s (at most n bytes), or 0 when it is not one:
 * overlong forms, surrogates and code points above U+10FFFF are not.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned int c = s[0], cp;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Whether the valid sequence of len bytes at s is a control character: C0, DEL, C1. */
static int is_control(const unsigned char *s, size_t len)
{
	return (len == 1 && (s[0] < 0x20 || s[0] == 0x7f)) ||
	       (len == 2 && s[0] == 0xc2 && s[1] < 0xa0);
}

/* Append the text form of up to max bytes of s to buf (of len, NUL-terminated). */
static size_t text_escape(const char *s, size_t max, char *buf, size_t len, int dot)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), o = 0;

	if (!len)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(p + i, n - i);
		char piece[16];
		size_t plen = 0;

		if (!k || is_control(p + i, k)) {
			/* a control character or a stray byte: each byte as \xNN */
			size_t bytes = k ? k : 1;

			for (size_t b = 0; b < bytes; b++)
				plen += snprintf(piece + plen, sizeof(piece) - plen, "%s%02x",
						 dot ? "\\\\x" : "\\x", p[i + b]);
			i += bytes;
		} else if (dot && k == 1 && (p[i] == '"' || p[i] == '\\')) {
			piece[plen++] = '\\';
			piece[plen++] = p[i++];
		} else {
			memcpy(piece, p + i, k);
			plen = k;
			i += k;
		}
		/* a piece that does not fit is left out whole: no half escape, no half UTF-8 */
		if (o + plen >= len)
			break;
		memcpy(buf + o, piece, plen);
		o += plen;
	}
	buf[o] = '\0';
	return o;
}

const char *cw_report__text_safe(const char *s, size_t max, char *buf, size_t len)
{
	text_escape(s ? s : "", max, buf, len, 0);
	return buf;
}

const char *cw_report__dot_safe(const char *s, size_t max, char *buf, size_t len)
{
	text_escape(s ? s : "", max, buf, len, 1);
	return buf;
}

void cw_report__json_string(FILE *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	if (!s) {
		fputs("null", out);
		return;
	}
	n = strnlen(s, max);
	fputc('"', out);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(p + i, n - i);

		if (!k) {
			fputs("\\ufffd", out);
			i++;
		} else if (k == 1 && (p[i] == '"' || p[i] == '\\')) {
			fprintf(out, "\\%c", p[i++]);
		} else if (k == 1 && p[i] == '\n') {
			fputs("\\n", out);
			i++;
		} else if (k == 1 && p[i] == '\t') {
			fputs("\\t", out);
			i++;
		} else if (is_control(p + i, k)) {
			fprintf(out, "\\u%04x", k == 1 ? p[i] : p[i + 1]);
			i += k;
		} else {
			fwrite(p + i, 1, k, out);
			i += k;
		}
	}
	fputc('"', out);
}

int cw_report__write_safe(FILE *out, const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;

	for (size_t i = 0; i < len;) {
		size_t k = utf8_len(p + i, len - i);

		if (k == 1 && (p[i] == '\n' || p[i] == '\t')) {
			fputc(p[i++], out);
		} else if (!k || is_control(p + i, k)) {
			size_t bytes = k ? k : 1;

			for (size_t b = 0; b < bytes; b++)
				fprintf(out, "\\x%02x", p[i + b]);
			i += bytes;
		} else {
			fwrite(p + i, 1, k, out);
			i += k;
		}
	}
	return ferror(out) ? -EIO : 0;
}
