/* test_replay_client.c — the replay client's classification of transport failures
 * (replay/client.h): every curl outcome maps to the error kind the trace log promises
 * (BRIEF.md: refused, connect timeout, TLS, reset mid-stream, total timeout…). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "client.h"

static void test_error_kinds(void **state)
{
    (void)state;
    assert_int_equal(client_error_kind(CURLE_OK, 1), TLOG_ERROR_NONE);
    assert_int_equal(client_error_kind(CURLE_COULDNT_CONNECT, 0), TLOG_ERROR_CONNECT);
    assert_int_equal(client_error_kind(CURLE_COULDNT_RESOLVE_HOST, 0), TLOG_ERROR_CONNECT);
    /* A timeout before anything was sent is the connect timeout; after, the total one. */
    assert_int_equal(client_error_kind(CURLE_OPERATION_TIMEDOUT, 0), TLOG_ERROR_CONNECT_TIMEOUT);
    assert_int_equal(client_error_kind(CURLE_OPERATION_TIMEDOUT, 1), TLOG_ERROR_TIMEOUT);
    assert_int_equal(client_error_kind(CURLE_SSL_CONNECT_ERROR, 0), TLOG_ERROR_TLS);
    assert_int_equal(client_error_kind(CURLE_PEER_FAILED_VERIFICATION, 0), TLOG_ERROR_TLS);
    /* Closed or reset after the request went out: a reset; before: the connection failed. */
    assert_int_equal(client_error_kind(CURLE_RECV_ERROR, 1), TLOG_ERROR_RESET);
    assert_int_equal(client_error_kind(CURLE_PARTIAL_FILE, 1), TLOG_ERROR_RESET);
    assert_int_equal(client_error_kind(CURLE_GOT_NOTHING, 1), TLOG_ERROR_RESET);
    assert_int_equal(client_error_kind(CURLE_SEND_ERROR, 0), TLOG_ERROR_CONNECT);
    assert_int_equal(client_error_kind(CURLE_WEIRD_SERVER_REPLY, 1), TLOG_ERROR_MALFORMED);
    assert_int_equal(client_error_kind(CURLE_ABORTED_BY_CALLBACK, 1), TLOG_ERROR_CANCELLED);
    assert_int_equal(client_error_kind(CURLE_OUT_OF_MEMORY, 1), TLOG_ERROR_OTHER);
    assert_string_equal(tlog_error_kind_name(client_error_kind(CURLE_RECV_ERROR, 1)), "reset");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
