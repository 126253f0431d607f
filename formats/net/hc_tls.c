/* hc_tls.c — TLS for the client engine: OpenSSL driven through memory BIOs. The engine reads
 * ciphertext with its one recvmsg per readable socket (so the kernel's receive time comes with
 * it) and writes what OpenSSL produced; plaintext goes to HTTP/1.1 or HTTP/2 with that receive
 * time. Certificate and host name verification are on unless the caller asked otherwise; ALPN
 * offers h2 only when asked (then http/1.1). */
#include "hc_priv.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

int hc_tls_ctx_init(struct hc_engine *e, char *err, size_t errlen)
{
    e->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!e->ssl_ctx) {
        snprintf(err, errlen, "cannot create a TLS context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(e->ssl_ctx, TLS1_2_VERSION);
    /* an EOF without close_notify is reported as EOF (the engine sees the socket's EOF
     * itself and the HTTP framing says whether the response was whole) */
    SSL_CTX_set_options(e->ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (e->o.insecure) {
        SSL_CTX_set_verify(e->ssl_ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(e->ssl_ctx, SSL_VERIFY_PEER, NULL);
        int ok = e->o.cacert ? SSL_CTX_load_verify_locations(e->ssl_ctx, e->o.cacert, NULL)
                             : SSL_CTX_set_default_verify_paths(e->ssl_ctx);
        if (ok != 1) {
            snprintf(err, errlen, "cannot load CA certificates%s%s", e->o.cacert ? " from " : "",
                     e->o.cacert ? e->o.cacert : "");
            return -1;
        }
    }
    static const unsigned char h2_h1[] = "\x02h2\x08http/1.1";
    static const unsigned char h1[] = "\x08http/1.1";
    if (e->o.http2)
        SSL_CTX_set_alpn_protos(e->ssl_ctx, h2_h1, sizeof h2_h1 - 1);
    else
        SSL_CTX_set_alpn_protos(e->ssl_ctx, h1, sizeof h1 - 1);
    return 0;
}

void hc_tls_ctx_free(struct hc_engine *e)
{
    SSL_CTX_free(e->ssl_ctx);
    e->ssl_ctx = NULL;
}

void hc_tls_free(struct hc_conn *c)
{
    SSL_free(c->ssl); /* frees both BIOs */
    c->ssl = NULL;
    c->rbio = c->wbio = NULL;
}

/* Hands OpenSSL's pending records to the socket. 0 or -1. */
static int hc_tls_drain(struct hc_conn *c)
{
    char tmp[16384];
    int n;
    while ((n = BIO_read(c->wbio, tmp, sizeof tmp)) > 0)
        if (hc_conn_send_raw(c, tmp, (size_t)n))
            return -1;
    return 0;
}

/* The reason of the last OpenSSL failure, for records and messages. */
static void hc_tls_reason(struct hc_conn *c, char *out, size_t outlen)
{
    long vr = SSL_get_verify_result(c->ssl);
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    if (vr != X509_V_OK && !c->e->o.insecure)
        snprintf(out, outlen, "TLS handshake failed: certificate verification: %s",
                 X509_verify_cert_error_string(vr));
    else
        snprintf(out, outlen, "TLS handshake failed: %s", why ? why : "protocol error");
    ERR_clear_error();
}

static void hc_tls_handshake(struct hc_conn *c)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(c->ssl);
    if (hc_tls_drain(c)) {
        hc_conn_fail(c, HC_E_TLS, "TLS handshake failed: sending failed");
        return;
    }
    if (rc == 1) {
        const unsigned char *alpn = NULL;
        unsigned alen = 0;
        SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
        c->proto = alen == 2 && !memcmp(alpn, "h2", 2) ? HC_PROTO_H2 : HC_PROTO_H1;
        hc_conn_ready(c);
        return;
    }
    int se = SSL_get_error(c->ssl, rc);
    if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
        return;
    char m[200];
    hc_tls_reason(c, m, sizeof m);
    hc_conn_fail(c, HC_E_TLS, m);
}

int hc_tls_start(struct hc_conn *c)
{
    struct hc_engine *e = c->e;
    c->ssl = SSL_new(e->ssl_ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    if (!c->ssl || !c->rbio || !c->wbio) {
        BIO_free(c->rbio);
        BIO_free(c->wbio);
        c->rbio = c->wbio = NULL;
        return -1;
    }
    BIO_set_mem_eof_return(c->rbio, -1); /* "no data yet", not EOF */
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_connect_state(c->ssl);
    if (!e->is_ip)
        SSL_set_tlsext_host_name(c->ssl, e->host); /* SNI is for names only (RFC 6066 §3) */
    if (!e->o.insecure) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        if (e->is_ip)
            X509_VERIFY_PARAM_set1_ip_asc(vp, e->host);
        else
            SSL_set1_host(c->ssl, e->host);
    }
    hc_tls_handshake(c);
    return 0;
}

void hc_tls_recv(struct hc_conn *c, const char *p, size_t n, int64_t rx_ns)
{
    struct hc_engine *e = c->e;
    if (BIO_write(c->rbio, p, (int)n) != (int)n) {
        if (c->state == HC_HANDSHAKE)
            hc_conn_fail(c, HC_E_TLS, "TLS: out of memory");
        return;
    }
    if (c->state == HC_HANDSHAKE) {
        hc_tls_handshake(c);
        if (c->state != HC_READY)
            return;
    }
    /* everything decrypted from these bytes carries their receive time */
    for (;;) {
        ERR_clear_error();
        int k = SSL_read(c->ssl, e->pbuf, HC_READ_BUF);
        if (k > 0) {
            hc_feed_plain(c, e->pbuf, (size_t)k, rx_ns);
            if (c->state == HC_CLOSED)
                return;
            continue;
        }
        int se = SSL_get_error(c->ssl, k);
        if (se == SSL_ERROR_ZERO_RETURN) {
            c->tls_closed = 1; /* close_notify: the TCP EOF follows */
            break;
        }
        if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
            break;
        char m[200];
        unsigned long ee = ERR_peek_last_error();
        snprintf(m, sizeof m, "TLS error: %s", ee ? ERR_reason_error_string(ee) : "unknown");
        ERR_clear_error();
        /* a protocol failure mid-stream reads as a reset connection */
        hc_conn_lost(c, HC_E_RESET, m);
        return;
    }
    if (hc_tls_drain(c))
        hc_conn_lost(c, HC_E_RESET, "TLS: sending failed");
}

int hc_tls_write(struct hc_conn *c, const char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : n;
        ERR_clear_error();
        int k = SSL_write(c->ssl, p, (int)chunk);
        if (k <= 0)
            return -1; /* memory BIOs never block: anything else is a failure */
        p += k;
        n -= (size_t)k;
        if (hc_tls_drain(c))
            return -1;
    }
    return 0;
}
