/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "msg.h"

/*
 * Every block protobuf-c gets from the decoder starts with a header that
 * records its size (cw_alloc's free needs it, the budget counts it, and
 * it tells how many bytes a decoded string really had, see str_ok) and
 * the arena it was carved from, if any. 16 bytes keep the block as
 * aligned as the allocator's.
 */
#define HDR 16

/* ---- field limits (§16) ------------------------------------------------ */

/*
 * From the wire, a string is a copy of len bytes plus a NUL in a block of
 * len + 1 bytes. A NUL inside would make C code see a shorter string than
 * the peer sent (a node name or host that compares equal to another), so
 * the block size, not strlen, is the string's length.
 */
static bool str_ok(bool wire, const char *s, size_t max)
{
	size_t n;

	if (s == protobuf_c_empty_string)
		return true;
	if (!wire)
		return strlen(s) <= max;
	memcpy(&n, s - HDR, sizeof(n));
	return n - 1 <= max && !memchr(s, 0, n - 1);
}

static bool strs_ok(bool wire, char *const *s, size_t n, size_t max_n, size_t max_len)
{
	if (n > max_n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!str_ok(wire, s[i], max_len))
			return false;
	return true;
}

static bool token_ok(const ProtobufCBinaryData *b)
{
	return b->len == 0 || b->len == CW_MSG_TOKEN_LEN;
}

static bool hello_ok(bool wire, const Causeway__V1__Hello *h)
{
	/* Re-encoding never grows a Hello, so from the wire this is at most
	 * what was received. */
	if (protobuf_c_message_get_packed_size(&h->base) > CW_MSG_HELLO_MAX ||
	    !str_ok(wire, h->node_name, CW_MSG_NAME_MAX) ||
	    !str_ok(wire, h->pool, CW_MSG_NAME_MAX) ||
	    !str_ok(wire, h->agent_version, CW_MSG_VERSION_MAX))
		return false;
	if (h->n_labels > CW_MSG_LABELS_MAX || h->n_dictionary_ids > CW_MSG_DICT_IDS_MAX ||
	    h->n_allowed_ports > CW_MSG_LIST_MAX || !token_ok(&h->boot_id))
		return false;
	for (size_t i = 0; i < h->n_labels; i++)
		if (!str_ok(wire, h->labels[i]->key, CW_MSG_LABEL_KEY_MAX) ||
		    !str_ok(wire, h->labels[i]->value, CW_MSG_LABEL_VALUE_MAX))
			return false;
	/* 0 names no dictionary (§14): listing it is malformed, not a wish. */
	for (size_t i = 0; i < h->n_dictionary_ids; i++)
		if (h->dictionary_ids[i] == 0)
			return false;
	return strs_ok(wire, h->features, h->n_features, CW_MSG_FEATURES_MAX,
		       CW_MSG_FEATURE_LEN_MAX);
}

static bool hello_ack_ok(bool wire, const Causeway__V1__HelloAck *a)
{
	return str_ok(wire, a->node_name, CW_MSG_NAME_MAX) &&
	       str_ok(wire, a->gateway_version, CW_MSG_VERSION_MAX) &&
	       token_ok(&a->stateless_reset_token) &&
	       strs_ok(wire, a->features, a->n_features, CW_MSG_FEATURES_MAX,
		       CW_MSG_FEATURE_LEN_MAX);
}

static bool headers_ok(bool wire, Causeway__V1__Header *const *h, size_t n)
{
	size_t total = 0;

	if (n > CW_MSG_HEADERS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		/* Each string is at most the message, so the sum cannot wrap. */
		if (!str_ok(wire, h[i]->name, SIZE_MAX) || !str_ok(wire, h[i]->value, SIZE_MAX))
			return false;
		total += strlen(h[i]->name) + strlen(h[i]->value);
	}
	return total <= CW_MSG_HEADER_BYTES_MAX;
}

static bool api_request_ok(bool wire, const Causeway__V1__ApiRequest *r)
{
	return str_ok(wire, r->verb, SIZE_MAX) && str_ok(wire, r->path, CW_MSG_PATH_MAX) &&
	       str_ok(wire, r->query, CW_MSG_PATH_MAX) &&
	       headers_ok(wire, r->headers, r->n_headers);
}

static bool peers_ok(bool wire, Causeway__V1__Peer *const *p, size_t n)
{
	if (n > CW_MSG_LIST_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!str_ok(wire, p[i]->node_name, CW_MSG_NAME_MAX) ||
		    !str_ok(wire, p[i]->address, SIZE_MAX))
			return false;
	return true;
}

static bool peer_probe_ok(bool wire, const Causeway__V1__PeerProbe *p)
{
	if (!peers_ok(wire, p->targets, p->n_targets) || p->n_results > CW_MSG_LIST_MAX)
		return false;
	for (size_t i = 0; i < p->n_results; i++)
		if (!str_ok(wire, p->results[i]->node_name, CW_MSG_NAME_MAX) ||
		    !str_ok(wire, p->results[i]->error, SIZE_MAX))
			return false;
	return true;
}

/* No known member: unknown fields stand for a member of a later version;
 * without them the Envelope is empty. */
static bool unknown_ok(const cw_envelope *env)
{
	return env->base.n_unknown_fields > 0;
}

static bool envelope_ok(bool wire, const cw_envelope *env)
{
	/* Every member is a message pointer, so any one of them tells. */
	if (env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET && !env->hello)
		return false;
	switch (env->msg_case) {
	case CAUSEWAY__V1__ENVELOPE__MSG_HELLO:
		return hello_ok(wire, env->hello);
	case CAUSEWAY__V1__ENVELOPE__MSG_HELLO_ACK:
		return hello_ack_ok(wire, env->hello_ack);
	case CAUSEWAY__V1__ENVELOPE__MSG_HEARTBEAT:
		return true;
	case CAUSEWAY__V1__ENVELOPE__MSG_API_REQUEST:
		return api_request_ok(wire, env->api_request);
	case CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE:
		return headers_ok(wire, env->api_response->headers, env->api_response->n_headers);
	case CAUSEWAY__V1__ENVELOPE__MSG_WATCH_EVENT:
		return str_ok(wire, env->watch_event->resource_version, SIZE_MAX);
	case CAUSEWAY__V1__ENVELOPE__MSG_DIAL:
		return str_ok(wire, env->dial->host, CW_MSG_NAME_MAX) &&
		       str_ok(wire, env->dial->origin, SIZE_MAX);
	case CAUSEWAY__V1__ENVELOPE__MSG_DIAL_RESULT:
		return str_ok(wire, env->dial_result->reason, CW_MSG_REASON_MAX);
	case CAUSEWAY__V1__ENVELOPE__MSG_ASSIGNMENT:
		return str_ok(wire, env->assignment->pool, CW_MSG_NAME_MAX) &&
		       peers_ok(wire, env->assignment->peers, env->assignment->n_peers);
	case CAUSEWAY__V1__ENVELOPE__MSG_PEER_PROBE:
		return peer_probe_ok(wire, env->peer_probe);
	case CAUSEWAY__V1__ENVELOPE__MSG_CLOSE:
		return str_ok(wire, env->close->reason, CW_MSG_REASON_MAX);
	case CAUSEWAY__V1__ENVELOPE__MSG_ERROR:
		return str_ok(wire, env->error->reason, CW_MSG_REASON_MAX);
	default:
		return unknown_ok(env);
	}
}

/*
 * protobuf-c turns an over-long encoding of field number 0 (80 00, which
 * protobuf forbids) into an unknown field instead of an error, and would
 * write it back as a plain 0 that it then refuses. Refuse it here, in
 * every message the Envelope holds.
 */
static bool unknown_tags_ok(const ProtobufCMessage *m)
{
	for (size_t i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return false;
	return true;
}

static bool tags_ok(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *desc = m->descriptor;

	if (!unknown_tags_ok(m))
		return false;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		const char *at = (const char *)m + f->offset;
		const char *q = (const char *)m + f->quantifier_offset;
		ProtobufCMessage *const *v = (ProtobufCMessage *const *)at;
		size_t n = 1;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)q != f->id)
				continue; /* another member of the union */
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)q;
			v = *(ProtobufCMessage *const *const *)at;
		}
		for (size_t j = 0; j < n; j++)
			if (v[j] && !tags_ok(v[j]))
				return false;
	}
	return true;
}

/* The Envelope's fields are all its oneof: only the set member (present,
 * once envelope_ok has passed) is worth walking into. */
static bool envelope_tags_ok(const cw_envelope *env)
{
	return unknown_tags_ok(&env->base) &&
	       (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET ||
		tags_ok(&env->hello->base));
}

int cw_msg_check(const cw_envelope *env)
{
	return envelope_ok(false, env) ? 0 : -EBADMSG;
}

/* ---- encoding ---------------------------------------------------------- */

/* Protobuf's own varints (base 128), inside the Envelope: not cw_varint. */
static size_t pb_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static size_t pb_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* The set member: every member is a message pointer (see envelope_ok). */
static ProtobufCMessage *member(const cw_envelope *env)
{
	return &env->hello->base;
}

/* An Envelope is its member's tag (field number msg_case, wire type 2),
 * length and bytes. */
static uint64_t member_tag(const cw_envelope *env)
{
	return (uint64_t)env->msg_case << 3 | PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
}

/*
 * Whether the Envelope is its member alone, as every Envelope this side
 * builds is (one from the wire may carry unknown fields too). Then it is
 * sized and packed here around the member: protobuf-c's walk of the
 * Envelope would size the member's tree once for the Envelope and again
 * for the member's length before packing it.
 */
static bool member_only(const cw_envelope *env)
{
	return env->base.n_unknown_fields == 0 &&
	       env->msg_case != CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET && env->hello;
}

/* The Envelope's packed size, and in *@mlen its member's (member_only). */
static size_t envelope_size(const cw_envelope *env, size_t *mlen)
{
	if (!member_only(env))
		return protobuf_c_message_get_packed_size(&env->base);
	*mlen = protobuf_c_message_get_packed_size(member(env));
	return pb_varint_len(member_tag(env)) + pb_varint_len(*mlen) + *mlen;
}

size_t cw_msg_encoded_len(const cw_envelope *env)
{
	size_t mlen = 0;

	return cw_msg_wire_len(envelope_size(env, &mlen));
}

/* As protobuf-c writes a set oneof member: a member that packs to nothing
 * (a Heartbeat) still gets its tag and a zero length. */
static void pack_envelope(const cw_envelope *env, size_t mlen, uint8_t *out)
{
	if (!member_only(env)) {
		protobuf_c_message_pack(&env->base, out);
		return;
	}
	out += pb_varint_put(out, member_tag(env));
	out += pb_varint_put(out, mlen);
	protobuf_c_message_pack(member(env), out);
}

ptrdiff_t cw_msg_encode(const cw_envelope *env, size_t limit, uint8_t *out, size_t cap)
{
	size_t n, mlen = 0, plen;

	if (env->msg_case == CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET)
		return -EINVAL;
	if (cw_msg_check(env) < 0)
		return -EINVAL;
	n = envelope_size(env, &mlen);
	if (n > limit)
		return -EMSGSIZE;
	plen = cw_varint_len(n);
	if (cap < plen || cap - plen < n)
		return -ENOSPC;
	cw_varint_encode(out, cap, n);
	pack_envelope(env, mlen, out + plen);
	return (ptrdiff_t)(plen + n);
}

/* ---- protobuf-c's allocator ---------------------------------------------- */

/*
 * A decoded message is a handful of small blocks (Envelope, member, Body,
 * the body's bytes...): for an ApiResponse, four allocations and four
 * frees cost ~0.7 k instructions through malloc. A message of up to
 * ARENA_MSG_MAX bytes gets one block, the arena, sized for what such a
 * message needs (ARENA_SIZE) and charged to the budget whole; its blocks
 * are carved from it while they fit, the rest allocated alone. The arena
 * goes when the last block carved from it is freed (the decoder holds a
 * reference of its own while unpacking), so an Envelope keeps the whole
 * arena, at most twice its message and 528 bytes, until it is freed.
 */
struct cw_msg_arena {
	size_t size; /* of the whole block, header included */
	size_t refs; /* carved blocks still live, and the decoder while unpacking */
};

_Static_assert(sizeof(struct cw_msg_arena) <= HDR, "the arena's header fits in a block header");

#define ARENA_MSG_MAX (16u * 1024)
/* The copied bytes and strings are at most the message; each struct and
 * header on top is a few dozen bytes, and a message has few of them. */
#define ARENA_SIZE(len) (HDR + 2 * (size_t)(len) + 512)

static void *carve(struct cw_msg_decoder *d, size_t n)
{
	size_t need = (n + HDR + 15) & ~(size_t)15;
	uint8_t *p;

	if (!d->arena || need < n || need > d->arena->size - d->arena_used)
		return NULL;
	p = (uint8_t *)d->arena + d->arena_used;
	d->arena_used += need;
	d->arena->refs++;
	memcpy(p, &n, sizeof(n));
	memcpy(p + sizeof(n), &d->arena, sizeof(d->arena));
	return p + HDR;
}

static void arena_put(struct cw_msg_decoder *d, struct cw_msg_arena *a)
{
	if (--a->refs)
		return;
	d->held -= a->size;
	d->alloc->free(d->alloc->ctx, a, a->size);
}

/* Before unpacking @len bytes: an arena for them, charged to the budget
 * whole. Returns 0 (also when the message is too large for one) or
 * -ENOMEM. */
static int arena_open(struct cw_msg_decoder *d, size_t len)
{
	size_t size = ARENA_SIZE(len);

	if (len > ARENA_MSG_MAX || size > d->budget_end - d->held)
		return 0;
	d->arena = d->alloc->alloc(d->alloc->ctx, size);
	if (!d->arena)
		return -ENOMEM;
	d->arena->size = size;
	d->arena->refs = 1;
	d->arena_used = HDR;
	d->held += size;
	return 0;
}

static void arena_close(struct cw_msg_decoder *d)
{
	if (d->arena)
		arena_put(d, d->arena);
	d->arena = NULL;
}

static void *pb_alloc(void *ctx, size_t n)
{
	struct cw_msg_decoder *d = ctx;
	size_t total = n + HDR;
	uint8_t *p = carve(d, n);

	if (p)
		return p;
	if (total < n || total > d->budget_end - d->held)
		return NULL;
	p = d->alloc->alloc(d->alloc->ctx, total);
	if (!p) {
		d->oom = true;
		return NULL;
	}
	memcpy(p, &n, sizeof(n));
	memset(p + sizeof(n), 0, sizeof(struct cw_msg_arena *));
	d->held += total;
	return p + HDR;
}

static void pb_free(void *ctx, void *ptr)
{
	struct cw_msg_decoder *d = ctx;
	struct cw_msg_arena *a;
	uint8_t *p = ptr;
	size_t n;

	if (!p)
		return;
	p -= HDR;
	memcpy(&n, p, sizeof(n));
	memcpy(&a, p + sizeof(n), sizeof(a));
	if (a) {
		arena_put(d, a);
		return;
	}
	d->held -= n + HDR;
	d->alloc->free(d->alloc->ctx, p, n + HDR);
}

static ProtobufCAllocator pb_allocator(struct cw_msg_decoder *d)
{
	ProtobufCAllocator a = {pb_alloc, pb_free, d};

	return a;
}

/* ---- decoding ---------------------------------------------------------- */

int cw_msg_decoder_init(struct cw_msg_decoder *d, const struct cw_alloc *alloc, size_t limit)
{
	if (!alloc || !alloc->alloc || !alloc->free || limit == 0 || limit > CW_MSG_SIZE_MAX)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	d->alloc = alloc;
	d->limit = limit;
	return 0;
}

static ptrdiff_t fail(struct cw_msg_decoder *d, int err)
{
	d->err = err;
	return err;
}

/*
 * Take prefix bytes from @in (@len > 0). Returns the bytes used; once the
 * prefix is complete d->len holds the length, checked at once (§13.1:
 * before anything of the body is buffered).
 */
static ptrdiff_t read_prefix(struct cw_msg_decoder *d, const uint8_t *in, size_t len)
{
	size_t used = 0, need;
	uint64_t v;

	if (d->prefix_have == 0)
		d->prefix[d->prefix_have++] = in[used++];
	need = cw_varint_len_from_byte(d->prefix[0]);
	while (d->prefix_have < need && used < len)
		d->prefix[d->prefix_have++] = in[used++];
	if (d->prefix_have < need)
		return (ptrdiff_t)used;
	cw_varint_decode(d->prefix, need, &v);
	d->prefix_have = 0;
	if (v == 0)
		return fail(d, -EBADMSG);
	if (v > d->limit)
		return fail(d, -EMSGSIZE);
	d->len = (size_t)v;
	return (ptrdiff_t)used;
}

/* Smallest body buffer: most messages that span chunks are small. */
#define BUF_MIN 2048

/*
 * Add @n body bytes to the buffer. It doubles rather than taking the
 * declared length at once, so memory follows what the peer has actually
 * sent (and the stream's flow control has let through).
 */
static int append(struct cw_msg_decoder *d, const uint8_t *in, size_t n)
{
	size_t want = d->have + n, cap;
	uint8_t *p;

	if (want > d->cap) {
		cap = d->cap ? d->cap * 2 : BUF_MIN;
		if (cap < want)
			cap = want;
		if (cap > d->len)
			cap = d->len;
		p = d->alloc->alloc(d->alloc->ctx, cap);
		if (!p)
			return -ENOMEM;
		if (d->have)
			memcpy(p, d->buf, d->have);
		if (d->buf)
			d->alloc->free(d->alloc->ctx, d->buf, d->cap);
		d->buf = p;
		d->cap = cap;
	}
	memcpy(d->buf + d->have, in, n);
	d->have += n;
	return 0;
}

static void drop_buf(struct cw_msg_decoder *d)
{
	if (d->buf)
		d->alloc->free(d->alloc->ctx, d->buf, d->cap);
	d->buf = NULL;
	d->have = d->cap = 0;
}

/* A protobuf varint of at most 5 bytes (a length here fits in 32 bits):
 * the bytes used, 0 if there is none. */
static size_t pb_varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
	*v = 0;
	for (size_t i = 0; i < len && i < 5; i++) {
		*v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			return i + 1;
	}
	return 0;
}

/*
 * The Envelope as it is always sent: one member's tag (a known field) and
 * length, then the member up to the end. Unpacking the member alone and
 * making the Envelope around it gives what protobuf-c's unpack of the
 * whole would, without its scan of the outer level. Returns 1 with *@out
 * set, 0 when the bytes are anything else (protobuf-c's general path then
 * decides), -1 when unpacking failed.
 */
static int unpack_member(ProtobufCAllocator *a, const uint8_t *p, size_t len,
			 ProtobufCMessage **out)
{
	const ProtobufCMessageDescriptor *ed = &causeway__v1__envelope__descriptor;
	const ProtobufCFieldDescriptor *f;
	ProtobufCMessage *m;
	cw_envelope *env;
	uint64_t mlen;
	size_t l;

	/* Every member's tag is one byte (fields 1 to 15). */
	if (len == 0 || p[0] & 0x80 || (p[0] & 7) != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
		return 0;
	f = protobuf_c_message_descriptor_get_field(ed, p[0] >> 3);
	if (!f || f->type != PROTOBUF_C_TYPE_MESSAGE || !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
		return 0;
	l = pb_varint_get(p + 1, len - 1, &mlen);
	if (l == 0 || mlen != len - 1 - l)
		return 0;
	env = a->alloc(a->allocator_data, sizeof(*env));
	if (!env)
		return -1;
	m = protobuf_c_message_unpack(f->descriptor, a, (size_t)mlen, p + 1 + l);
	if (!m) {
		a->free(a->allocator_data, env);
		return -1;
	}
	causeway__v1__envelope__init(env);
	env->msg_case = (Causeway__V1__Envelope__MsgCase)f->id;
	env->hello = (Causeway__V1__Hello *)m;
	*out = &env->base;
	return 1;
}

static int unpack(struct cw_msg_decoder *d, const uint8_t *p, size_t len, cw_envelope **out)
{
	ProtobufCAllocator a = pb_allocator(d);
	ProtobufCMessage *m = NULL;
	int r;

	d->oom = false;
	d->budget_end = d->held + CW_MSG_DECODE_BUDGET(len);
	if (arena_open(d, len) < 0) {
		d->budget_end = d->held;
		return -ENOMEM;
	}
	r = unpack_member(&a, p, len, &m);
	if (r == 0)
		m = protobuf_c_message_unpack(&causeway__v1__envelope__descriptor, &a, len, p);
	arena_close(d);
	/* Nothing else allocates through the budget until the next unpack. */
	d->budget_end = d->held;
	if (!m)
		return d->oom ? -ENOMEM : -EBADMSG;
	if (!envelope_ok(true, (cw_envelope *)m) || !envelope_tags_ok((cw_envelope *)m)) {
		protobuf_c_message_free_unpacked(m, &a);
		return -EBADMSG;
	}
	*out = (cw_envelope *)m;
	return 0;
}

/*
 * Take body bytes from @in. A body that arrives whole in one chunk is
 * decoded where it lies; only one that spans chunks is copied.
 */
static ptrdiff_t read_body(struct cw_msg_decoder *d, const uint8_t *in, size_t len,
			   cw_envelope **out)
{
	size_t take = d->len - d->have;
	int rc;

	if (take > len)
		take = len;
	if (take == 0)
		return 0;
	if (d->have == 0 && take == d->len) {
		rc = unpack(d, in, d->len, out);
	} else {
		rc = append(d, in, take);
		if (rc < 0)
			return fail(d, rc);
		if (d->have < d->len)
			return (ptrdiff_t)take;
		rc = unpack(d, d->buf, d->len, out);
		drop_buf(d);
	}
	if (rc < 0)
		return fail(d, rc);
	d->len = 0;
	return (ptrdiff_t)take;
}

ptrdiff_t cw_msg_decode(struct cw_msg_decoder *d, const uint8_t *in, size_t len, cw_envelope **out)
{
	ptrdiff_t used = 0, r;

	*out = NULL;
	if (d->err)
		return d->err;
	if (d->len == 0) {
		if (len == 0)
			return 0;
		used = read_prefix(d, in, len);
		if (used < 0 || d->len == 0)
			return used;
	}
	r = read_body(d, in + used, len - (size_t)used, out);
	return r < 0 ? r : used + r;
}

int cw_msg_decoder_finish(struct cw_msg_decoder *d)
{
	if (d->err)
		return d->err;
	if (d->len || d->prefix_have)
		return (int)fail(d, -EBADMSG);
	return 0;
}

void cw_msg_free(struct cw_msg_decoder *d, cw_envelope *env)
{
	ProtobufCAllocator a = pb_allocator(d);

	if (!env)
		return;
	/* What protobuf-c would free, without its walk of the Envelope. */
	if (member_only(env)) {
		protobuf_c_message_free_unpacked(member(env), &a);
		pb_free(d, env);
		return;
	}
	protobuf_c_message_free_unpacked(&env->base, &a);
}

void cw_msg_decoder_free(struct cw_msg_decoder *d)
{
	drop_buf(d);
}
