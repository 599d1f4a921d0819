/*
 * imap_parse.c: pure IMAP response parsers (see imap_parse.h).
 *
 * The lexer works on one line; it never reads past its end and never
 * allocates.  Everything a server sends is bounded here: numbers by an
 * explicit maximum, literals by IMAP_LITERAL_MAX, nesting by the size of
 * an unsigned counter; message counts are bounded by the caller with
 * IMAP_MSGS_MAX.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "imap_parse.h"

/* imap_fetch states */
enum {
	F_OPEN = 0,		/* want "(" */
	F_NAME,			/* want an item name or ")" */
	F_VALUE,		/* want the value of item */
	F_FLAGS,		/* inside the FLAGS list */
	F_SKIP,			/* inside a list skipped, depth > 0 */
	F_DONE
};

/* imap_fetch items */
enum {
	I_OTHER = 0,
	I_UID,
	I_SIZE,
	I_FLAGS,
	I_BODY
};

static bool	atom_char(unsigned char);
static enum imap_tok lex_quoted(struct imap_lex *, struct imap_token *);
static enum imap_tok lex_literal(struct imap_lex *, struct imap_token *);
static enum imap_tok lex_atom(struct imap_lex *, struct imap_token *);
static void	resp_text(const char *, const char *, struct imap_resp *);
static enum imap_cond cond_of(const struct imap_token *);
static int	untagged(struct imap_lex *, const char *, struct imap_resp *);
static int	fetch_value(struct imap_fetch *, struct imap_token *,
		    uint64_t *);
static int	fetch_name(struct imap_fetch *, struct imap_token *);
static int	fetch_step(struct imap_fetch *, struct imap_token *,
		    uint64_t *);

void
imap_lex_init(struct imap_lex *lx, const char *p, size_t len)
{
	lx->p = p;
	lx->end = p + len;
}

/* Bytes that may appear in an atom outside brackets. */
static bool
atom_char(unsigned char c)
{
	if (c <= 0x20 || c == 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"' && c != ']';
}

/* A quoted string; the span excludes the quotes. */
static enum imap_tok
lex_quoted(struct imap_lex *lx, struct imap_token *t)
{
	const char *s = ++lx->p;

	while (lx->p < lx->end && *lx->p != '"') {
		if (*lx->p == '\0' || *lx->p == '\r' || *lx->p == '\n')
			return t->type = IMAP_T_ERROR;
		if (*lx->p == '\\') {
			if (lx->end - lx->p < 2)
				return t->type = IMAP_T_ERROR;
			lx->p++;
		}
		lx->p++;
	}
	if (lx->p >= lx->end)
		return t->type = IMAP_T_ERROR;
	t->p = s;
	t->len = (size_t)(lx->p - s);
	lx->p++;
	return t->type = IMAP_T_QUOTED;
}

/* {n} or {n+} (or ~{n}), which must end the line. */
static enum imap_tok
lex_literal(struct imap_lex *lx, struct imap_token *t)
{
	const char	*s;
	size_t		 n;

	if (*lx->p == '~')
		lx->p++;
	if (lx->p >= lx->end || *lx->p != '{')
		return t->type = IMAP_T_ERROR;
	s = ++lx->p;
	while (lx->p < lx->end && *lx->p >= '0' && *lx->p <= '9')
		lx->p++;
	n = (size_t)(lx->p - s);
	if (lx->p < lx->end && *lx->p == '+')
		lx->p++;
	if (lx->p >= lx->end || *lx->p != '}' || lx->p + 1 != lx->end ||
	    imap_number(s, n, IMAP_LITERAL_MAX, &t->literal) != 0)
		return t->type = IMAP_T_ERROR;
	lx->p++;
	t->p = s;
	t->len = n;
	return t->type = IMAP_T_LITERAL;
}

/* An atom; a "[...]" inside it (BODY[HEADER.FIELDS (A B)]) is taken
 * whole, blanks and parentheses included. */
static enum imap_tok
lex_atom(struct imap_lex *lx, struct imap_token *t)
{
	const char *s = lx->p;

	while (lx->p < lx->end) {
		if (*lx->p == '[') {
			while (lx->p < lx->end && *lx->p != ']') {
				if (*lx->p == '\0')
					return t->type = IMAP_T_ERROR;
				lx->p++;
			}
			if (lx->p >= lx->end)
				return t->type = IMAP_T_ERROR;
			lx->p++;
			continue;
		}
		if (!atom_char((unsigned char)*lx->p))
			break;
		lx->p++;
	}
	if (lx->p == s)
		return t->type = IMAP_T_ERROR;
	t->p = s;
	t->len = (size_t)(lx->p - s);
	return t->type = IMAP_T_ATOM;
}

enum imap_tok
imap_lex_next(struct imap_lex *lx, struct imap_token *t)
{
	memset(t, 0, sizeof(*t));
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p >= lx->end)
		return t->type = IMAP_T_END;
	t->p = lx->p;
	t->len = 1;
	switch (*lx->p) {
	case '(':
		lx->p++;
		return t->type = IMAP_T_LPAREN;
	case ')':
		lx->p++;
		return t->type = IMAP_T_RPAREN;
	case '"':
		return lex_quoted(lx, t);
	case '{':
		return lex_literal(lx, t);
	case '~':
		if (lx->end - lx->p > 1 && lx->p[1] == '{')
			return lex_literal(lx, t);
		return lex_atom(lx, t);
	default:
		return lex_atom(lx, t);
	}
}

int
imap_number(const char *p, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t	v = 0;
	size_t		i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = (unsigned)(p[i] - '0');
		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

bool
imap_tok_is(const struct imap_token *t, const char *s)
{
	size_t n = strlen(s);

	return t->type == IMAP_T_ATOM && t->len == n &&
	    strncasecmp(t->p, s, n) == 0;
}

/* Split resp-text at p..end into an optional [code args] and text. */
static void
resp_text(const char *p, const char *end, struct imap_resp *r)
{
	const char *c, *q;

	while (p < end && *p == ' ')
		p++;
	r->code = r->codearg = NULL;
	r->codelen = r->codearglen = 0;
	if (p < end && *p == '[' &&
	    (q = memchr(p, ']', (size_t)(end - p))) != NULL) {
		for (c = p + 1; c < q && *c != ' '; c++)
			;
		r->code = p + 1;
		r->codelen = (size_t)(c - (p + 1));
		if (c < q)
			c++;
		r->codearg = c;
		r->codearglen = (size_t)(q - c);
		p = q + 1;
		while (p < end && *p == ' ')
			p++;
	}
	r->text = p;
	r->textlen = (size_t)(end - p);
}

static enum imap_cond
cond_of(const struct imap_token *t)
{
	if (imap_tok_is(t, "OK"))
		return IMAP_C_OK;
	if (imap_tok_is(t, "NO"))
		return IMAP_C_NO;
	if (imap_tok_is(t, "BAD"))
		return IMAP_C_BAD;
	if (imap_tok_is(t, "PREAUTH"))
		return IMAP_C_PREAUTH;
	if (imap_tok_is(t, "BYE"))
		return IMAP_C_BYE;
	return IMAP_C_NONE;
}

/* The part of an untagged response after "* ". */
static int
untagged(struct imap_lex *lx, const char *end, struct imap_resp *r)
{
	struct imap_token t;

	if (imap_lex_next(lx, &t) != IMAP_T_ATOM)
		return -1;
	if (imap_number(t.p, t.len, UINT64_MAX, &r->num) == 0) {
		if (imap_lex_next(lx, &t) != IMAP_T_ATOM)
			return -1;
		if (imap_tok_is(&t, "EXISTS"))
			r->what = IMAP_W_EXISTS;
		else if (imap_tok_is(&t, "EXPUNGE"))
			r->what = IMAP_W_EXPUNGE;
		else if (imap_tok_is(&t, "RECENT"))
			r->what = IMAP_W_RECENT;
		else if (imap_tok_is(&t, "FETCH"))
			r->what = IMAP_W_FETCH;
		else
			r->what = IMAP_W_OTHER;
	} else if ((r->cond = cond_of(&t)) != IMAP_C_NONE) {
		r->what = IMAP_W_STATUS;
		resp_text(lx->p, end, r);
		return 0;
	} else if (imap_tok_is(&t, "CAPABILITY"))
		r->what = IMAP_W_CAPABILITY;
	else
		r->what = IMAP_W_OTHER;
	while (lx->p < end && *lx->p == ' ')
		lx->p++;
	r->rest = r->text = lx->p;
	r->restlen = r->textlen = (size_t)(end - lx->p);
	if (r->what != IMAP_W_CAPABILITY) {
		int k = imap_line_literal(r->rest, r->restlen, &r->literal);

		if (k < 0)
			return -1;
		r->has_literal = k == 1;
	}
	return 0;
}

int
imap_line_literal(const char *p, size_t len, uint64_t *n)
{
	const char	*end = p + len, *q, *digits_end;
	uint64_t	 v;

	if (len < 3 || end[-1] != '}')
		return 0;
	digits_end = end - 1;
	if (digits_end[-1] == '+')
		digits_end--;
	for (q = digits_end; q > p && q[-1] >= '0' && q[-1] <= '9'; q--)
		;
	if (q == digits_end || q == p || q[-1] != '{')
		return 0;
	if (imap_number(q, (size_t)(digits_end - q), IMAP_LITERAL_MAX,
	    &v) != 0)
		return -1;
	*n = v;
	return 1;
}

int
imap_parse_response(const char *line, size_t len, struct imap_resp *r)
{
	struct imap_lex		lx;
	struct imap_token	t;
	const char		*end = line + len;

	memset(r, 0, sizeof(*r));
	if (len >= 1 && line[0] == '+' && (len == 1 || line[1] == ' ')) {
		r->kind = IMAP_R_CONT;
		r->text = line + (len > 1 ? 2 : 1);
		r->textlen = (size_t)(end - r->text);
		return 0;
	}
	imap_lex_init(&lx, line, len);
	if (len >= 2 && line[0] == '*' && line[1] == ' ') {
		r->kind = IMAP_R_UNTAGGED;
		lx.p = line + 2;
		if (untagged(&lx, end, r) != 0)
			return -1;
		return 0;
	}
	if (imap_lex_next(&lx, &t) != IMAP_T_ATOM || lx.p >= end ||
	    *lx.p != ' ')
		return -1;
	r->kind = IMAP_R_TAGGED;
	r->tag = t.p;
	r->taglen = t.len;
	if (imap_lex_next(&lx, &t) != IMAP_T_ATOM ||
	    (r->cond = cond_of(&t)) == IMAP_C_NONE ||
	    r->cond == IMAP_C_PREAUTH || r->cond == IMAP_C_BYE)
		return -1;
	resp_text(lx.p, end, r);
	return 0;
}

void
imap_parse_caps(struct imap_caps *c, const char *p, size_t len)
{
	static const struct {
		const char	*name;
		size_t		 off;
	} tab[] = {
		{ "IMAP4rev1", offsetof(struct imap_caps, imap4rev1) },
		{ "IMAP4rev2", offsetof(struct imap_caps, imap4rev2) },
		{ "IMAP4", offsetof(struct imap_caps, imap4) },
		{ "STARTTLS", offsetof(struct imap_caps, starttls) },
		{ "LOGINDISABLED", offsetof(struct imap_caps, logindisabled) },
		{ "IDLE", offsetof(struct imap_caps, idle) },
		{ "UIDPLUS", offsetof(struct imap_caps, uidplus) },
		{ "LITERAL+", offsetof(struct imap_caps, literalplus) },
		{ "SASL-IR", offsetof(struct imap_caps, sasl_ir) },
		{ "AUTH=PLAIN", offsetof(struct imap_caps, auth_plain) },
		{ "AUTH=LOGIN", offsetof(struct imap_caps, auth_login) },
		{ "AUTH=CRAM-MD5", offsetof(struct imap_caps, auth_cram_md5) },
		{ "AUTH=EXTERNAL", offsetof(struct imap_caps, auth_external) },
		{ "AUTH=GSSAPI", offsetof(struct imap_caps, auth_gssapi) },
		{ "AUTH=NTLM", offsetof(struct imap_caps, auth_ntlm) },
		{ "AUTH=XOAUTH2", offsetof(struct imap_caps, auth_xoauth2) },
		{ "AUTH=SCRAM-SHA-1", offsetof(struct imap_caps, auth_scram_sha1) },
		{ "AUTH=SCRAM-SHA-256",
		    offsetof(struct imap_caps, auth_scram_sha256) },
		{ "AUTH=X-OTP", offsetof(struct imap_caps, auth_otp) },
		{ "AUTH=OAUTHBEARER",
		    offsetof(struct imap_caps, auth_oauthbearer) },
	};
	const char	*end = p + len, *w;
	size_t		 i, n;

	memset(c, 0, sizeof(*c));
	c->known = true;
	/* words between blanks; anything else in them just never matches */
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		for (w = p; p < end && *p != ' ' && *p != '\t'; p++)
			;
		n = (size_t)(p - w);
		for (i = 0; n > 0 && i < sizeof(tab) / sizeof(tab[0]); i++)
			if (strlen(tab[i].name) == n &&
			    strncasecmp(w, tab[i].name, n) == 0)
				*(bool *)((char *)c + tab[i].off) = true;
	}
}

void
imap_fetch_init(struct imap_fetch *f)
{
	memset(f, 0, sizeof(*f));
	f->state = F_OPEN;
}

/* An item name in state F_NAME. */
static int
fetch_name(struct imap_fetch *f, struct imap_token *t)
{
	if (t->type == IMAP_T_RPAREN) {
		f->state = F_DONE;
		return 0;
	}
	if (t->type != IMAP_T_ATOM)
		return -1;
	if (imap_tok_is(t, "UID"))
		f->item = I_UID;
	else if (imap_tok_is(t, "RFC822.SIZE"))
		f->item = I_SIZE;
	else if (imap_tok_is(t, "FLAGS"))
		f->item = I_FLAGS;
	else if (imap_tok_is(t, "BODY[]") || imap_tok_is(t, "BODY[]<0>") ||
	    imap_tok_is(t, "RFC822") || imap_tok_is(t, "BINARY[]"))
		f->item = I_BODY;
	else
		f->item = I_OTHER;
	f->state = F_VALUE;
	return 0;
}

/* The value of the current item: 0 consumed, 1 literal, -1 bad. */
static int
fetch_value(struct imap_fetch *f, struct imap_token *t, uint64_t *lit)
{
	uint64_t v;

	f->state = F_NAME;
	switch (f->item) {
	case I_UID:
		if (t->type != IMAP_T_ATOM ||
		    imap_number(t->p, t->len, UINT32_MAX, &v) != 0 || v == 0)
			return -1;
		f->uid = (uint32_t)v;
		f->has_uid = true;
		return 0;
	case I_SIZE:
		if (t->type != IMAP_T_ATOM ||
		    imap_number(t->p, t->len, IMAP_LITERAL_MAX, &v) != 0)
			return -1;
		f->size = v;
		f->has_size = true;
		return 0;
	case I_FLAGS:
		if (t->type != IMAP_T_LPAREN)
			return -1;
		f->has_flags = true;
		f->seen = f->deleted = false;
		f->state = F_FLAGS;
		return 0;
	case I_BODY:
		if (t->type == IMAP_T_LITERAL) {
			f->body = true;
			*lit = t->literal;
			return 1;
		}
		if (t->type != IMAP_T_QUOTED && t->type != IMAP_T_ATOM)
			return -1;
		f->body_missing = true;
		return 0;
	default:
		if (t->type == IMAP_T_LITERAL) {
			*lit = t->literal;
			return 1;
		}
		if (t->type == IMAP_T_LPAREN) {
			f->depth = 1;
			f->state = F_SKIP;
			return 0;
		}
		return t->type == IMAP_T_ATOM || t->type == IMAP_T_QUOTED ?
		    0 : -1;
	}
}

/* One token in the current state. */
static int
fetch_step(struct imap_fetch *f, struct imap_token *t, uint64_t *lit)
{
	switch (f->state) {
	case F_OPEN:
		if (t->type != IMAP_T_LPAREN)
			return -1;
		f->state = F_NAME;
		return 0;
	case F_NAME:
		return fetch_name(f, t);
	case F_VALUE:
		return fetch_value(f, t, lit);
	case F_FLAGS:
		if (t->type == IMAP_T_RPAREN) {
			f->state = F_NAME;
			return 0;
		}
		if (t->type != IMAP_T_ATOM)
			return -1;
		if (imap_tok_is(t, "\\Seen"))
			f->seen = true;
		else if (imap_tok_is(t, "\\Deleted"))
			f->deleted = true;
		return 0;
	case F_SKIP:
		if (t->type == IMAP_T_LITERAL) {
			*lit = t->literal;
			return 1;
		}
		if (t->type == IMAP_T_LPAREN) {
			if (f->depth == 1000)
				return -1;
			f->depth++;
		} else if (t->type == IMAP_T_RPAREN) {
			if (--f->depth == 0)
				f->state = F_NAME;
		} else if (t->type != IMAP_T_ATOM && t->type != IMAP_T_QUOTED)
			return -1;
		return 0;
	default:
		return -1;
	}
}

int
imap_fetch_parse(struct imap_fetch *f, const char *p, size_t len,
    uint64_t *lit)
{
	struct imap_lex		lx;
	struct imap_token	t;
	int			r;

	f->body = false;
	imap_lex_init(&lx, p, len);
	for (;;) {
		if (imap_lex_next(&lx, &t) == IMAP_T_ERROR)
			return -1;
		if (t.type == IMAP_T_END)
			return f->state == F_DONE ? 0 : -1;
		if (f->state == F_DONE)
			return -1;	/* bytes after the closing ")" */
		if ((r = fetch_step(f, &t, lit)) != 0)
			return r;
	}
}

int
imap_quote(struct buf *b, const char *s, size_t len)
{
	size_t i;

	if (buf_append(b, "\"", 1) != 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
			return -1;
		if ((s[i] == '"' || s[i] == '\\') && buf_append(b, "\\", 1) != 0)
			return -1;
		if (buf_append(b, &s[i], 1) != 0)
			return -1;
	}
	return buf_append(b, "\"", 1);
}

int
imap_uidset(struct buf *b, const uint32_t *uids, size_t n, size_t *i,
    size_t maxlen)
{
	size_t	start = buf_len(b), j;
	char	tmp[32];
	int	k;

	while (*i < n) {
		for (j = *i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			;
		if (j > *i)
			k = snprintf(tmp, sizeof(tmp), "%s%lu:%lu",
			    buf_len(b) > start ? "," : "",
			    (unsigned long)uids[*i], (unsigned long)uids[j]);
		else
			k = snprintf(tmp, sizeof(tmp), "%s%lu",
			    buf_len(b) > start ? "," : "",
			    (unsigned long)uids[*i]);
		if (k < 0 || (size_t)k >= sizeof(tmp))
			return -1;
		if (buf_len(b) > start &&
		    buf_len(b) - start + (size_t)k > maxlen)
			return 0;
		if (buf_append(b, tmp, (size_t)k) != 0)
			return -1;
		*i = j + 1;
	}
	return 0;
}
