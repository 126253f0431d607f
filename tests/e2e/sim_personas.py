"""sim_personas.py — what each --persona of llmtrace-sim puts on the wire (tests/e2e/sim_personas.sh).

`PERSONA PORT`: streamed chat with and without stream_options.include_usage, an invalid body,
and the Responses endpoint, each read on a raw socket and checked against what that server
sends (sim/README.md "Personas" cites where each server decides it)."""
import json
import socket
import sys
import time


def fail(msg):
    print('FAIL:', msg)
    sys.exit(1)


def check(name, cond, info=''):
    if not cond:
        fail('%s %s' % (name, info))
    print('ok:', name)


def exchange(port, path, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    s.sendall(b'POST ' + path.encode() + b' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
              b'Content-Length: ' + str(len(raw)).encode() + b'\r\n\r\n' + raw)
    out = b''
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        out += d
    head, body = out.split(b'\r\n\r\n', 1)
    status = int(head.split(b' ')[1])
    if b'chunked' in head.lower():  # de-chunk
        plain, rest = b'', body
        while rest:
            size, rest = rest.split(b'\r\n', 1)
            n = int(size, 16)
            if n == 0:
                break
            plain += rest[:n]
            rest = rest[n + 2:]
        body = plain
    return status, head, body


def events(body):
    """SSE data payloads in order (comments skipped), with their event names."""
    out = []
    for block in body.decode().split('\n\n'):
        name, data = None, None
        for line in block.split('\n'):
            if line.startswith('event:'):
                name = line[6:].strip()
            elif line.startswith('data:'):
                data = line[5:].lstrip(' ')
        if data is not None:
            out.append((name, data))
    return out


def chat(n, usage):
    b = {'stream': True, 'max_tokens': n, 'ignore_eos': True,
         'messages': [{'role': 'user', 'content': 'hello there'}]}
    if usage:
        b['stream_options'] = {'include_usage': True}
    return b


def main(persona, port):
    # --- streamed chat, no include_usage
    st, head, body = exchange(port, '/v1/chat/completions', chat(24, False))
    check('200', st == 200, head)
    ev = events(body)
    check('[DONE] last', ev[-1][1] == '[DONE]', ev[-1])
    chunks = [json.loads(d) for _, d in ev[:-1]]
    first = chunks[0]['choices'][0]['delta']
    role_only = first.get('role') == 'assistant' and not first.get('content')
    want_role_only = persona in ('sim', 'vllm', 'sglang', 'openai')
    check('role-only first chunk: %s' % want_role_only, role_only == want_role_only, first)
    content = [c for c in chunks if c['choices'] and
               (c['choices'][0].get('delta') or {}).get('content')]
    ntok = sum(len(c['choices'][0]['delta']['content'].split()) for c in content)
    check('24 words of text', ntok == 24, ntok)
    if persona == 'llama.cpp':
        check('fewer content chunks than tokens (held-back byte-fallback tokens)',
              len(content) < 24, len(content))
    else:
        check('one content chunk per token', len(content) == 24, len(content))
    with_usage = [c for c in chunks if c.get('usage')]
    if persona == 'llama.cpp':
        last = chunks[-1]
        check('usage + timings in the finish chunk regardless of stream_options',
              last['usage']['completion_tokens'] == 24 and 'timings' in last and
              last['choices'][0]['finish_reason'] == 'length' and last['choices'][0]['delta'] == {})
    else:
        check('no usage without include_usage', not with_usage, with_usage[:1])
    finish = [c for c in chunks if c['choices'] and c['choices'][0].get('finish_reason')]
    check('one finish reason', len(finish) == 1 and finish[0]['choices'][0]['finish_reason'] == 'length')
    on_last = bool(finish[0]['choices'][0].get('delta', {}).get('content'))
    check('finish reason on the last content chunk: %s' % (persona in ('vllm', 'tgi')),
          on_last == (persona in ('vllm', 'tgi')), finish[0])
    if persona == 'tgi':
        check('TGI: every delta has the role', all(c['choices'][0]['delta'].get('role') == 'assistant'
                                                    for c in content))
    if persona == 'ollama':
        check('Ollama: the role rides on the first content chunk only',
              content[0]['choices'][0]['delta'].get('role') == 'assistant' and
              all('role' not in c['choices'][0]['delta'] for c in content[1:]))
    # --- include_usage
    st, head, body = exchange(port, '/v1/chat/completions', chat(5, True))
    chunks = [json.loads(d) for _, d in events(body)[:-1]]
    if persona == 'llama.cpp':
        check('llama.cpp: still usage in the finish chunk', chunks[-1]['choices'] and
              chunks[-1]['usage']['completion_tokens'] == 5)
    else:
        check('usage in a separate choices:[] chunk', chunks[-1]['choices'] == [] and
              chunks[-1]['usage']['completion_tokens'] == 5, chunks[-1])
    # --- headers
    hl = head.decode()
    want = {'llama.cpp': 'Server: llama.cpp', 'vllm': 'server: uvicorn', 'sglang': 'server: uvicorn',
            'tgi': 'content-type: text/event-stream', 'ollama': 'Content-Type: text/event-stream',
            'openai': 'Content-Type: text/event-stream', 'sim': 'Server: llmtrace-sim'}[persona]
    check('header %r' % want, want in hl, hl)
    # --- an invalid body: each server's status and error shape
    st, head, body = exchange(port, '/v1/chat/completions', {'messages': 3})
    err = json.loads(body)
    want_status = {'llama.cpp': 500, 'tgi': 422}.get(persona, 400)
    check('error status %d' % want_status, st == want_status, st)
    if persona == 'llama.cpp':
        ok = err['error']['code'] == 500 and err['error']['type'] == 'server_error'
    elif persona == 'vllm':
        ok = err['error']['code'] == 400 and err['error']['type'] == 'BadRequestError'
    elif persona == 'sglang':
        ok = err['object'] == 'error' and err['code'] == 400 and 'message' in err
    elif persona == 'tgi':
        ok = err['error_type'] == 'validation' and isinstance(err['error'], str)
    elif persona == 'ollama':
        ok = err['error']['type'] == 'invalid_request_error' and err['error']['code'] is None
    else:
        ok = err['error']['type'] == 'invalid_request_error' and 'message' in err['error']
    check('error body shape', ok, err)
    # --- the Responses API, streamed and whole
    st, head, body = exchange(port, '/v1/responses', {'stream': True, 'input': 'hi',
                                                      'max_output_tokens': 4, 'ignore_eos': True})
    ev = events(body)
    types = [json.loads(d)['type'] for _, d in ev]
    check('responses: event names match types', all(n == t for (n, _), t in zip(ev, types)))
    check('responses: shape', types[:4] == ['response.created', 'response.in_progress',
                                            'response.output_item.added', 'response.content_part.added']
          and types.count('response.output_text.delta') == 4 and types[-1] == 'response.incomplete',
          types)
    seq = [json.loads(d)['sequence_number'] for _, d in ev]
    check('responses: sequence numbers', seq == list(range(len(seq))), seq)
    fin = json.loads(ev[-1][1])['response']
    check('responses: usage', fin['usage']['output_tokens'] == 4 and
          fin['incomplete_details'] == {'reason': 'max_output_tokens'})
    st, head, body = exchange(port, '/v1/responses', {'input': [{'role': 'user', 'content': 'hi'}],
                                                      'max_output_tokens': 6})
    r = json.loads(body)
    check('responses: whole body', st == 200 and r['object'] == 'response' and
          len(r['output'][0]['content'][0]['text'].split()) == r['usage']['output_tokens'])


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]))
