/*
 * sasl_gssapi.c: the client side of the SASL GSSAPI mechanism (RFC 4752)
 * over Kerberos 5, using the system's GSS-API library (RFC 2743/2744,
 * MIT krb5).  The target is the host-based service SERVICE@HOST (e.g.
 * imap@mail.example.org, i.e. imap/mail.example.org@REALM); the client's
 * credentials are the default ones (the user's ticket cache, kinit).
 * Mutual authentication is required.  After the context is established
 * the server's wrapped security-layer offer is unwrapped and checked, and
 * the client answers "no security layer" plus the authorization identity
 * (the authzid if given, else the user name: the mailbox to log in to).
 * No security layer is ever installed.
 *
 * The `principal' option is deliberately not used: fetchmail(1) 6.4.37
 * documents it as Kerberos IV only ("It does not apply to Kerberos 5 or
 * GSSAPI") and the reference ignores it for GSSAPI.
 */
#include "config.h"

#include <stdbool.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "sasl_priv.h"
#include "xmalloc.h"

#ifdef HAVE_GSSAPI

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>

/* Bounds: a server token (AP-REP, wrapped offer) is at most a few hundred
 * bytes; host and service names and the authzid are short. */
#define GS_MAX_TOKEN	65536
#define GS_MAX_HOST	255
#define GS_MAX_SERVICE	64
#define GS_MAX_AUTHZID	1024
#define GS_ERRTEXT	512

/* RFC 4752 section 3.3: security layer bit masks. */
#define GS_LAYER_NONE	0x01

enum gs_phase {
	PH_START,	/* nothing sent yet */
	PH_CONTEXT,	/* context being established */
	PH_LAYER,	/* established; waiting for the wrapped offer */
	PH_DONE,	/* final response produced */
	PH_FAILED
};

struct gs_state {
	enum gs_phase	 phase;
	gss_name_t	 target;
	gss_cred_id_t	 cred;
	gss_ctx_id_t	 ctx;
};

/* Append the text of every message gss_display_status has for CODE (of
 * TYPE) to buf (size n, NUL-terminated), separated by "; ". */
static void
gs_append_status(char *buf, size_t n, OM_uint32 code, int type)
{
	OM_uint32 maj, min, more = 0;
	gss_buffer_desc msg;
	size_t len;
	int guard = 0;
	bool noise;

	do {
		msg.length = 0;
		msg.value = NULL;
		maj = gss_display_status(&min, code, type,
		    (gss_OID)gss_mech_krb5, &more, &msg);
		if (GSS_ERROR(maj))
			break;
		len = strlen(buf);
		/* A zero minor code mapped by the mechanism glue reads
		 * "Success": no information, left out. */
		noise = type == GSS_C_MECH_CODE && msg.length == 7 &&
		    memcmp(msg.value, "Success", 7) == 0;
		if (msg.length > 0 && !noise && len + 3 < n)
			snprintf(buf + len, n - len, "%s%.*s",
			    len > 0 ? "; " : "",
			    (int)(msg.length > INT_MAX ? INT_MAX :
			    msg.length), (const char *)msg.value);
		gss_release_buffer(&min, &msg);
	} while (more != 0 && ++guard < 8);
}

/* Record a GSS-API failure of the call WHAT with its readable reasons;
 * returns SASL_FAIL.  GSS_S_FAILURE's own text ("Unspecified GSS failure.
 * Minor code may provide more information") is left out when a minor code
 * is there to say more. */
static enum sasl_rc
gs_fail(struct sasl *x, const char *what, OM_uint32 major, OM_uint32 minor)
{
	char text[GS_ERRTEXT];
	struct gs_state *st = x->state;

	if (st != NULL)
		st->phase = PH_FAILED;
	text[0] = '\0';
	if (GSS_ROUTINE_ERROR(major) != GSS_S_FAILURE || minor == 0)
		gs_append_status(text, sizeof text, major, GSS_C_GSS_CODE);
	if (minor != 0)
		gs_append_status(text, sizeof text, minor, GSS_C_MECH_CODE);
	if (text[0] == '\0')
		snprintf(text, sizeof text, "major 0x%08lx, minor 0x%08lx",
		    (unsigned long)major, (unsigned long)minor);
	return sasl_fail(x, _("GSSAPI: %s: %s"), what, text);
}

/* Copy a GSS buffer into *out and *outlen (allocated, at least one byte) and
 * release it. */
static void
gs_take(gss_buffer_desc *b, unsigned char **out, size_t *outlen)
{
	OM_uint32 min;

	*out = xmalloc(b->length > 0 ? b->length : 1);
	if (b->length > 0)
		memcpy(*out, b->value, b->length);
	*outlen = b->length;
	gss_release_buffer(&min, b);
}

/* Whether s is a plausible name part: printable, no blanks, no '@'. */
static bool
gs_name_ok(const char *s, size_t max)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '@')
			return false;
	}
	return true;
}

/* Import the target SERVICE@HOST as a host-based service name. */
static int
gs_init(struct sasl *x)
{
	struct gs_state *st;
	gss_buffer_desc nb;
	OM_uint32 maj, min;
	char *name;

	if (!gs_name_ok(x->cred.service, GS_MAX_SERVICE))
		return (sasl_fail(x, _("GSSAPI: no valid service name")), -1);
	if (!gs_name_ok(x->cred.host, GS_MAX_HOST))
		return (sasl_fail(x, _("GSSAPI: no valid server host name")),
		    -1);
	st = xcalloc(1, sizeof *st);
	st->phase = PH_START;
	st->target = GSS_C_NO_NAME;
	st->cred = GSS_C_NO_CREDENTIAL;
	st->ctx = GSS_C_NO_CONTEXT;
	x->state = st;
	name = xasprintf("%s@%s", x->cred.service, x->cred.host);
	nb.value = name;
	nb.length = strlen(name);
	maj = gss_import_name(&min, &nb, GSS_C_NT_HOSTBASED_SERVICE,
	    &st->target);
	free(name);
	if (GSS_ERROR(maj))
		return (gs_fail(x, "gss_import_name", maj, min), -1);
	return 0;
}

/* One gss_init_sec_context round with the server's token in (NULL: the
 * first call); the token to send goes to *out.  Moves the phase on. */
static enum sasl_rc
gs_context_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct gs_state *st = x->state;
	gss_buffer_desc ib, ob = GSS_C_EMPTY_BUFFER;
	OM_uint32 maj, min, rmin, flags = 0;

	ib.value = (void *)(uintptr_t)in;
	ib.length = in != NULL ? inlen : 0;
	maj = gss_init_sec_context(&min, st->cred, &st->ctx, st->target,
	    (gss_OID)gss_mech_krb5, GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG,
	    0, GSS_C_NO_CHANNEL_BINDINGS, in != NULL ? &ib : GSS_C_NO_BUFFER,
	    NULL, &ob, &flags, NULL);
	if (GSS_ERROR(maj)) {
		gss_release_buffer(&rmin, &ob);
		return gs_fail(x, "gss_init_sec_context", maj, min);
	}
	if (maj & GSS_S_CONTINUE_NEEDED) {
		st->phase = PH_CONTEXT;
	} else {
		/* Established: the server must have proved itself. */
		if (!(flags & GSS_C_MUTUAL_FLAG)) {
			gss_release_buffer(&rmin, &ob);
			st->phase = PH_FAILED;
			return sasl_fail(x, _("GSSAPI: the server did not "
			    "authenticate itself (no mutual authentication)"));
		}
		st->phase = PH_LAYER;
	}
	gs_take(&ob, out, outlen);
	return SASL_CONTINUE;
}

/* The initial response: the first context token, from the default
 * credentials (the user's Kerberos ticket). */
static int
gs_initial(struct sasl *x, unsigned char **out, size_t *outlen)
{
	struct gs_state *st = x->state;
	gss_OID_set_desc mechs;
	OM_uint32 maj, min;

	*out = NULL;
	*outlen = 0;
	if (st == NULL || st->phase != PH_START)
		return (sasl_fail(x, _("GSSAPI: exchange already started")),
		    -1);
	mechs.count = 1;
	mechs.elements = (gss_OID)gss_mech_krb5;
	maj = gss_acquire_cred(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs,
	    GSS_C_INITIATE, &st->cred, NULL, NULL);
	if (GSS_ERROR(maj)) {
		char why[GS_ERRTEXT];

		why[0] = '\0';
		if (min != 0)
			gs_append_status(why, sizeof why, min,
			    GSS_C_MECH_CODE);
		else
			gs_append_status(why, sizeof why, maj,
			    GSS_C_GSS_CODE);
		if (why[0] == '\0')
			snprintf(why, sizeof why, "%s",
			    _("no credentials available"));
		st->phase = PH_FAILED;
		sasl_fail(x, _("GSSAPI: no usable Kerberos ticket (run "
		    "kinit): %s"), why);
		return -1;
	}
	if (gs_context_step(x, NULL, 0, out, outlen) != SASL_CONTINUE)
		return -1;
	return 1;
}

/* The answer to the server's wrapped security-layer offer: "no security
 * layer", maximum size 0, then the authorization identity, wrapped with
 * integrity only. */
static enum sasl_rc
gs_layer_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct gs_state *st = x->state;
	gss_buffer_desc ib, pb = GSS_C_EMPTY_BUFFER, ob = GSS_C_EMPTY_BUFFER;
	OM_uint32 maj, min, rmin;
	const char *authz;
	unsigned char offer0;
	unsigned char *reply;
	size_t alen;
	int conf = 0;

	if (inlen == 0) {
		st->phase = PH_FAILED;
		return sasl_fail(x, _("GSSAPI: the server sent no "
		    "security-layer offer"));
	}
	ib.value = (void *)(uintptr_t)in;
	ib.length = inlen;
	maj = gss_unwrap(&min, st->ctx, &ib, &pb, &conf, NULL);
	if (GSS_ERROR(maj)) {
		gss_release_buffer(&rmin, &pb);
		return gs_fail(x, "gss_unwrap", maj, min);
	}
	if (pb.length != 4) {
		size_t got = pb.length;

		gss_release_buffer(&rmin, &pb);
		st->phase = PH_FAILED;
		return sasl_fail(x, _("GSSAPI: malformed security-layer "
		    "offer (%zu bytes, expected 4)"), got);
	}
	offer0 = ((const unsigned char *)pb.value)[0];
	gss_release_buffer(&rmin, &pb);
	if (!(offer0 & GS_LAYER_NONE)) {
		st->phase = PH_FAILED;
		return sasl_fail(x, _("GSSAPI: the server requires a security "
		    "layer (offer 0x%02x), which is not supported"),
		    (unsigned)offer0);
	}
	authz = x->cred.authzid != NULL ? x->cred.authzid :
	    x->cred.user != NULL ? x->cred.user : "";
	alen = strlen(authz);
	if (alen > GS_MAX_AUTHZID) {
		st->phase = PH_FAILED;
		return sasl_fail(x, _("GSSAPI: authorization identity too "
		    "long"));
	}
	reply = xmalloc(4 + alen);
	reply[0] = GS_LAYER_NONE;
	reply[1] = reply[2] = reply[3] = 0;
	memcpy(reply + 4, authz, alen);
	pb.value = reply;
	pb.length = 4 + alen;
	maj = gss_wrap(&min, st->ctx, 0, GSS_C_QOP_DEFAULT, &pb, &conf, &ob);
	free(reply);
	if (GSS_ERROR(maj)) {
		gss_release_buffer(&rmin, &ob);
		return gs_fail(x, "gss_wrap", maj, min);
	}
	gs_take(&ob, out, outlen);
	st->phase = PH_DONE;
	return SASL_DONE;
}

/* One decoded server challenge in, the decoded response out. */
static enum sasl_rc
gs_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	struct gs_state *st = x->state;

	*out = NULL;
	*outlen = 0;
	if (st == NULL)
		return sasl_fail(x, _("GSSAPI: not initialised"));
	if (inlen > GS_MAX_TOKEN) {
		st->phase = PH_FAILED;
		return sasl_fail(x, _("GSSAPI: server token too long (%zu "
		    "bytes)"), inlen);
	}
	switch (st->phase) {
	case PH_START:
		/* No initial response was sent: the first, empty
		 * challenge asks for it. */
		if (inlen != 0) {
			st->phase = PH_FAILED;
			return sasl_fail(x, _("GSSAPI: unexpected data in the "
			    "first challenge"));
		}
		return gs_initial(x, out, outlen) == 1 ? SASL_CONTINUE :
		    SASL_FAIL;
	case PH_CONTEXT:
		if (inlen == 0) {
			st->phase = PH_FAILED;
			return sasl_fail(x, _("GSSAPI: the server sent an "
			    "empty context token"));
		}
		return gs_context_step(x, in, inlen, out, outlen);
	case PH_LAYER:
		return gs_layer_step(x, in, inlen, out, outlen);
	case PH_DONE:
		st->phase = PH_FAILED;
		return sasl_fail(x, _("GSSAPI: unexpected challenge after the "
		    "exchange completed"));
	case PH_FAILED:
	default:
		break;
	}
	return sasl_fail(x, _("GSSAPI: exchange already failed"));
}

/* Success only after the final response was produced; RFC 4752 defines
 * no additional data with success. */
static int
gs_success(struct sasl *x, const unsigned char *in, size_t inlen)
{
	struct gs_state *st = x->state;

	(void)in;
	if (st == NULL || st->phase != PH_DONE) {
		sasl_fail(x, _("GSSAPI: the server reported success before "
		    "the exchange completed"));
		return -1;
	}
	if (inlen != 0) {
		sasl_fail(x, _("GSSAPI: unexpected additional data with "
		    "success"));
		return -1;
	}
	return 0;
}

/* Release the context, the credentials and the target name. */
static void
gs_free_state(struct sasl *x)
{
	struct gs_state *st = x->state;
	OM_uint32 min;

	if (st == NULL)
		return;
	if (st->ctx != GSS_C_NO_CONTEXT)
		gss_delete_sec_context(&min, &st->ctx, GSS_C_NO_BUFFER);
	if (st->cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&min, &st->cred);
	if (st->target != GSS_C_NO_NAME)
		gss_release_name(&min, &st->target);
	free(st);
	x->state = NULL;
}

const struct sasl_ops sasl_gssapi_ops = {
	gs_init, gs_initial, gs_step, gs_success, gs_free_state
};

bool
sasl_gssapi_built(void)
{
	return true;
}

#else /* !HAVE_GSSAPI */

/* Not built: every use fails with a reason. */
static int
gs_init(struct sasl *x)
{
	sasl_fail(x, _("GSSAPI support is not built in (configure found "
	    "no krb5-gssapi)"));
	return -1;
}

/* Not built: as gs_init. */
static enum sasl_rc
gs_step(struct sasl *x, const unsigned char *in, size_t inlen,
    unsigned char **out, size_t *outlen)
{
	(void)in;
	(void)inlen;
	*out = NULL;
	*outlen = 0;
	return sasl_fail(x, _("GSSAPI support is not built in"));
}

const struct sasl_ops sasl_gssapi_ops = {
	gs_init, NULL, gs_step, NULL, NULL
};

bool
sasl_gssapi_built(void)
{
	return false;
}

#endif /* HAVE_GSSAPI */
