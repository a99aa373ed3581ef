/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel/msg.c and tunnel/msg_body.c: every Envelope kind through encoder
 * and decoder, the bytes of PROTOCOL.md B.8, a stream of messages fed at
 * every split point and byte by byte, and the hostile side: lengths over
 * the limit (refused before a byte is allocated), zero lengths, prefixes
 * and bodies cut by FIN, malformed protobuf, the field limits of §16,
 * input built to blow up protobuf-c's allocations, allocator failures and
 * seeded garbage. Bodies packed and unpacked with the shipped dictionary,
 * decompression bombs included.
 *
 * All allocations go through a counting allocator that also checks every
 * free is told the size that was allocated.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "tunnel/msg.h"
#include "tunnel/msg_body.h"

#define N(a)	  (sizeof(a) / sizeof((a)[0]))
#define MIB	  (1024u * 1024)
#define GIB	  (1024ull * 1024 * 1024)
#define DICT_PATH "/conf/causeway.dict"
#define POD_PATH  "/tests/unit/fixtures/pod.json"

/* ---- counting allocator ---------------------------------------------- */

struct counter {
	size_t cur, peak;
	unsigned long allocs;
	long fail_after; /* allocations left before refusing; -1: never */
};

#define HDR 16

static void *cnt_alloc(void *ctx, size_t n)
{
	struct counter *c = ctx;
	uint8_t *p;

	if (c->fail_after == 0)
		return NULL;
	if (c->fail_after > 0)
		c->fail_after--;
	p = malloc(n + HDR);
	assert_non_null(p);
	memcpy(p, &n, sizeof(n));
	c->cur += n;
	if (c->cur > c->peak)
		c->peak = c->cur;
	c->allocs++;
	return p + HDR;
}

static void cnt_free(void *ctx, void *ptr, size_t n)
{
	struct counter *c = ctx;
	uint8_t *p = ptr;
	size_t was;

	assert_non_null(p);
	p -= HDR;
	memcpy(&was, p, sizeof(was));
	assert_int_equal(was, n);
	assert_true(c->cur >= n);
	c->cur -= n;
	free(p);
}

static struct counter cnt;
static const struct cw_alloc counting = {cnt_alloc, cnt_free, &cnt};

static void cnt_reset(void)
{
	memset(&cnt, 0, sizeof(cnt));
	cnt.fail_after = -1;
}

/* ---- scratch memory for building messages ------------------------------ */

static void *kept[4096];
static size_t nkept;

static void *keep(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	assert_non_null(p);
	assert_true(nkept < N(kept));
	kept[nkept++] = p;
	return p;
}

static void release(void)
{
	while (nkept)
		free(kept[--nkept]);
}

static char *str_n(size_t n, char ch)
{
	char *s = keep(n + 1);

	memset(s, ch, n);
	return s;
}

/* ---- one sample of every Envelope kind ---------------------------------- */

#define KINDS 12

struct samples {
	Causeway__V1__Envelope env[KINDS + 1]; /* env[k] has msg_case k */
	Causeway__V1__Hello hello;
	Causeway__V1__Hello__LabelsEntry label[2], *labels[2];
	Causeway__V1__Capacity capacity;
	Causeway__V1__TransportParams tp_agent, tp_gw;
	uint32_t dict_ids[2], ports[3];
	char *features[1];
	Causeway__V1__HelloAck hello_ack;
	Causeway__V1__Heartbeat heartbeat;
	Causeway__V1__ApiRequest api_request;
	Causeway__V1__Header header[2], *headers[2];
	Causeway__V1__Body body, object;
	Causeway__V1__ApiResponse api_response;
	Causeway__V1__WatchEvent watch_event;
	Causeway__V1__Dial dial;
	Causeway__V1__DialResult dial_result;
	Causeway__V1__Assignment assignment;
	Causeway__V1__Peer peer[2], *peers[2];
	Causeway__V1__PeerProbe peer_probe;
	Causeway__V1__ProbeResult result, *results[1];
	Causeway__V1__Close close;
	Causeway__V1__Error error;
};

static const uint8_t token16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void init_hello(struct samples *s)
{
	Causeway__V1__Hello *h = &s->hello;

	causeway__v1__hello__init(h);
	h->node_name = "edge-01";
	h->pool = "store-042";
	for (int i = 0; i < 2; i++) {
		causeway__v1__hello__labels_entry__init(&s->label[i]);
		s->labels[i] = &s->label[i];
	}
	s->label[0].key = "kubernetes.io/hostname";
	s->label[0].value = "edge-01";
	s->label[1].key = "topology.kubernetes.io/zone";
	s->label[1].value = "store-042";
	h->n_labels = 2;
	h->labels = s->labels;
	causeway__v1__capacity__init(&s->capacity);
	s->capacity.cpu_millis = 4000;
	s->capacity.memory_bytes = 8ull << 30;
	s->capacity.pods = 110;
	h->capacity = &s->capacity;
	h->agent_version = "0.1.0";
	s->dict_ids[0] = 0x12345678;
	s->dict_ids[1] = 7;
	h->n_dictionary_ids = 2;
	h->dictionary_ids = s->dict_ids;
	causeway__v1__transport_params__init(&s->tp_agent);
	s->tp_agent.initial_max_data = 8 * MIB;
	s->tp_agent.max_message_size = CW_MSG_SIZE_DEFAULT;
	h->transport = &s->tp_agent;
	s->ports[0] = 10250;
	s->ports[1] = 10255;
	s->ports[2] = 9100;
	h->n_allowed_ports = 3;
	h->allowed_ports = s->ports;
	h->boot_id.data = (uint8_t *)token16;
	h->boot_id.len = 16;
	s->features[0] = "none-yet";
	h->n_features = 1;
	h->features = s->features;
}

static void init_session(struct samples *s)
{
	init_hello(s);
	causeway__v1__hello_ack__init(&s->hello_ack);
	s->hello_ack.node_name = "edge-01";
	s->hello_ack.dictionary_id = 0x12345678;
	causeway__v1__transport_params__init(&s->tp_gw);
	s->tp_gw.initial_max_streams = 1024;
	s->hello_ack.transport = &s->tp_gw;
	s->hello_ack.gateway_version = "0.1.0";
	s->hello_ack.session_id = 42;
	s->hello_ack.stateless_reset_token.data = (uint8_t *)token16;
	s->hello_ack.stateless_reset_token.len = 16;
	s->hello_ack.heartbeat_interval_s = 600;
	s->hello_ack.gateway_unix_ms = 1764201600000ull;
	causeway__v1__heartbeat__init(&s->heartbeat);
	s->heartbeat.seq = 1;
	s->heartbeat.unix_ms = 1764201600123ull;
	s->heartbeat.kubelet_healthy = 1;
	s->heartbeat.load_milli = 250;
	s->heartbeat.uptime_s = 86400;
}

static void init_api(struct samples *s)
{
	for (int i = 0; i < 2; i++) {
		causeway__v1__header__init(&s->header[i]);
		s->headers[i] = &s->header[i];
	}
	s->header[0].name = "accept";
	s->header[0].value = "application/json";
	s->header[1].name = "user-agent";
	s->header[1].value = "kubelet/v1.29.0";
	causeway__v1__body__init(&s->body);
	s->body.data.data = (uint8_t *)"{\"kind\":\"Status\"}";
	s->body.data.len = 17;
	causeway__v1__api_request__init(&s->api_request);
	s->api_request.verb = "GET";
	s->api_request.path = "/api/v1/namespaces/kube-system/pods";
	s->api_request.query = "watch=true&resourceVersion=10";
	s->api_request.n_headers = 2;
	s->api_request.headers = s->headers;
	s->api_request.timeout_ms = 30000;
	causeway__v1__api_response__init(&s->api_response);
	s->api_response.status = 200;
	s->api_response.n_headers = 2;
	s->api_response.headers = s->headers;
	s->api_response.body = &s->body;
	s->api_response.more = 1;
	causeway__v1__body__init(&s->object);
	s->object.encoding = CAUSEWAY__V1__ENCODING__ZSTD;
	s->object.uncompressed_len = 1000;
	s->object.data.data = (uint8_t *)token16;
	s->object.data.len = 16;
	causeway__v1__watch_event__init(&s->watch_event);
	s->watch_event.type = CAUSEWAY__V1__WATCH_EVENT_TYPE__EVENT_MODIFIED;
	s->watch_event.resource_version = "123456";
	s->watch_event.object = &s->object;
}

static void init_dial(struct samples *s)
{
	causeway__v1__dial__init(&s->dial);
	s->dial.request_id = 7;
	s->dial.host = "127.0.0.1";
	s->dial.port = 10250;
	causeway__v1__dial_result__init(&s->dial_result);
	s->dial_result.request_id = 7;
	s->dial_result.error = CAUSEWAY__V1__DIAL_ERROR__DIAL_ERROR_REFUSED;
	s->dial_result.reason = "connection refused";
}

static void init_pool(struct samples *s)
{
	for (int i = 0; i < 2; i++) {
		causeway__v1__peer__init(&s->peer[i]);
		s->peers[i] = &s->peer[i];
		s->peer[i].port = 10250;
	}
	s->peer[0].node_name = "edge-02";
	s->peer[0].address = "10.1.0.2";
	s->peer[1].node_name = "edge-03";
	s->peer[1].address = "fd00::3";
	causeway__v1__assignment__init(&s->assignment);
	s->assignment.generation = 3;
	s->assignment.pool = "store-042";
	s->assignment.n_peers = 2;
	s->assignment.peers = s->peers;
	s->assignment.probe_interval_ms = 15000;
	causeway__v1__probe_result__init(&s->result);
	s->result.node_name = "edge-02";
	s->result.error = "timeout";
	s->result.probed_unix_ms = 1764201600456ull;
	s->results[0] = &s->result;
	causeway__v1__peer_probe__init(&s->peer_probe);
	s->peer_probe.request_id = 9;
	s->peer_probe.n_targets = 1;
	s->peer_probe.targets = s->peers;
	s->peer_probe.n_results = 1;
	s->peer_probe.results = s->results;
	causeway__v1__close__init(&s->close);
	s->close.code = 0x1000;
	s->close.reason = "draining";
	s->close.retry_after_ms = 5000;
	causeway__v1__error__init(&s->error);
	s->error.code = 0x0b;
	s->error.reason = "kube-apiserver unreachable";
}

static void init_samples(struct samples *s)
{
	memset(s, 0, sizeof(*s));
	init_session(s);
	init_api(s);
	init_dial(s);
	init_pool(s);
	for (int k = 0; k <= KINDS; k++)
		causeway__v1__envelope__init(&s->env[k]);
	s->env[1].hello = &s->hello;
	s->env[2].hello_ack = &s->hello_ack;
	s->env[3].heartbeat = &s->heartbeat;
	s->env[4].api_request = &s->api_request;
	s->env[5].api_response = &s->api_response;
	s->env[6].watch_event = &s->watch_event;
	s->env[7].dial = &s->dial;
	s->env[8].dial_result = &s->dial_result;
	s->env[9].assignment = &s->assignment;
	s->env[10].peer_probe = &s->peer_probe;
	s->env[11].close = &s->close;
	s->env[12].error = &s->error;
	for (int k = 1; k <= KINDS; k++)
		s->env[k].msg_case = (Causeway__V1__Envelope__MsgCase)k;
}

/* Prefix and Envelope as protobuf-c packs it, bypassing the encoder's
 * checks (to send what a broken or hostile peer would). */
static size_t wire_of(const cw_envelope *env, uint8_t *out)
{
	size_t n = protobuf_c_message_get_packed_size(&env->base);
	int p = cw_varint_encode(out, CW_VARINT_MAX_LEN, n);

	assert_true(p > 0);
	assert_int_equal(protobuf_c_message_pack(&env->base, out + p), n);
	return (size_t)p + n;
}

/* A protobuf (base 128) varint, as protobuf-c writes lengths. */
static size_t pb_varint(uint8_t *out, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		out[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	out[n++] = (uint8_t)v;
	return n;
}

static uint8_t *packed(const cw_envelope *env, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(&env->base);
	uint8_t *p = malloc(*len ? *len : 1);

	assert_non_null(p);
	protobuf_c_message_pack(&env->base, p);
	return p;
}

static void assert_same(const cw_envelope *a, const cw_envelope *b)
{
	size_t la, lb;
	uint8_t *pa = packed(a, &la), *pb = packed(b, &lb);

	assert_int_equal(a->msg_case, b->msg_case);
	assert_int_equal(la, lb);
	assert_memory_equal(pa, pb, la);
	free(pa);
	free(pb);
}

/* Decode @len bytes given as one chunk: exactly one Envelope, all consumed. */
static cw_envelope *decode_one(struct cw_msg_decoder *d, const uint8_t *in, size_t len)
{
	cw_envelope *env;

	assert_int_equal(cw_msg_decode(d, in, len, &env), (ptrdiff_t)len);
	assert_non_null(env);
	return env;
}

/* Feed one chunk; the return of the last call, or the error. */
static ptrdiff_t decode_err(struct cw_msg_decoder *d, const uint8_t *in, size_t len)
{
	cw_envelope *env = NULL;
	ptrdiff_t r = 0;

	while (len) {
		r = cw_msg_decode(d, in, len, &env);
		if (r < 0) {
			assert_null(env);
			return r;
		}
		cw_msg_free(d, env);
		in += r;
		len -= (size_t)r;
	}
	return r;
}

/* ---- round trips ---------------------------------------------------------- */

static void test_roundtrip_each_kind(void **state)
{
	struct samples s;
	struct cw_msg_decoder d;
	uint8_t buf[4096], ref[4096];

	(void)state;
	cnt_reset();
	init_samples(&s);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
	for (int k = 1; k <= KINDS; k++) {
		ptrdiff_t n = cw_msg_encode(&s.env[k], CW_MSG_SIZE_FLOOR, buf, sizeof(buf));
		cw_envelope *got;

		assert_true(n > 1);
		assert_int_equal(n, cw_msg_encoded_len(&s.env[k]));
		/* The encoder writes the Envelope around its member itself:
		 * byte for byte what protobuf-c writes for the whole. */
		assert_int_equal(wire_of(&s.env[k], ref), n);
		assert_memory_equal(buf, ref, (size_t)n);
		got = decode_one(&d, buf, (size_t)n);
		assert_int_equal(got->msg_case, k);
		assert_int_equal(got->base.n_unknown_fields, 0);
		assert_same(got, &s.env[k]);
		cw_msg_free(&d, got);
		assert_int_equal(cnt.cur, 0); /* nothing held between messages */
	}
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

/* A few fields read back, so the comparison above is not only bytes. */
static void test_decoded_fields(void **state)
{
	struct samples s;
	struct cw_msg_decoder d;
	uint8_t buf[4096];
	cw_envelope *got;
	ptrdiff_t n;

	(void)state;
	cnt_reset();
	init_samples(&s);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_FLOOR), 0);
	n = cw_msg_encode(&s.env[1], CW_MSG_SIZE_FLOOR, buf, sizeof(buf));
	got = decode_one(&d, buf, (size_t)n);
	assert_string_equal(got->hello->node_name, "edge-01");
	assert_int_equal(got->hello->n_labels, 2);
	assert_string_equal(got->hello->labels[1]->key, "topology.kubernetes.io/zone");
	assert_int_equal(got->hello->n_allowed_ports, 3);
	assert_int_equal(got->hello->allowed_ports[2], 9100);
	assert_int_equal(got->hello->dictionary_ids[0], 0x12345678);
	assert_int_equal(got->hello->transport->max_message_size, CW_MSG_SIZE_DEFAULT);
	assert_int_equal(got->hello->boot_id.len, 16);
	assert_memory_equal(got->hello->boot_id.data, token16, 16);
	cw_msg_free(&d, got);

	n = cw_msg_encode(&s.env[5], CW_MSG_SIZE_FLOOR, buf, sizeof(buf));
	got = decode_one(&d, buf, (size_t)n);
	assert_int_equal(got->api_response->status, 200);
	assert_true(got->api_response->more);
	assert_string_equal(got->api_response->headers[1]->value, "kubelet/v1.29.0");
	assert_int_equal(got->api_response->body->data.len, 17);
	assert_memory_equal(got->api_response->body->data.data, "{\"kind\":\"Status\"}", 17);
	cw_msg_free(&d, got);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

/* PROTOCOL.md Appendix B.8. */
static const uint8_t b8[] = {0x12, 0x3a, 0x10, 0x08, 0x07, 0x12, 0x09, 0x31, 0x32, 0x37,
			     0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x18, 0x8a, 0x50};

static void test_b8_exact_bytes(void **state)
{
	Causeway__V1__Envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	Causeway__V1__Dial dial = CAUSEWAY__V1__DIAL__INIT;
	struct cw_msg_decoder d;
	uint8_t buf[64];
	cw_envelope *got;

	(void)state;
	cnt_reset();
	dial.request_id = 7;
	dial.host = "127.0.0.1";
	dial.port = 10250;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_DIAL;
	env.dial = &dial;
	assert_int_equal(cw_msg_encoded_len(&env), sizeof(b8));
	assert_int_equal(cw_msg_encode(&env, CW_MSG_SIZE_FLOOR, buf, sizeof(buf)), sizeof(b8));
	assert_memory_equal(buf, b8, sizeof(b8));

	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
	got = decode_one(&d, b8, sizeof(b8));
	assert_int_equal(got->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_DIAL);
	assert_int_equal(got->dial->request_id, 7);
	assert_string_equal(got->dial->host, "127.0.0.1");
	assert_int_equal(got->dial->port, 10250);
	assert_int_equal(got->dial->timeout_ms, 0);
	assert_string_equal(got->dial->origin, "");
	cw_msg_free(&d, got);
	assert_int_equal(cw_msg_decoder_finish(&d), 0);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

/* Receivers accept every encoding of the prefix (§3). */
static void test_non_minimal_prefix(void **state)
{
	static const uint8_t pre2[] = {0x40, 0x12}, pre4[] = {0x80, 0, 0, 0x12},
			     pre8[] = {0xc0, 0, 0, 0, 0, 0, 0, 0x12};
	const uint8_t *pre[] = {pre2, pre4, pre8};
	const size_t plen[] = {2, 4, 8};
	struct cw_msg_decoder d;
	uint8_t buf[64];

	(void)state;
	cnt_reset();
	for (size_t i = 0; i < N(pre); i++) {
		cw_envelope *got;

		memcpy(buf, pre[i], plen[i]);
		memcpy(buf + plen[i], b8 + 1, sizeof(b8) - 1);
		assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
		got = decode_one(&d, buf, plen[i] + sizeof(b8) - 1);
		assert_int_equal(got->dial->port, 10250);
		cw_msg_free(&d, got);
		cw_msg_decoder_free(&d);
	}
	assert_int_equal(cnt.cur, 0);
}

/* ---- chunking ------------------------------------------------------------- */

/* Every sample, B.8, and an unknown member, back to back. */
static uint8_t *sample_stream(struct samples *s, size_t *len)
{
	uint8_t *buf = malloc(64 * 1024), *p = buf;

	assert_non_null(buf);
	for (int k = 1; k <= KINDS; k++) {
		ptrdiff_t n = cw_msg_encode(&s->env[k], CW_MSG_SIZE_FLOOR, p, 4096);

		assert_true(n > 0);
		p += n;
	}
	memcpy(p, b8, sizeof(b8));
	p += sizeof(b8);
	memcpy(p, "\x02\x6a\x00", 3); /* field 13, empty */
	p += 3;
	*len = (size_t)(p - buf);
	return buf;
}

/*
 * Feed @in in chunks of the sizes @next yields and check that exactly the
 * samples come out, in order, with every call that returns an Envelope
 * consuming exactly up to its end.
 */
static void feed_and_check(struct samples *s, const uint8_t *in, size_t len,
			   size_t (*next)(size_t at, void *arg), void *arg)
{
	struct cw_msg_decoder d;
	size_t at = 0;
	int k = 1;

	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_FLOOR), 0);
	while (at < len) {
		size_t chunk = next(at, arg), off = 0;

		if (chunk > len - at)
			chunk = len - at;
		while (off < chunk) {
			cw_envelope *got;
			ptrdiff_t r = cw_msg_decode(&d, in + at + off, chunk - off, &got);

			assert_true(r > 0);
			off += (size_t)r;
			if (!got) {
				assert_int_equal(off, chunk);
				continue;
			}
			if (k <= KINDS)
				assert_same(got, &s->env[k]);
			else if (k == KINDS + 1)
				assert_int_equal(got->dial->port, 10250);
			else
				assert_int_equal(got->msg_case,
						 CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET);
			k++;
			cw_msg_free(&d, got);
		}
		at += chunk;
		if (at < len)
			assert_int_equal(cw_msg_decode(&d, in + at, 0, &(cw_envelope *){NULL}), 0);
	}
	assert_int_equal(k, KINDS + 3);
	assert_int_equal(cw_msg_decoder_finish(&d), 0);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

static size_t split_at(size_t at, void *arg)
{
	size_t cut = *(size_t *)arg;

	return at < cut ? cut - at : SIZE_MAX;
}

static size_t one_byte(size_t at, void *arg)
{
	(void)at;
	(void)arg;
	return 1;
}

static size_t random_chunk(size_t at, void *arg)
{
	uint32_t *x = arg;

	(void)at;
	*x = *x * 1103515245u + 12345u;
	return 1 + (*x >> 16) % 97;
}

static void test_every_split_point(void **state)
{
	struct samples s;
	size_t len;
	uint8_t *in;

	(void)state;
	cnt_reset();
	init_samples(&s);
	in = sample_stream(&s, &len);
	for (size_t cut = 0; cut <= len; cut++)
		feed_and_check(&s, in, len, split_at, &cut);
	feed_and_check(&s, in, len, one_byte, NULL);
	for (uint32_t seed = 1; seed <= 50; seed++) {
		uint32_t x = seed;

		feed_and_check(&s, in, len, random_chunk, &x);
	}
	free(in);
}

/* A dial stream turns raw after Dial: nothing beyond the message is read. */
static void test_stops_after_message(void **state)
{
	struct cw_msg_decoder d;
	uint8_t buf[64];
	cw_envelope *got;

	(void)state;
	cnt_reset();
	memcpy(buf, b8, sizeof(b8));
	memcpy(buf + sizeof(b8), "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
	/* split inside the prefix-less body too */
	assert_int_equal(cw_msg_decode(&d, buf, 5, &got), 5);
	assert_null(got);
	assert_int_equal(cw_msg_decode(&d, buf + 5, sizeof(b8) + 16 - 5, &got), sizeof(b8) - 5);
	assert_non_null(got);
	cw_msg_free(&d, got);
	assert_int_equal(cw_msg_decoder_finish(&d), 0);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

/* ---- length prefix errors ------------------------------------------------- */

static void test_oversize_before_allocation(void **state)
{
	static const struct {
		uint8_t pre[8];
		size_t len;
	} over[] = {
	    {{0x80, 0x10, 0x00, 0x01}, 4},			   /* limit + 1 */
	    {{0xbf, 0xff, 0xff, 0xff}, 4},			   /* 2^30 - 1 */
	    {{0xc0, 0, 0, 0, 0, 0x10, 0, 1}, 8},		   /* limit + 1, 8 bytes */
	    {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8}, /* 2^62 - 1 */
	};
	struct cw_msg_decoder d;
	cw_envelope *got;

	(void)state;
	for (size_t i = 0; i < N(over); i++) {
		/* Whole, and split before the last prefix byte. */
		for (int split = 0; split < 2; split++) {
			cnt_reset();
			assert_int_equal(cw_msg_decoder_init(&d, &counting, MIB), 0);
			if (split) {
				assert_int_equal(
				    cw_msg_decode(&d, over[i].pre, over[i].len - 1, &got),
				    over[i].len - 1);
				assert_null(got);
			}
			assert_int_equal(decode_err(&d, over[i].pre + split * (over[i].len - 1),
						    split ? 1 : over[i].len),
					 -EMSGSIZE);
			assert_int_equal(cnt.allocs, 0);
			/* Sticky, whatever comes next. */
			assert_int_equal(cw_msg_decode(&d, b8, sizeof(b8), &got), -EMSGSIZE);
			assert_null(got);
			assert_int_equal(cw_msg_decoder_finish(&d), -EMSGSIZE);
			cw_msg_decoder_free(&d);
			assert_int_equal(cnt.allocs, 0);
		}
	}
}

/* A prefix at the limit is fine, and costs only what arrives after it. */
static void test_buffer_follows_received(void **state)
{
	static const uint8_t at_limit[] = {0x80, 0x10, 0x00, 0x00}; /* 1 MiB */
	static const uint8_t body[] = {0x3a, 0x10, 0x08};
	struct cw_msg_decoder d;
	cw_envelope *got;

	(void)state;
	cnt_reset();
	assert_int_equal(cw_msg_decoder_init(&d, &counting, MIB), 0);
	assert_int_equal(cw_msg_decode(&d, at_limit, 4, &got), 4);
	assert_int_equal(cnt.allocs, 0);
	assert_int_equal(cw_msg_decode(&d, body, 3, &got), 3);
	assert_null(got);
	assert_true(cnt.peak <= 4096);
	assert_int_equal(cw_msg_decoder_finish(&d), -EBADMSG); /* FIN mid-message */
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

static void test_zero_length(void **state)
{
	static const uint8_t zeros[][2] = {{0x00, 0x3a}, {0x40, 0x00}};
	struct cw_msg_decoder d;

	(void)state;
	cnt_reset();
	for (size_t i = 0; i < N(zeros); i++) {
		assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
		assert_int_equal(decode_err(&d, zeros[i], 2), -EBADMSG);
		assert_int_equal(cw_msg_decoder_finish(&d), -EBADMSG);
		cw_msg_decoder_free(&d);
	}
	assert_int_equal(cnt.allocs, 0);
}

/* FIN inside a prefix or a body (§13.1), at every point of B.8. */
static void test_fin_inside_message(void **state)
{
	struct cw_msg_decoder d;
	cw_envelope *got;

	(void)state;
	cnt_reset();
	/* A 4-byte prefix arriving a byte at a time, then FIN. */
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
	assert_int_equal(cw_msg_decode(&d, (const uint8_t *)"\x80", 1, &got), 1);
	assert_int_equal(cw_msg_decode(&d, (const uint8_t *)"\x00", 1, &got), 1);
	assert_int_equal(cw_msg_decode(&d, (const uint8_t *)"\x00", 1, &got), 1);
	assert_null(got);
	assert_int_equal(cw_msg_decoder_finish(&d), -EBADMSG);
	assert_int_equal(cw_msg_decode(&d, (const uint8_t *)"\x12", 1, &got), -EBADMSG);
	cw_msg_decoder_free(&d);

	for (size_t cut = 1; cut < sizeof(b8); cut++) {
		assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
		assert_int_equal(cw_msg_decode(&d, b8, cut, &got), cut);
		assert_null(got);
		assert_int_equal(cw_msg_decoder_finish(&d), -EBADMSG);
		cw_msg_decoder_free(&d);
		assert_int_equal(cnt.cur, 0);
	}
	/* FIN right after a whole message, or on an empty stream: fine. */
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
	assert_int_equal(cw_msg_decoder_finish(&d), 0);
	cw_msg_free(&d, decode_one(&d, b8, sizeof(b8)));
	assert_int_equal(cw_msg_decoder_finish(&d), 0);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

static void test_init_errors(void **state)
{
	struct cw_msg_decoder d;
	const struct cw_alloc no_free = {cnt_alloc, NULL, &cnt};

	(void)state;
	assert_int_equal(cw_msg_decoder_init(&d, &counting, 0), -EINVAL);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_MAX + 1), -EINVAL);
	assert_int_equal(cw_msg_decoder_init(&d, NULL, MIB), -EINVAL);
	assert_int_equal(cw_msg_decoder_init(&d, &no_free, MIB), -EINVAL);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_MAX), 0);
	assert_int_equal(cw_msg_decoder_init(&d, cw_alloc_default(), 1), 0);
	cw_msg_decoder_free(&d);
}

/* ---- malformed Envelopes ---------------------------------------------------- */

static void test_malformed_protobuf(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
	} bad[] = {
	    {"submessage longer than the message", {0x04, 0x3a, 0x10, 0x08, 0x07}, 5},
	    {"message field sent as varint", {0x02, 0x38, 0x01}, 3},
	    {"field number 0", {0x02, 0x00, 0x00}, 3},
	    {"truncated varint inside", {0x04, 0x3a, 0x02, 0x08, 0xff}, 5},
	    {"truncated tag", {0x01, 0xff}, 2},
	    {"length running past the end", {0x03, 0x6a, 0x05, 0x00}, 4},
	    {"end-group wire type", {0x01, 0x0c}, 2},
	    {"wire type 6", {0x02, 0x0e, 0x00}, 3},
	    {"bad string in Dial", {0x05, 0x3a, 0x03, 0x12, 0x05, 0x41}, 6},
	    {"string with a NUL", {0x06, 0x3a, 0x04, 0x12, 0x02, 0x41, 0x00}, 7},
	    {"boot_id of 3 bytes", {0x07, 0x0a, 0x05, 0x4a, 0x03, 0x01, 0x02, 0x03}, 8},
	    {"dictionary id 0", {0x05, 0x0a, 0x03, 0x32, 0x01, 0x00}, 6},
	    {"field number 0, over-long, in the Envelope", {0x03, 0x80, 0x00, 0x01}, 4},
	    {"field number 0, over-long, in a Peer",
	     {0x0a, 0x4a, 0x08, 0x1a, 0x06, 0x18, 0x01, 0x80, 0x80, 0x00, 0x05},
	     11},
	};
	struct cw_msg_decoder d;

	(void)state;
	cnt_reset();
	for (size_t i = 0; i < N(bad); i++) {
		assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
		if (decode_err(&d, bad[i].bytes, bad[i].len) != -EBADMSG)
			fail_msg("%s: accepted", bad[i].what);
		cw_msg_decoder_free(&d);
		assert_int_equal(cnt.cur, 0);
	}
}

/* Unknown fields are ignored; an unknown member is reported as NOT_SET. */
static void test_unknown_fields(void **state)
{
	/* Dial{port 10250} plus field 99 (varint 1) inside, field 13 outside. */
	static const uint8_t in[] = {0x0b, 0x3a, 0x06, 0x18, 0x8a, 0x50,
				     0x98, 0x06, 0x01, 0x6a, 0x01, 0x41};
	struct cw_msg_decoder d;
	uint8_t out[64];
	cw_envelope *got;

	(void)state;
	cnt_reset();
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
	got = decode_one(&d, in, sizeof(in));
	assert_int_equal(got->msg_case, CAUSEWAY__V1__ENVELOPE__MSG_DIAL);
	assert_int_equal(got->dial->port, 10250);
	assert_int_equal(got->dial->base.n_unknown_fields, 1);
	assert_int_equal(cw_msg_check(got), 0);
	/* Re-encoded with its unknown field: protobuf-c's bytes, as received. */
	assert_int_equal(cw_msg_encode(got, CW_MSG_SIZE_FLOOR, out, sizeof(out)), sizeof(in));
	assert_memory_equal(out, in, sizeof(in));
	cw_msg_free(&d, got);
	got = decode_one(&d, (const uint8_t *)"\x03\x6a\x01\x41", 4);
	assert_int_equal(got->msg_case, CAUSEWAY__V1__ENVELOPE__MSG__NOT_SET);
	assert_int_equal(got->base.n_unknown_fields, 1);
	assert_int_equal(got->base.unknown_fields[0].tag, 13);
	assert_int_equal(cw_msg_check(got), 0);
	cw_msg_free(&d, got);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

/*
 * Envelopes that are not one member from tag to end: the decoder unpacks
 * the usual shape itself and leaves the rest to protobuf-c. Either way the
 * result is what protobuf-c makes of the whole (a second member replaces
 * the first, even the same one; over-long varints are accepted).
 */
static void test_envelope_shapes(void **state)
{
	static const struct {
		const char *what;
		uint8_t bytes[16];
		size_t len;
		int kind;
	} in[] = {
	    {"Dial twice", {0x08, 0x3a, 0x02, 0x18, 0x05, 0x3a, 0x02, 0x20, 0x09}, 9, 7},
	    {"Dial, then Heartbeat", {0x06, 0x3a, 0x02, 0x18, 0x05, 0x1a, 0x00}, 7, 3},
	    {"over-long tag", {0x05, 0xba, 0x00, 0x02, 0x18, 0x05}, 6, 7},
	    {"over-long length", {0x05, 0x3a, 0x82, 0x00, 0x18, 0x05}, 6, 7},
	    {"empty member", {0x02, 0x1a, 0x00}, 3, 3},
	    {"one member", {0x03, 0x3a, 0x01, 0x18}, 4, -1},
	};
	struct cw_msg_decoder d;
	cw_envelope *got;
	ProtobufCMessage *ref;

	(void)state;
	cnt_reset();
	for (size_t i = 0; i < N(in); i++) {
		assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
		ref = protobuf_c_message_unpack(&causeway__v1__envelope__descriptor, NULL,
						in[i].len - 1, in[i].bytes + 1);
		if (in[i].kind < 0) {
			/* a truncated member fails both ways */
			assert_null(ref);
			assert_int_equal(decode_err(&d, in[i].bytes, in[i].len), -EBADMSG);
		} else {
			assert_non_null(ref);
			got = decode_one(&d, in[i].bytes, in[i].len);
			if ((int)got->msg_case != in[i].kind)
				fail_msg("%s: member %d", in[i].what, (int)got->msg_case);
			assert_same(got, (const cw_envelope *)ref);
			cw_msg_free(&d, got);
			protobuf_c_message_free_unpacked(ref, NULL);
		}
		cw_msg_decoder_free(&d);
		assert_int_equal(cnt.cur, 0);
	}
}

/* ---- field limits (§16), table-driven ------------------------------------ */

static void set_node_name(struct samples *s, size_t n)
{
	s->hello.node_name = str_n(n, 'n');
}

static void set_pool(struct samples *s, size_t n)
{
	s->hello.pool = str_n(n, 'p');
}

static void set_labels(struct samples *s, size_t n)
{
	Causeway__V1__Hello__LabelsEntry *e = keep(n * sizeof(*e)), **v = keep(n * sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		causeway__v1__hello__labels_entry__init(&e[i]);
		e[i].key = str_n(8, (char)('a' + i % 26));
		v[i] = &e[i];
	}
	s->hello.n_labels = n;
	s->hello.labels = v;
}

static void set_label_key(struct samples *s, size_t n)
{
	s->label[0].key = str_n(n, 'k');
}

static void set_label_value(struct samples *s, size_t n)
{
	s->label[1].value = str_n(n, 'v');
}

static void set_dict_ids(struct samples *s, size_t n)
{
	uint32_t *ids = keep(n * sizeof(*ids));

	for (size_t i = 0; i < n; i++)
		ids[i] = (uint32_t)i + 1;
	s->hello.n_dictionary_ids = n;
	s->hello.dictionary_ids = ids;
}

static void set_dict_id_zero_at(struct samples *s, size_t n)
{
	s->dict_ids[n] = 0;
}

static void set_ports(struct samples *s, size_t n)
{
	uint32_t *p = keep(n * sizeof(*p));

	for (size_t i = 0; i < n; i++)
		p[i] = 10000 + (uint32_t)i;
	s->hello.n_allowed_ports = n;
	s->hello.allowed_ports = p;
}

static char **features(size_t n, size_t len)
{
	char **f = keep(n * sizeof(*f));

	for (size_t i = 0; i < n; i++)
		f[i] = str_n(len, 'f');
	return f;
}

static void set_features(struct samples *s, size_t n)
{
	s->hello.n_features = n;
	s->hello.features = features(n, 4);
}

static void set_feature_len(struct samples *s, size_t n)
{
	s->hello.features = features(1, n);
}

static void set_agent_version(struct samples *s, size_t n)
{
	s->hello.agent_version = str_n(n, '1');
}

static void set_boot_id(struct samples *s, size_t n)
{
	s->hello.boot_id.data = keep(n);
	s->hello.boot_id.len = n;
}

static void set_ack_node_name(struct samples *s, size_t n)
{
	s->hello_ack.node_name = str_n(n, 'n');
}

static void set_gateway_version(struct samples *s, size_t n)
{
	s->hello_ack.gateway_version = str_n(n, '1');
}

static void set_reset_token(struct samples *s, size_t n)
{
	s->hello_ack.stateless_reset_token.data = keep(n);
	s->hello_ack.stateless_reset_token.len = n;
}

static void set_ack_features(struct samples *s, size_t n)
{
	s->hello_ack.n_features = n;
	s->hello_ack.features = features(n, 64);
}

static void set_path(struct samples *s, size_t n)
{
	s->api_request.path = str_n(n, '/');
}

static void set_query(struct samples *s, size_t n)
{
	s->api_request.query = str_n(n, 'q');
}

static Causeway__V1__Header **headers(size_t n, size_t value_len)
{
	Causeway__V1__Header *h = keep(n * sizeof(*h)), **v = keep(n * sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		causeway__v1__header__init(&h[i]);
		h[i].name = "x";
		h[i].value = str_n(value_len, 'h');
		v[i] = &h[i];
	}
	return v;
}

static void set_req_headers(struct samples *s, size_t n)
{
	s->api_request.n_headers = n;
	s->api_request.headers = headers(n, 1);
}

/* Two headers whose names and values add up to @n bytes. */
static void set_resp_header_bytes(struct samples *s, size_t n)
{
	s->api_response.n_headers = 2;
	s->api_response.headers = headers(2, n / 2 - 1);
	s->api_response.headers[1]->value = str_n(n - n / 2 - 1, 'h');
}

static void set_dial_host(struct samples *s, size_t n)
{
	s->dial.host = str_n(n, 'h');
}

static void set_dial_result_reason(struct samples *s, size_t n)
{
	s->dial_result.reason = str_n(n, 'r');
}

static void set_assign_pool(struct samples *s, size_t n)
{
	s->assignment.pool = str_n(n, 'p');
}

static Causeway__V1__Peer **peer_list(size_t n)
{
	Causeway__V1__Peer *p = keep(n * sizeof(*p)), **v = keep(n * sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		causeway__v1__peer__init(&p[i]);
		p[i].node_name = "edge";
		v[i] = &p[i];
	}
	return v;
}

static void set_peers(struct samples *s, size_t n)
{
	s->assignment.n_peers = n;
	s->assignment.peers = peer_list(n);
}

static void set_peer_name(struct samples *s, size_t n)
{
	s->peer[1].node_name = str_n(n, 'n');
}

static void set_targets(struct samples *s, size_t n)
{
	s->peer_probe.n_targets = n;
	s->peer_probe.targets = peer_list(n);
}

static void set_results(struct samples *s, size_t n)
{
	Causeway__V1__ProbeResult *r = keep(n * sizeof(*r)), **v = keep(n * sizeof(*v));

	for (size_t i = 0; i < n; i++) {
		causeway__v1__probe_result__init(&r[i]);
		v[i] = &r[i];
	}
	s->peer_probe.n_results = n;
	s->peer_probe.results = v;
}

static void set_result_name(struct samples *s, size_t n)
{
	s->result.node_name = str_n(n, 'n');
}

static void set_close_reason(struct samples *s, size_t n)
{
	s->close.reason = str_n(n, 'r');
}

static void set_error_reason(struct samples *s, size_t n)
{
	s->error.reason = str_n(n, 'r');
}

struct limit_case {
	const char *what;
	int kind;
	void (*set)(struct samples *s, size_t n);
	size_t ok, bad; /* the largest value allowed, the smallest refused */
};

static const struct limit_case limits[] = {
    {"Hello.node_name", 1, set_node_name, 253, 254},
    {"Hello.pool", 1, set_pool, 253, 254},
    {"Hello.labels", 1, set_labels, 128, 129},
    {"label key", 1, set_label_key, 317, 318},
    {"label value", 1, set_label_value, 63, 64},
    {"dictionary_ids", 1, set_dict_ids, 16, 17},
    {"dictionary id 0 (first)", 1, set_dict_id_zero_at, SIZE_MAX, 0},
    {"dictionary id 0 (last)", 1, set_dict_id_zero_at, SIZE_MAX, 1},
    {"allowed_ports", 1, set_ports, 64, 65},
    {"Hello.features", 1, set_features, 16, 17},
    {"feature length", 1, set_feature_len, 64, 65},
    {"agent_version", 1, set_agent_version, 64, 65},
    {"boot_id 16", 1, set_boot_id, 16, 15},
    {"boot_id 0", 1, set_boot_id, 0, 17},
    {"HelloAck.node_name", 2, set_ack_node_name, 253, 254},
    {"gateway_version", 2, set_gateway_version, 64, 65},
    {"stateless_reset_token", 2, set_reset_token, 16, 1},
    {"HelloAck.features", 2, set_ack_features, 16, 17},
    {"ApiRequest.path", 4, set_path, 8192, 8193},
    {"ApiRequest.query", 4, set_query, 8192, 8193},
    {"ApiRequest headers", 4, set_req_headers, 128, 129},
    {"ApiResponse header bytes", 5, set_resp_header_bytes, 65536, 65537},
    {"Dial.host", 7, set_dial_host, 253, 254},
    {"DialResult.reason", 8, set_dial_result_reason, 256, 257},
    {"Assignment.pool", 9, set_assign_pool, 253, 254},
    {"Assignment.peers", 9, set_peers, 64, 65},
    {"Peer.node_name", 9, set_peer_name, 253, 254},
    {"PeerProbe.targets", 10, set_targets, 64, 65},
    {"PeerProbe.results", 10, set_results, 64, 65},
    {"ProbeResult.node_name", 10, set_result_name, 253, 254},
    {"Close.reason", 11, set_close_reason, 256, 257},
    {"Error.reason", 12, set_error_reason, 256, 257},
};

/* Encoder, checker and decoder must agree on @want (0 or -EBADMSG). */
static void limit_one(const struct limit_case *c, size_t n, int want)
{
	static uint8_t buf[256 * 1024], enc[256 * 1024];
	struct samples s;
	struct cw_msg_decoder d;
	size_t len;
	ptrdiff_t r;

	init_samples(&s);
	c->set(&s, n);
	len = wire_of(&s.env[c->kind], buf);
	r = cw_msg_encode(&s.env[c->kind], CW_MSG_SIZE_FLOOR, enc, sizeof(enc));
	if (want == 0) {
		if (r != (ptrdiff_t)len)
			fail_msg("%s = %zu: encode returned %td", c->what, n, r);
	} else {
		if (r != -EINVAL)
			fail_msg("%s = %zu: encode returned %td", c->what, n, r);
	}
	assert_int_equal(cw_msg_check(&s.env[c->kind]), want);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_FLOOR), 0);
	r = decode_err(&d, buf, len);
	if (want == 0 ? r != (ptrdiff_t)len : r != want)
		fail_msg("%s = %zu: decode returned %td", c->what, n, r);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
	release();
}

static void test_field_limits(void **state)
{
	(void)state;
	cnt_reset();
	for (size_t i = 0; i < N(limits); i++) {
		if (limits[i].ok != SIZE_MAX)
			limit_one(&limits[i], limits[i].ok, 0);
		limit_one(&limits[i], limits[i].bad, -EBADMSG);
	}
}

/* A Hello padded with an unknown field to exactly @target bytes. */
static void hello_of_size(struct samples *s, ProtobufCMessageUnknownField *uf, size_t target)
{
	static uint8_t pad[CW_MSG_HELLO_MAX + 16];

	init_samples(s);
	uf->tag = 99;
	uf->wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
	uf->data = pad;
	s->hello.base.n_unknown_fields = 1;
	s->hello.base.unknown_fields = uf;
	for (size_t l = 0; l < CW_MSG_HELLO_MAX; l++) {
		uf->len = pb_varint(pad, l) + l;
		if (protobuf_c_message_get_packed_size(&s->env[1].base) == target)
			return;
	}
	fail_msg("no Hello of %zu bytes", target);
}

static void test_hello_size(void **state)
{
	static uint8_t buf[CW_MSG_HELLO_MAX + 64];
	ProtobufCMessageUnknownField uf;
	struct samples s;
	struct cw_msg_decoder d;
	cw_envelope *got;
	size_t len;

	(void)state;
	cnt_reset();
	/* The limit is on the encoded Hello; the Envelope adds tag and length. */
	for (size_t target = CW_MSG_HELLO_MAX + 3; target <= CW_MSG_HELLO_MAX + 5; target++) {
		hello_of_size(&s, &uf, target);
		len = wire_of(&s.env[1], buf);
		assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_FLOOR), 0);
		if (target - 4 <= CW_MSG_HELLO_MAX) {
			got = decode_one(&d, buf, len);
			assert_int_equal(got->hello->base.n_unknown_fields, 1);
			cw_msg_free(&d, got);
			assert_true(cw_msg_encode(&s.env[1], CW_MSG_SIZE_FLOOR, buf, sizeof(buf)) >
				    0);
		} else {
			assert_int_equal(decode_err(&d, buf, len), -EBADMSG);
			assert_int_equal(
			    cw_msg_encode(&s.env[1], CW_MSG_SIZE_FLOOR, buf, sizeof(buf)), -EINVAL);
		}
		cw_msg_decoder_free(&d);
	}
	assert_int_equal(cnt.cur, 0);
}

/* ---- memory under hostile input ------------------------------------------- */

/* An Envelope made of @count repetitions of @unit, inside field @field of
 * the Envelope (0: at its top level). */
static uint8_t *repeated_units(const uint8_t *unit, size_t ulen, size_t count, int field,
			       size_t *len)
{
	size_t inner = ulen * count, hl = 0, env;
	uint8_t hdr[16], *b, *p;
	int pl;

	if (field) {
		hdr[hl++] = (uint8_t)(field << 3 | 2);
		hl += pb_varint(hdr + hl, inner);
	}
	env = hl + inner;
	b = malloc(CW_VARINT_MAX_LEN + env);
	assert_non_null(b);
	pl = cw_varint_encode(b, CW_VARINT_MAX_LEN, env);
	assert_true(pl > 0);
	memcpy(b + pl, hdr, hl);
	p = b + pl + hl;
	for (size_t i = 0; i < count; i++, p += ulen)
		memcpy(p, unit, ulen);
	*len = (size_t)(p - b);
	return b;
}

static void test_decode_budget(void **state)
{
	static const struct {
		const char *what;
		uint8_t unit[4];
		size_t ulen;
		int field;
	} bombs[] = {
	    {"empty label entries in a Hello", {0x1a, 0x00}, 2, 1},
	    {"empty peers in an Assignment", {0x1a, 0x00}, 2, 9},
	    {"empty headers in an ApiResponse", {0x12, 0x00}, 2, 5},
	    {"unknown varint fields in a Dial", {0x48, 0x00}, 2, 7},
	    {"unknown fields in the Envelope", {0x68, 0x00}, 2, 0},
	};
	struct cw_msg_decoder d;

	(void)state;
	for (size_t i = 0; i < N(bombs); i++) {
		size_t len;
		uint8_t *in =
		    repeated_units(bombs[i].unit, bombs[i].ulen, 400000, bombs[i].field, &len);
		size_t body = len - (size_t)cw_varint_len_from_byte(in[0]);

		/* Whole (decoded in place) and in two chunks (buffered). */
		for (int split = 0; split < 2; split++) {
			cw_envelope *got;

			cnt_reset();
			assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_FLOOR), 0);
			if (split)
				assert_int_equal(cw_msg_decode(&d, in, len / 2, &got), len / 2);
			assert_int_equal(
			    decode_err(&d, in + split * (len / 2), len - split * (len / 2)),
			    -EBADMSG);
			if (cnt.peak > (split ? body : 0) + CW_MSG_DECODE_BUDGET(body))
				fail_msg("%s: peak %zu for %zu bytes", bombs[i].what, cnt.peak,
					 body);
			cw_msg_decoder_free(&d);
			assert_int_equal(cnt.cur, 0);
		}
		free(in);
	}
}

/* The legitimate worst case of the same shapes stays well inside. */
static void test_budget_fits_limits(void **state)
{
	struct samples s;
	struct cw_msg_decoder d;
	static uint8_t buf[128 * 1024];
	cw_envelope *got;
	size_t len;

	(void)state;
	cnt_reset();
	init_samples(&s);
	set_labels(&s, CW_MSG_LABELS_MAX);
	s.hello.features = features(CW_MSG_FEATURES_MAX, 1);
	s.hello.n_features = CW_MSG_FEATURES_MAX;
	len = wire_of(&s.env[1], buf);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_FLOOR), 0);
	got = decode_one(&d, buf, len);
	assert_int_equal(got->hello->n_labels, CW_MSG_LABELS_MAX);
	assert_true(cnt.peak <= CW_MSG_DECODE_BUDGET(len) / 2);
	cw_msg_free(&d, got);

	set_results(&s, CW_MSG_LIST_MAX);
	s.peer_probe.targets = peer_list(CW_MSG_LIST_MAX);
	s.peer_probe.n_targets = CW_MSG_LIST_MAX;
	len = wire_of(&s.env[10], buf);
	got = decode_one(&d, buf, len);
	assert_int_equal(got->peer_probe->n_results, CW_MSG_LIST_MAX);
	cw_msg_free(&d, got);

	s.api_request.headers = headers(CW_MSG_HEADERS_MAX, 0);
	s.api_request.n_headers = CW_MSG_HEADERS_MAX;
	len = wire_of(&s.env[4], buf);
	got = decode_one(&d, buf, len);
	assert_int_equal(got->api_request->n_headers, CW_MSG_HEADERS_MAX);
	cw_msg_free(&d, got);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
	release();
}

/* Every allocation refused in turn: -ENOMEM, never a leak or a crash. A
 * message whose blocks all fit its arena (a Hello), one that outgrows it
 * (an ApiRequest with many small headers: the rest allocated alone), and
 * one too large for an arena (an ApiResponse with a 20 KiB body). */
static void test_allocation_failures(void **state)
{
	struct samples s;
	static uint8_t buf[32 * 1024];
	static uint8_t big[20 * 1024];
	struct cw_msg_decoder d;
	unsigned long needed;
	static const unsigned long at_least[] = {1, 6, 4};
	const int kinds[] = {1, 4, 5};

	(void)state;
	init_samples(&s);
	set_req_headers(&s, 64);
	memset(big, 'j', sizeof(big));
	s.body.data.data = big;
	s.body.data.len = sizeof(big);
	for (size_t m = 0; m < N(kinds); m++) {
		ptrdiff_t n =
		    cw_msg_encode(&s.env[kinds[m]], CW_MSG_SIZE_DEFAULT, buf, sizeof(buf));

		assert_true(n > 0);
		for (int split = 0; split < 2; split++) {
			cw_envelope *got;

			cnt_reset();
			assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT),
					 0);
			if (split)
				assert_int_equal(cw_msg_decode(&d, buf, 10, &got), 10);
			got = decode_one(&d, buf + split * 10, (size_t)n - split * 10);
			assert_same(got, &s.env[kinds[m]]);
			cw_msg_free(&d, got);
			cw_msg_decoder_free(&d);
			needed = cnt.allocs;
			assert_true(needed >= at_least[m] + (unsigned long)split);
			for (unsigned long k = 0; k < needed; k++) {
				ptrdiff_t r = 0;

				cnt_reset();
				cnt.fail_after = (long)k;
				assert_int_equal(
				    cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
				if (split)
					r = decode_err(&d, buf, 10);
				if (r >= 0)
					r = decode_err(&d, buf + split * 10,
						       (size_t)n - split * 10);
				assert_int_equal(r, -ENOMEM);
				assert_int_equal(cw_msg_decoder_finish(&d), -ENOMEM);
				cw_msg_decoder_free(&d);
				assert_int_equal(cnt.cur, 0);
			}
		}
	}
	release();
}

/*
 * A small message decodes into one allocation (msg.c's arena), which its
 * Envelope keeps until freed, in any order with other Envelopes; a large
 * one into a block each, as protobuf-c asks.
 */
static void test_decode_arena(void **state)
{
	struct samples s;
	static uint8_t buf[32 * 1024];
	static uint8_t big[20 * 1024];
	struct cw_msg_decoder d;
	cw_envelope *a, *b;
	size_t n;

	(void)state;
	init_samples(&s);
	cnt_reset();
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_DEFAULT), 0);
	n = wire_of(&s.env[5], buf);
	a = decode_one(&d, buf, n);
	assert_int_equal(cnt.allocs, 1);
	b = decode_one(&d, buf, n);
	assert_int_equal(cnt.allocs, 2);
	assert_same(a, &s.env[5]);
	cw_msg_free(&d, a);
	assert_true(cnt.cur > 0);
	assert_same(b, &s.env[5]);
	assert_memory_equal(b->api_response->body->data.data, "{\"kind\":\"Status\"}", 17);
	cw_msg_free(&d, b);
	assert_int_equal(cnt.cur, 0);

	memset(big, 'j', sizeof(big));
	s.body.data.data = big;
	s.body.data.len = sizeof(big);
	n = wire_of(&s.env[5], buf);
	cnt_reset();
	a = decode_one(&d, buf, n);
	assert_true(cnt.allocs >= 4);
	assert_same(a, &s.env[5]);
	cw_msg_free(&d, a);
	assert_int_equal(cnt.cur, 0);
	cw_msg_decoder_free(&d);
	release();
}

/*
 * Seeded garbage, alone and after a valid message, fed whole and in random
 * chunks: both feeds must see the same Envelopes and end the same way,
 * with only the errors of a hostile peer.
 */
struct outcome {
	size_t count;
	int end;
	uint8_t digest[64]; /* a rolling sum of every Envelope's bytes */
};

static void run_feed(const uint8_t *in, size_t len, uint32_t seed, struct outcome *o)
{
	struct cw_msg_decoder d;
	size_t at = 0;

	memset(o, 0, sizeof(*o));
	assert_int_equal(cw_msg_decoder_init(&d, &counting, 4096), 0);
	while (at < len && o->end == 0) {
		size_t chunk = len - at;
		ptrdiff_t r;
		cw_envelope *got;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			chunk = 1 + (seed >> 16) % 23;
			if (chunk > len - at)
				chunk = len - at;
		}
		r = cw_msg_decode(&d, in + at, chunk, &got);
		if (r < 0) {
			o->end = (int)r;
			break;
		}
		at += (size_t)r;
		if (got) {
			size_t pl;
			uint8_t *p = packed(got, &pl);

			for (size_t i = 0; i < pl; i++)
				o->digest[(o->count + i) % 64] += p[i];
			o->count++;
			free(p);
			cw_msg_free(&d, got);
		}
	}
	if (o->end == 0)
		o->end = cw_msg_decoder_finish(&d);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
}

static void test_garbage(void **state)
{
	uint8_t in[512];
	uint32_t x = 0xc0ffee;
	unsigned ends[3] = {0}; /* -EBADMSG, -EMSGSIZE, Envelopes decoded */

	(void)state;
	cnt_reset();
	for (int round = 0; round < 3000; round++) {
		size_t len, at = 0;
		struct outcome whole, chunked;

		x = x * 1103515245u + 12345u;
		len = (x >> 16) % sizeof(in);
		if (round % 2) {
			memcpy(in, b8, sizeof(b8));
			at = sizeof(b8);
		}
		for (size_t i = at; i < len; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (uint8_t)(x >> 16);
		}
		/* keep some lengths small enough to reach the protobuf parser */
		if (round % 3 == 0 && len > at)
			in[at] &= 0x3f;
		run_feed(in, len, 0, &whole);
		run_feed(in, len, x | 1, &chunked);
		assert_int_equal(whole.count, chunked.count);
		assert_int_equal(whole.end, chunked.end);
		assert_memory_equal(whole.digest, chunked.digest, sizeof(whole.digest));
		ends[0] += whole.end == -EBADMSG;
		ends[1] += whole.end == -EMSGSIZE;
		ends[2] += whole.count > 0;
		assert_true(whole.end == 0 || whole.end == -EBADMSG || whole.end == -EMSGSIZE);
	}
	/* the rounds did reach each outcome */
	print_message("garbage: %u decode errors, %u too large, %u with Envelopes\n", ends[0],
		      ends[1], ends[2]);
	assert_true(ends[0] > 100 && ends[1] > 100 && ends[2] > 100);
}

/* ---- encoder errors --------------------------------------------------------- */

static void test_encode_errors(void **state)
{
	Causeway__V1__Envelope empty = CAUSEWAY__V1__ENVELOPE__INIT;
	struct samples s;
	uint8_t buf[64];
	size_t need;

	(void)state;
	init_samples(&s);
	assert_int_equal(cw_msg_encode(&empty, CW_MSG_SIZE_FLOOR, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(cw_msg_check(&empty), -EBADMSG);
	empty.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_DIAL; /* and no Dial */
	assert_int_equal(cw_msg_encode(&empty, CW_MSG_SIZE_FLOOR, buf, sizeof(buf)), -EINVAL);
	need = cw_msg_encoded_len(&s.env[7]);
	assert_int_equal(need, sizeof(b8));
	memset(buf, 0xa5, sizeof(buf));
	assert_int_equal(cw_msg_encode(&s.env[7], CW_MSG_SIZE_FLOOR, buf, need - 1), -ENOSPC);
	assert_int_equal(cw_msg_encode(&s.env[7], CW_MSG_SIZE_FLOOR, buf, 0), -ENOSPC);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xa5);
	/* The peer's limit counts the Envelope, not the prefix. */
	assert_int_equal(cw_msg_encode(&s.env[7], need - 2, buf, sizeof(buf)), -EMSGSIZE);
	assert_int_equal(cw_msg_encode(&s.env[7], need - 1, buf, sizeof(buf)), need);
	assert_memory_equal(buf, b8, need);
}

/* ---- bodies ---------------------------------------------------------------- */

struct fx {
	struct cw_compress *c;
	uint8_t *dict, *pod;
	size_t dict_len, pod_len;
	uint32_t dict_id;
};

static int body_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->dict = tu_read_source_file(DICT_PATH, &fx->dict_len);
	fx->pod = tu_read_source_file(POD_PATH, &fx->pod_len);
	assert_int_equal(cw_compress_init(&fx->c, NULL, 0), 0);
	assert_int_equal(cw_compress_add_dict(fx->c, fx->dict, fx->dict_len, &fx->dict_id), 0);
	cnt_reset();
	*state = fx;
	return 0;
}

static int body_teardown(void **state)
{
	struct fx *fx = *state;

	cw_compress_free(fx->c);
	free(fx->dict);
	free(fx->pod);
	free(fx);
	return 0;
}

/* Pack, carry in an ApiResponse through encoder and decoder, unpack. */
static void body_trip(struct fx *fx, uint32_t dict_id, const void *src, size_t len, int want_enc)
{
	Causeway__V1__Envelope env = CAUSEWAY__V1__ENVELOPE__INIT;
	Causeway__V1__ApiResponse resp = CAUSEWAY__V1__API_RESPONSE__INIT;
	Causeway__V1__Body body;
	struct cw_msg_decoder d;
	uint8_t *z = malloc(len + 1), *wire = malloc(len + 64), *out;
	size_t out_len;
	ptrdiff_t n;
	cw_envelope *got;

	assert_non_null(z);
	assert_non_null(wire);
	assert_int_equal(cw_msg_body_pack(fx->c, dict_id, src, len, z, len, &body), want_enc);
	assert_int_equal(body.encoding, want_enc);
	if (want_enc == CW_ENC_IDENTITY) {
		assert_ptr_equal(body.data.data, src);
		assert_int_equal(body.data.len, len);
		assert_int_equal(body.uncompressed_len, 0);
	} else {
		assert_ptr_equal(body.data.data, z);
		assert_true(body.data.len < len);
		assert_int_equal(body.uncompressed_len, len);
	}
	resp.status = 200;
	resp.body = &body;
	env.msg_case = CAUSEWAY__V1__ENVELOPE__MSG_API_RESPONSE;
	env.api_response = &resp;
	n = cw_msg_encode(&env, CW_MSG_SIZE_FLOOR, wire, len + 64);
	assert_true(n > 0);
	assert_int_equal(cw_msg_decoder_init(&d, &counting, CW_MSG_SIZE_FLOOR), 0);
	got = decode_one(&d, wire, (size_t)n);
	assert_int_equal(cw_msg_body_len(got->api_response->body, CW_MSG_SIZE_FLOOR), len);
	assert_int_equal(cw_msg_body_unpack_alloc(fx->c, dict_id, got->api_response->body,
						  CW_MSG_SIZE_FLOOR, &counting, &out, &out_len),
			 0);
	assert_int_equal(out_len, len);
	if (len) {
		assert_memory_equal(out, src, len);
		counting.free(counting.ctx, out, out_len);
	} else {
		assert_null(out);
	}
	cw_msg_free(&d, got);
	cw_msg_decoder_free(&d);
	assert_int_equal(cnt.cur, 0);
	free(z);
	free(wire);
}

static void test_body_policy(void **state)
{
	struct fx *fx = *state;
	uint8_t rnd[4096];
	uint32_t x = 99;

	for (size_t i = 0; i < sizeof(rnd); i++) {
		x = x * 1103515245u + 12345u;
		rnd[i] = (uint8_t)(x >> 16);
	}
	body_trip(fx, fx->dict_id, fx->pod, fx->pod_len, CW_ENC_ZSTD_DICT);
	body_trip(fx, 0, fx->pod, fx->pod_len, CW_ENC_ZSTD);
	/* the threshold, from both sides */
	body_trip(fx, fx->dict_id, fx->pod, CW_MSG_BODY_COMPRESS_MIN, CW_ENC_ZSTD_DICT);
	body_trip(fx, fx->dict_id, fx->pod, CW_MSG_BODY_COMPRESS_MIN - 1, CW_ENC_IDENTITY);
	body_trip(fx, 0, fx->pod, CW_MSG_BODY_COMPRESS_MIN - 1, CW_ENC_IDENTITY);
	body_trip(fx, fx->dict_id, "{}", 2, CW_ENC_IDENTITY);
	body_trip(fx, fx->dict_id, "", 0, CW_ENC_IDENTITY);
	/* incompressible: zstd would not make it smaller */
	body_trip(fx, fx->dict_id, rnd, sizeof(rnd), CW_ENC_IDENTITY);
	body_trip(fx, 0, rnd, sizeof(rnd), CW_ENC_IDENTITY);
}

static void test_body_pack_details(void **state)
{
	struct fx *fx = *state;
	Causeway__V1__Body body, plain;
	uint8_t z[8192];

	/* With the dictionary, much smaller than without (§14; goal >= 8x). */
	assert_int_equal(
	    cw_msg_body_pack(fx->c, fx->dict_id, fx->pod, fx->pod_len, z, sizeof(z), &body),
	    CW_ENC_ZSTD_DICT);
	assert_true(body.data.len * 8 <= fx->pod_len);
	assert_int_equal(cw_msg_body_pack(fx->c, 0, fx->pod, fx->pod_len, z, sizeof(z), &plain),
			 CW_ENC_ZSTD);
	assert_true(body.data.len < plain.data.len);
	/* A dictionary that is not loaded is the caller's mistake. */
	assert_int_equal(
	    cw_msg_body_pack(fx->c, fx->dict_id + 1, fx->pod, fx->pod_len, z, sizeof(z), &body),
	    -ENOKEY);
	/* No room for the frame: sent as it is rather than failing. */
	assert_int_equal(cw_msg_body_pack(fx->c, fx->dict_id, fx->pod, fx->pod_len, z, 16, &body),
			 CW_ENC_IDENTITY);
	assert_ptr_equal(body.data.data, fx->pod);
	cw_msg_body_identity(&body, "abc", 3);
	assert_int_equal(body.encoding, CW_ENC_IDENTITY);
	assert_int_equal(body.data.len, 3);
}

/* Hand-made zstd frame: content size @fcs, 1 MiB window, @blocks RLE
 * blocks of 128 KiB each. */
static uint8_t *rle_frame(uint64_t fcs, size_t blocks, size_t *len)
{
	uint8_t *f = malloc(14 + 4 * blocks), *p = f;

	assert_non_null(f);
	memcpy(p, "\x28\xb5\x2f\xfd", 4);
	p[4] = 0xc0;	/* 8-byte content size, no single segment, no checksum */
	p[5] = 10 << 3; /* window 2^(10 + 10) */
	for (int i = 0; i < 8; i++)
		p[6 + i] = (uint8_t)(fcs >> (8 * i));
	p += 14;
	for (size_t b = 0; b < blocks; b++) {
		uint32_t h = (uint32_t)(128 * 1024) << 3 | 1u << 1 | (b + 1 == blocks);

		p[0] = (uint8_t)h;
		p[1] = (uint8_t)(h >> 8);
		p[2] = (uint8_t)(h >> 16);
		p[3] = 'A';
		p += 4;
	}
	*len = (size_t)(p - f);
	return f;
}

static void test_body_bombs(void **state)
{
	struct fx *fx = *state;
	Causeway__V1__Body body = CAUSEWAY__V1__BODY__INIT;
	uint8_t *out, small[64];
	size_t out_len, flen;
	uint8_t *gib = rle_frame(GIB, 8192, &flen), *mib;

	/* The frame itself is good: its declared 8 MiB prefix decodes... */
	body.encoding = CAUSEWAY__V1__ENCODING__ZSTD;
	body.data.data = gib;
	body.data.len = flen;

	/* 1 GiB declared and stated: refused before anything is allocated. */
	body.uncompressed_len = GIB;
	cnt_reset();
	assert_int_equal(cw_msg_body_len(&body, CW_MSG_SIZE_DEFAULT), -EMSGSIZE);
	assert_int_equal(cw_msg_body_unpack_alloc(fx->c, 0, &body, CW_MSG_SIZE_DEFAULT, &counting,
						  &out, &out_len),
			 -EMSGSIZE);
	assert_null(out);
	assert_int_equal(cnt.allocs, 0);

	/* Declared small, frame states 1 GiB: refused, at most the declared
	 * length ever allocated. */
	body.uncompressed_len = 1000;
	assert_int_equal(cw_msg_body_unpack_alloc(fx->c, 0, &body, CW_MSG_SIZE_DEFAULT, &counting,
						  &out, &out_len),
			 -EMSGSIZE);
	assert_true(cnt.peak <= 1000);
	assert_int_equal(cnt.cur, 0);

	/* Frame header says 1 MiB, the blocks say 1 GiB: zstd stops at the
	 * end of the 1 MiB buffer. */
	mib = rle_frame(MIB, 8192, &flen);
	body.data.data = mib;
	body.data.len = flen;
	body.uncompressed_len = MIB;
	cnt_reset();
	assert_int_equal(cw_msg_body_unpack_alloc(fx->c, 0, &body, CW_MSG_SIZE_DEFAULT, &counting,
						  &out, &out_len),
			 -EBADMSG);
	assert_int_equal(cnt.peak, MIB);
	assert_int_equal(cnt.cur, 0);
	/* The same header with exactly 8 blocks is honest and decodes. */
	free(mib);
	mib = rle_frame(MIB, 8, &flen);
	body.data.data = mib;
	body.data.len = flen;
	assert_int_equal(cw_msg_body_unpack_alloc(fx->c, 0, &body, CW_MSG_SIZE_DEFAULT, &counting,
						  &out, &out_len),
			 0);
	assert_int_equal(out_len, MIB);
	assert_int_equal(out[0], 'A');
	assert_int_equal(out[MIB - 1], 'A');
	counting.free(counting.ctx, out, out_len);
	/* ...but not under a cap below it. */
	assert_int_equal(cw_msg_body_unpack(fx->c, 0, &body, small, sizeof(small)), -EMSGSIZE);
	assert_int_equal(cnt.cur, 0);
	free(mib);
	free(gib);
}

static void test_body_errors(void **state)
{
	struct fx *fx = *state;
	Causeway__V1__Body body;
	uint8_t z[8192], out[8192];

	assert_int_equal(cw_msg_body_len(NULL, 100), 0);
	assert_int_equal(cw_msg_body_unpack(fx->c, 0, NULL, out, sizeof(out)), 0);
	/* ZSTD_DICT when none was agreed, or with another id than agreed. */
	assert_int_equal(
	    cw_msg_body_pack(fx->c, fx->dict_id, fx->pod, fx->pod_len, z, sizeof(z), &body),
	    CW_ENC_ZSTD_DICT);
	assert_int_equal(cw_msg_body_unpack(fx->c, 0, &body, out, sizeof(out)), -ENOKEY);
	assert_int_equal(cw_msg_body_unpack(fx->c, fx->dict_id + 1, &body, out, sizeof(out)),
			 -ENOKEY);
	/* A dictionary frame sent as plain ZSTD. */
	body.encoding = CAUSEWAY__V1__ENCODING__ZSTD;
	assert_int_equal(cw_msg_body_unpack(fx->c, fx->dict_id, &body, out, sizeof(out)), -EBADMSG);
	/* Declared length differing from the frame's: above it, a mismatch;
	 * below it, the frame no longer fits what was declared. */
	body.encoding = CAUSEWAY__V1__ENCODING__ZSTD_DICT;
	body.uncompressed_len = fx->pod_len + 1;
	assert_int_equal(cw_msg_body_unpack(fx->c, fx->dict_id, &body, out, sizeof(out)), -EBADMSG);
	body.uncompressed_len = fx->pod_len - 1;
	assert_int_equal(cw_msg_body_unpack(fx->c, fx->dict_id, &body, out, sizeof(out)),
			 -EMSGSIZE);
	body.uncompressed_len = fx->pod_len;
	assert_int_equal(cw_msg_body_unpack(fx->c, fx->dict_id, &body, out, sizeof(out)),
			 (ptrdiff_t)fx->pod_len);
	assert_int_equal(cw_msg_body_unpack(fx->c, fx->dict_id, &body, out, fx->pod_len - 1),
			 -EMSGSIZE);
	/* Reserved encodings. */
	body.encoding = (Causeway__V1__Encoding)3;
	assert_int_equal(cw_msg_body_len(&body, sizeof(out)), -EBADMSG);
	body.encoding = (Causeway__V1__Encoding)-1;
	assert_int_equal(cw_msg_body_unpack(fx->c, fx->dict_id, &body, out, sizeof(out)), -EBADMSG);
	/* IDENTITY: 0 or the data's length, within the cap. */
	cw_msg_body_identity(&body, "abcd", 4);
	assert_int_equal(cw_msg_body_unpack(fx->c, 0, &body, out, 4), 4);
	body.uncompressed_len = 4;
	assert_int_equal(cw_msg_body_unpack(fx->c, 0, &body, out, 4), 4);
	body.uncompressed_len = 5;
	assert_int_equal(cw_msg_body_len(&body, 100), -EBADMSG);
	body.uncompressed_len = 0;
	assert_int_equal(cw_msg_body_unpack(fx->c, 0, &body, out, 3), -EMSGSIZE);
	/* An empty ZSTD body must still be a frame saying so. */
	body.encoding = CAUSEWAY__V1__ENCODING__ZSTD;
	body.data.len = 0;
	assert_int_equal(cw_msg_body_unpack(fx->c, 0, &body, out, sizeof(out)), -EBADMSG);
	assert_int_equal(cw_msg_body_unpack_alloc(fx->c, 0, &body, 100, &counting,
						  &(uint8_t *){NULL}, &(size_t){0}),
			 -EBADMSG);
	assert_int_equal(cnt.cur, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_each_kind),
	    cmocka_unit_test(test_decoded_fields),
	    cmocka_unit_test(test_b8_exact_bytes),
	    cmocka_unit_test(test_non_minimal_prefix),
	    cmocka_unit_test(test_every_split_point),
	    cmocka_unit_test(test_stops_after_message),
	    cmocka_unit_test(test_oversize_before_allocation),
	    cmocka_unit_test(test_buffer_follows_received),
	    cmocka_unit_test(test_zero_length),
	    cmocka_unit_test(test_fin_inside_message),
	    cmocka_unit_test(test_init_errors),
	    cmocka_unit_test(test_malformed_protobuf),
	    cmocka_unit_test(test_unknown_fields),
	    cmocka_unit_test(test_envelope_shapes),
	    cmocka_unit_test(test_field_limits),
	    cmocka_unit_test(test_hello_size),
	    cmocka_unit_test(test_decode_budget),
	    cmocka_unit_test(test_budget_fits_limits),
	    cmocka_unit_test(test_decode_arena),
	    cmocka_unit_test(test_allocation_failures),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_encode_errors),
	    cmocka_unit_test_setup_teardown(test_body_policy, body_setup, body_teardown),
	    cmocka_unit_test_setup_teardown(test_body_pack_details, body_setup, body_teardown),
	    cmocka_unit_test_setup_teardown(test_body_bombs, body_setup, body_teardown),
	    cmocka_unit_test_setup_teardown(test_body_errors, body_setup, body_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
