/*
 * addr.c: address lists in header field bodies (see addr.h).
 *
 * The compatible scanner (addr_iter_*) is a byte-at-a-time state machine
 * whose states are the ones fetchmail 6.4.37's behaviour shows: skipping
 * between addresses, a bare address, a quoted string, a (nested) comment
 * and an angle address.  What it does in each state was measured on the
 * reference (tests/multidrop, and the envelope sender tests of msg.c):
 *   - between addresses blanks and commas are skipped;
 *   - a bare address collects every byte but blanks until a comma;
 *   - a comment is dropped, its nesting counted; a backslash does not
 *     escape inside it;
 *   - a quoted string is kept with its quotes, whatever it holds;
 *   - "<" forgets what was collected and collects up to ">", which ends
 *     the address; another "<" inside starts over;
 *   - a backslash elsewhere keeps itself and the next byte;
 *   - the end of the text ends the last address (trailing blanks go).
 *
 * The RFC 5322 parser (addr_parse_list) first cuts the text into tokens
 * (atoms, quoted strings, domain literals, specials), comments and blanks
 * dropped, then runs a small state machine over the tokens.  Both use a
 * counter, never recursion, for nesting.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "buf.h"
#include "xmalloc.h"

enum ist { I_SKIP, I_BARE, I_QUOTE, I_COMMENT, I_ANGLE };

static bool	is_blank(int);
static int	fold_at(const char *, size_t, size_t, size_t *);

/* Blank as the scanners see it: space, tab, CR, LF, VT, FF. */
static bool
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

/*
 * At s[i]: 0 for an ordinary byte; 1 for a line end that continues (a
 * blank follows), *len its length without the blank; 2 for a line end
 * that ends the text.
 */
static int
fold_at(const char *s, size_t n, size_t i, size_t *len)
{
	size_t	k = i;

	if (s[k] == '\r' && k + 1 < n && s[k + 1] == '\n')
		k++;
	if (s[k] != '\n')
		return 0;
	*len = k + 1 - i;
	if (k + 1 < n && (s[k + 1] == ' ' || s[k + 1] == '\t'))
		return 1;
	return 2;
}

void
addr_iter_init(struct addr_iter *it, const char *s, size_t n, bool has_name)
{
	const char	*colon;

	it->s = s;
	it->n = n;
	it->i = 0;
	it->done = false;
	if (has_name) {
		colon = memchr(s, ':', n);
		it->i = colon == NULL ? n : (size_t)(colon - s) + 1;
	}
}

/* Drop trailing blanks from out. */
static void
trim_right(struct buf *out)
{
	while (buf_len(out) > 0 &&
	    is_blank((unsigned char)buf_data(out)[buf_len(out) - 1]))
		buf_truncate(out, buf_len(out) - 1);
}

int
addr_iter_next(struct addr_iter *it, struct buf *out)
{
	enum ist	 st = I_SKIP, back = I_SKIP;
	const char	*s = it->s;
	size_t		 i, fl;
	long long	 depth = 0;
	bool		 spoilt = false;
	int		 f;
	char		 c;

	buf_reset(out);
	while (!it->done) {
		for (i = it->i; i < it->n; i++) {
			c = s[i];
			f = (c == '\r' || c == '\n') ?
			    fold_at(s, it->n, i, &fl) : 0;
			if (f == 2)
				break;
			if (f == 1) {
				if (st == I_QUOTE || st == I_ANGLE)
					spoilt = true;
				i += fl - 1;
				continue;
			}
			if (c == '\\' && st != I_COMMENT) {
				if (buf_append(out, s + i,
				    i + 1 < it->n ? 2 : 1) != 0)
					return -1;
				if (i + 1 < it->n)
					i++;
				continue;
			}
			switch (st) {
			case I_SKIP:
			case I_BARE:
				if (c == ',' && st == I_BARE &&
				    buf_len(out) > 0) {
					it->i = i + 1;
					goto emit;
				}
				if (c == ',' || is_blank((unsigned char)c))
					break;
				if (c == '(') {
					back = st;
					st = I_COMMENT;
					depth = 1;
				} else if (c == '"') {
					back = st;
					st = I_QUOTE;
					if (buf_append(out, &c, 1) != 0)
						return -1;
				} else if (c == '<') {
					buf_reset(out);
					spoilt = false;
					st = I_ANGLE;
				} else {
					st = I_BARE;
					if (buf_append(out, &c, 1) != 0)
						return -1;
				}
				break;
			case I_QUOTE:
				if (buf_append(out, &c, 1) != 0)
					return -1;
				if (c == '"')
					st = back;
				break;
			case I_COMMENT:
				if (c == '(')
					depth++;
				else if (c == ')' && --depth == 0)
					st = back;
				break;
			case I_ANGLE:
				if (c == '>') {
					it->i = i + 1;
					goto emit;
				}
				if (c == '<') {
					buf_reset(out);
					spoilt = false;
					break;
				}
				if (c == '"') {
					back = I_ANGLE;
					st = I_QUOTE;
				}
				if (buf_append(out, &c, 1) != 0)
					return -1;
				break;
			}
		}
		/* end of the text */
		it->i = it->n;
		it->done = true;
		if (buf_len(out) == 0 && st != I_ANGLE)
			return 0;
emit:
		trim_right(out);
		if (!spoilt)
			return 1;
		/* a line break inside quotes or brackets: not an address */
		buf_reset(out);
		st = back = I_SKIP;
		spoilt = false;
	}
	return 0;
}

/* ---------------------------------------------------------------- RFC 5322 */

/* Token kinds of the RFC 5322 reader. */
enum tok { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL };

struct lexer {
	const char	*s;
	size_t		 n;
	size_t		 i;
	struct buf	*text;		/* the token's (decoded) text */
	enum tok	 kind;
	char		 special;	/* for T_SPECIAL */
	bool		 blank_before;	/* CFWS before this token */
};

struct spec_acc {
	struct buf	*local;		/* local part so far (SMTP form) */
	struct buf	*domain;
	int		 stage;		/* 0 empty, 1 local, 2 after @, 3 dom */
	bool		 local_dot;	/* the local part ended with "." */
	bool		 phrase;	/* several blank-separated words */
};

static bool	 atext(int);
static void	 lex_skip_cfws(struct lexer *);
static void	 lex_next(struct lexer *);
static void	 lex_quoted(struct lexer *, char, char);
static void	 spec_flush(struct spec_acc *, struct addr_list *, size_t,
		    size_t *);
static void	 spec_word(struct spec_acc *, const struct lexer *,
		    struct addr_list *, size_t, size_t *);
static void	 put_local_word(struct buf *, const char *, size_t, bool);

/* A byte allowed in an atom (RFC 5322 atext, plus 8-bit bytes). */
static bool
atext(int c)
{
	if (c >= 0x80)
		return true;
	if (c <= ' ' || c == 0x7f)
		return false;
	return strchr("()<>[]:;@\\,.\"", c) == NULL;
}

/* Skip blanks, line ends and (nested, possibly unclosed) comments. */
static void
lex_skip_cfws(struct lexer *lx)
{
	long long	depth = 0;
	unsigned char	c;

	while (lx->i < lx->n) {
		c = (unsigned char)lx->s[lx->i];
		if (depth > 0) {
			if (c == '\\')
				lx->i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(') {
			depth = 1;
		} else if (!is_blank(c)) {
			return;
		}
		lx->i++;
		lx->blank_before = true;
	}
}

/* A quoted string or domain literal from lx->i (at the opener) to close. */
static void
lex_quoted(struct lexer *lx, char open, char close)
{
	char	c;

	lx->i++;
	while (lx->i < lx->n) {
		c = lx->s[lx->i++];
		if (c == close)
			return;
		if (c == '\\' && lx->i < lx->n)
			c = lx->s[lx->i++];
		else if (c == '\r' || c == '\n')
			continue;	/* unfold */
		if (c == '\0' || (open == '[' && (c == '[' || c == '\\')))
			continue;	/* NULs are never kept */
		buf_append(lx->text, &c, 1);
	}
}

/* The next token into lx->kind / lx->text / lx->special. */
static void
lex_next(struct lexer *lx)
{
	size_t	start;
	char	c;

	lx->blank_before = false;
	lex_skip_cfws(lx);
	buf_reset(lx->text);
	if (lx->i >= lx->n) {
		lx->kind = T_END;
		return;
	}
	c = lx->s[lx->i];
	if (c == '"') {
		lx->kind = T_QSTR;
		lex_quoted(lx, '"', '"');
	} else if (c == '[') {
		lx->kind = T_DLIT;
		lex_quoted(lx, '[', ']');
	} else if (atext((unsigned char)c)) {
		lx->kind = T_ATOM;
		start = lx->i;
		while (lx->i < lx->n && atext((unsigned char)lx->s[lx->i]))
			lx->i++;
		buf_append(lx->text, lx->s + start, lx->i - start);
	} else {
		lx->kind = T_SPECIAL;
		lx->special = c;
		lx->i++;
	}
}

/* Append one local-part word, quoting it when it is not an atom. */
static void
put_local_word(struct buf *b, const char *w, size_t n, bool quoted)
{
	size_t	k;
	bool	need = n == 0;

	for (k = 0; k < n && !need; k++)
		need = !atext((unsigned char)w[k]);
	if (!quoted || !need) {
		buf_append(b, w, n);
		return;
	}
	buf_append(b, "\"", 1);
	for (k = 0; k < n; k++) {
		if (w[k] == '"' || w[k] == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, w + k, 1);
	}
	buf_append(b, "\"", 1);
}

/* Emit the addr-spec collected so far (if any) and start afresh. */
static void
spec_flush(struct spec_acc *a, struct addr_list *out, size_t max,
    size_t *added)
{
	struct addr_spec	*sp;

	if (a->stage == 0 || buf_len(a->local) == 0 ||
	    (a->stage == 1 && a->phrase)) {
		/* nothing, or a display name without an address */
		buf_reset(a->local);
		buf_reset(a->domain);
		a->stage = 0;
		a->local_dot = a->phrase = false;
		return;
	}
	if (max == 0 || out->n < max) {
		if (out->n == out->cap) {
			out->cap = out->cap ? out->cap * 2 : 8;
			out->v = xreallocarray(out->v, out->cap,
			    sizeof(*out->v));
		}
		sp = &out->v[out->n++];
		sp->local = xstrndup(buf_data(a->local), buf_len(a->local));
		sp->domain = a->stage >= 2 && buf_len(a->domain) > 0 ?
		    xstrndup(buf_data(a->domain), buf_len(a->domain)) : NULL;
		(*added)++;
	}
	buf_reset(a->local);
	buf_reset(a->domain);
	a->stage = 0;
	a->local_dot = a->phrase = false;
}

/*
 * Feed one word token (atom, quoted string, domain literal) or "." / "@"
 * to the addr-spec being built.  A word after a complete domain without
 * a "." between them starts a new address (obsolete missing comma).
 */
static void
spec_word(struct spec_acc *a, const struct lexer *lx, struct addr_list *out,
    size_t max, size_t *added)
{
	const char	*t = buf_data(lx->text);
	size_t		 n = buf_len(lx->text);
	bool		 dot = lx->kind == T_SPECIAL && lx->special == '.';

	if (lx->kind == T_SPECIAL && lx->special == '@') {
		a->phrase = false;
		if (a->stage == 2 && buf_len(a->domain) == 0)
			return;			/* "@@": ignore the extra */
		if (a->stage >= 2) {		/* a@b@c: b joins the local */
			buf_append(a->local, "@", 1);
			buf_append(a->local, buf_data(a->domain),
			    buf_len(a->domain));
			buf_reset(a->domain);
		}
		a->stage = 2;
		return;
	}
	if (a->stage == 3 && !dot && lx->blank_before &&
	    buf_len(a->domain) > 0 &&
	    buf_data(a->domain)[buf_len(a->domain) - 1] != '.')
		spec_flush(a, out, max, added);
	if (a->stage <= 1) {
		if (dot) {
			buf_append(a->local, ".", 1);
			a->local_dot = true;
		} else {
			if (a->stage == 1 && !a->local_dot &&
			    lx->blank_before) {
				/* "John Smith": a phrase; a later "@"
				 * makes the last word the local part */
				buf_reset(a->local);
				a->phrase = true;
			}
			put_local_word(a->local, t, n, lx->kind == T_QSTR);
			a->local_dot = false;
		}
		a->stage = 1;
		return;
	}
	if (dot)
		buf_append(a->domain, ".", 1);
	else if (lx->kind == T_DLIT) {
		buf_append(a->domain, "[", 1);
		buf_append(a->domain, t, n);
		buf_append(a->domain, "]", 1);
	} else
		buf_append(a->domain, t, n);
	a->stage = 3;
}

size_t
addr_parse_list(const char *s, size_t n, struct addr_list *out, size_t max)
{
	struct lexer	lx;
	struct spec_acc	a;
	size_t		added = 0;
	bool		angle = false, route = false;

	memset(&lx, 0, sizeof(lx));
	lx.s = s;
	lx.n = n;
	lx.text = buf_create(n + 16);
	a.local = buf_create(n + 16);
	a.domain = buf_create(n + 16);
	a.stage = 0;
	a.local_dot = a.phrase = false;
	for (;;) {
		lex_next(&lx);
		if (lx.kind == T_END)
			break;
		if (lx.kind != T_SPECIAL ||
		    lx.special == '.' || lx.special == '@') {
			if (route)
				continue;	/* the route's domains */
			if (angle && a.stage == 0 && lx.kind == T_SPECIAL &&
			    lx.special == '@') {
				route = true;	/* <@relay,@relay:a@b> */
				continue;
			}
			spec_word(&a, &lx, out, max, &added);
			continue;
		}
		switch (lx.special) {
		case '<':
			/* a display name so far is not an address */
			buf_reset(a.local);
			buf_reset(a.domain);
			a.stage = 0;
			a.local_dot = a.phrase = false;
			angle = true;
			route = false;
			break;
		case '>':
			if (angle)
				spec_flush(&a, out, max, &added);
			angle = route = false;
			break;
		case ':':
			if (route) {
				route = false;
				break;
			}
			/* group name: forget it */
			if (!angle) {
				buf_reset(a.local);
				buf_reset(a.domain);
				a.stage = 0;
				a.local_dot = a.phrase = false;
			}
			break;
		case ',':
			if (route)
				break;		/* between route domains */
			/* FALLTHROUGH */
		case ';':
			spec_flush(&a, out, max, &added);
			angle = route = false;
			break;
		default:
			break;		/* stray specials: ignored */
		}
	}
	spec_flush(&a, out, max, &added);
	buf_free(lx.text);
	buf_free(a.local);
	buf_free(a.domain);
	return added;
}

void
addr_list_free(struct addr_list *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].local);
		free(l->v[i].domain);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
