#!/bin/sh
# attend serve on loopback: every endpoint against the library and the CLI,
# hostile requests (malformed, oversized, wrong types, bad HTTP, slowloris,
# no key), 64 concurrent clients x 50 requests all answered correctly,
# SIGHUP with a good and a corrupt model file under load, SIGTERM under load
# losing no request. The server must stay up through all of it and exit 0
# (under `make test SANITIZE=1` / `TSAN=1` that also means no sanitizer
# report and no leak). Tiny models trained here; bounded in time.
# Usage: sh tests/test_serve.sh path/to/attend   (from the repository root;
# the client is $ATTEND_SERVE_CLIENT, default beside attend in tests/).
# Needs curl (else skipped).

. "$(dirname "$0")/lib.sh"
test_bin "$1"
CLIENT=${ATTEND_SERVE_CLIENT:-$(dirname "$BIN")/tests/serve_client}
if ! command -v curl >/dev/null 2>&1; then
    echo "SKIP: curl is not installed (apt-get install curl)"
    exit 77
fi
if [ ! -x "$CLIENT" ]; then
    echo "test_serve: no client at $CLIENT (build the serve_client target)" >&2
    exit 1
fi
PIDS=""
cleanup() {
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$T"
}
test_scratch serve cleanup

# ---- two tiny models on 3 classes (the data of test_cli_classifier.sh) ----
toy_data 4242 40 3 6 plain >data.tsv
SMALL="--epochs 2 --d-model 16 --heads 2 --layers 1 --d-ff 32 --batch 8 --threads 1 --max-len 16 --val-split 0"
"$BIN" train --data data.tsv --out m1.safetensors $SMALL --seed 1 >train.log 2>&1 || { show train.log; exit 1; }
"$BIN" train --data data.tsv --out m2.safetensors $SMALL --seed 2 >train.log 2>&1 || { show train.log; exit 1; }
cp m1.safetensors model.safetensors

# texts: the data's, other scripts, one longer than max_len (16 tokens), one
# without tokens (only spaces)
cut -f2 data.tsv >texts.txt
cat >>texts.txt <<'EOF'
Ünïcödé cat with a ﬁne ＣＯＷ and 猫 dog
cat dog horse cow sheep goat lion tiger bear wolf bread cheese apple rice soup pasta butter honey
   
EOF

# start NAME ARGS...: starts the server on an ephemeral port with stdout in
# NAME.out, stderr in NAME.err; sets $PID and $PORT; waits for the address.
start() {
    sname=$1
    shift
    "$BIN" serve --port 0 --threads 2 --http-threads 2 "$@" >"$sname.out" 2>"$sname.err" &
    PID=$!
    PIDS="$PIDS $PID"
    PORT=""
    i=0
    while [ $i -lt 600 ] && [ -z "$PORT" ]; do
        PORT=$(sed -n 's/^attend: listening on http:\/\/127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$sname.out")
        [ -n "$PORT" ] || sleep 0.1
        i=$((i + 1))
    done
    [ -n "$PORT" ] || { bad "$sname: no address printed"; show "$sname.err"; }
}
# ready NAME: waits for the readiness line
ready() {
    i=0
    while [ $i -lt 600 ] && ! grep -q '^attend: ready' "$1.out"; do
        sleep 0.1
        i=$((i + 1))
    done
    if grep -q '^attend: ready' "$1.out"; then ok; else bad "$1: not ready"; show "$1.err"; fi
}
# stop NAME PID: SIGTERM, then the exit code must be 0
stop() {
    kill -TERM "$2"
    wait "$2"
    src=$?
    if [ $src -eq 0 ]; then ok; else bad "$1: exit $src after SIGTERM"; show "$1.err"; fi
}
# waitlog NAME PATTERN: waits for PATTERN in NAME.err
waitlog() {
    i=0
    while [ $i -lt 300 ] && ! grep -F -q -- "$2" "$1.err"; do
        sleep 0.1
        i=$((i + 1))
    done
    has "$1 log" "$1.err" "$2"
}
# waitcount NAME PATTERN N: waits for N lines with PATTERN in NAME.err
# (signals sent while the server is busy with one merge into one)
waitcount() {
    i=0
    while [ $i -lt 300 ] && [ "$(grep -F -c -- "$2" "$1.err")" -lt "$3" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if [ "$(grep -F -c -- "$2" "$1.err")" -ge "$3" ]; then ok; else bad "$1 log: $3 x '$2'"; show "$1.err"; fi
}
# req EXPECT_STATUS NAME METHOD PATH [curl args]: the status must match; a
# non-2xx answer must be JSON {"error": ..., "error_type": ...}
req() {
    want=$1 rname=$2 method=$3 path=$4
    shift 4
    code=$(curl -s -o body -w '%{http_code}' --max-time 30 -X "$method" "http://127.0.0.1:$PORT$path" "$@")
    if [ "$code" = "$want" ]; then ok; else bad "$rname: status $code, expected $want"; show body; fi
    case $want in 2*) ;; *)
        if grep -q '^{"error":".*","error_type":"[a-z_]*"}$' body; then ok; else bad "$rname: error body"; show body; fi ;;
    esac
}
post() {
    pwant=$1 pname=$2 ppath=$3 pbody=$4
    shift 4
    req "$pwant" "$pname" POST "$ppath" -H 'Content-Type: application/json' --data-binary "$pbody" "$@"
}

# ---- /health answers 503 until the model is loaded (a FIFO holds the load) ----
mkfifo model.fifo
start loading --model model.fifo
req 503 "health before the model" GET /health
has "health before the model" body '"error_type":"unhealthy"'
post 503 "predict before the model" /predict '{"inputs": "cat"}'
cat m1.safetensors >model.fifo
ready loading
req 200 "health once loaded" GET /health
stop loading $PID

# ---- the main server ----
start main --model model.safetensors --max-body 65536 --max-inputs 64 --idle-timeout 2
ready main
req 200 "health" GET /health
has "health" body '"status":"ok"'
req 200 "info" GET /info
for key in '"labels":["animal","food","tool"]' '"max_input_tokens":16' '"embed_dim":16' \
    '"max_inputs":64' '"build":"attend '; do
    has "info" body "$key"
done

# /predict against attend predict: each text alone (a batch of one is
# attend_classify exactly), top 3, equal to the CLI's 6 digits
head -20 texts.txt >cli_texts.txt
"$BIN" predict --model model.safetensors --json -k 3 <cli_texts.txt >cli.jsonl 2>/dev/null
printf '[' >answers.json
n=0
while IFS= read -r line; do
    body=$(printf '%s' "$line" | awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); printf "{\"inputs\":\"%s\",\"top_k\":3}", $0 }')
    [ $n -gt 0 ] && printf ',' >>answers.json
    curl -s --max-time 30 "http://127.0.0.1:$PORT/predict" --data-binary "$body" >>answers.json
    n=$((n + 1))
done <cli_texts.txt
printf ']' >>answers.json
check "predict = attend predict -k 3 on 20 texts" "$CLIENT" cli-compare cli.jsonl answers.json

# every endpoint against the library, one text at a time: batched answers
# within 1e-6 (float rounding: see src/serve/run.c), token ids exactly
for ep in predict embed v1 tokenize; do
    check "load $ep: 4 clients x 25 requests checked" "$CLIENT" load "$PORT" model.safetensors texts.txt $ep 4 25 1e-6
done
# the endpoints at once: each batch holds one kind of job
"$CLIENT" load "$PORT" model.safetensors texts.txt predict 8 25 1e-6 >mix1.out 2>&1 &
m1=$!
"$CLIENT" load "$PORT" model.safetensors texts.txt embed 8 25 1e-6 >mix2.out 2>&1 &
m2=$!
"$CLIENT" load "$PORT" model.safetensors texts.txt tokenize 4 25 1e-6 >mix3.out 2>&1
m3=$?
wait $m1
r1=$?
wait $m2
r2=$?
if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ $m3 -eq 0 ]; then ok; else bad "predict, embed and tokenize at once"; show mix1.out; show mix2.out; show mix3.out; fi
post 200 "v1 base64" /v1/embeddings '{"input": "cat dog", "encoding_format": "base64"}'
has "v1 base64" body '"embedding":"'
post 200 "embed unnormalized" /embed '{"inputs": ["cat dog"], "normalize": false}'
post 200 "tokenize without specials" /tokenize '{"inputs": "cat", "add_special_tokens": false}'
has "tokenize" body '[[{"id":'
post 200 "predict top_k over K" /predict '{"inputs": ["cat"], "top_k": 99}'

# ---- hostile requests: the right status, and the server stays up ----
post 400 "malformed JSON" /predict '{"inputs": '
has "malformed JSON" body '"error_type":"invalid_json"'
post 400 "trailing garbage" /predict '{"inputs": "cat"} x'
post 400 "empty body" /predict ''
post 422 "inputs a number" /predict '{"inputs": 5}'
post 422 "no inputs" /predict '{"text": "cat"}'
post 422 "empty array" /predict '{"inputs": []}'
post 422 "empty string" /embed '{"inputs": ""}'
has "empty string" body '"error_type":"empty"'
post 422 "a number among the texts" /predict '{"inputs": ["cat", 1]}'
has "names the element" body 'inputs[1]'
post 422 "top_k 0" /predict '{"inputs": "cat", "top_k": 0}'
post 422 "top_k a string" /predict '{"inputs": "cat", "top_k": "3"}'
post 422 "normalize not a bool" /embed '{"inputs": "cat", "normalize": 1}'
post 422 "body an array" /predict '["cat"]'
post 422 "NUL escape" /predict '{"inputs": "ca\u0000t"}'
post 422 "token ids to /v1/embeddings" /v1/embeddings '{"input": [1, 2, 3]}'
post 422 "encoding_format" /v1/embeddings '{"input": "cat", "encoding_format": "int8"}'
printf '{"inputs": "\377\376"}' >badutf8.json
post 422 "invalid UTF-8" /predict @badutf8.json
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "["; for (i = 0; i < 5000; i++) printf "]" }' >deep.json
post 400 "nested 5000 deep" /predict @deep.json
awk 'BEGIN { printf "{\"inputs\": \""; for (i = 0; i < 70000; i++) printf "a"; printf "\"}" }' >big.json
post 413 "body over --max-body" /predict @big.json
has "body over --max-body" body '"error_type":"too_large"'
awk 'BEGIN { printf "{\"inputs\": ["; for (i = 0; i < 65; i++) printf "%s\"cat\"", i ? "," : ""; printf "]}" }' >many.json
post 413 "65 texts, --max-inputs 64" /predict @many.json
long='cat dog horse cow sheep goat lion tiger bear wolf bread cheese apple rice soup pasta butter honey'
post 413 "too long, truncate false" /predict "{\"inputs\": \"$long\", \"truncate\": false}"
post 200 "too long, truncate true" /predict "{\"inputs\": \"$long\", \"truncate\": true}"
post 200 "too long, default truncates" /embed "{\"inputs\": \"$long\"}"
post 200 "fits, truncate false" /embed '{"inputs": "cat dog", "truncate": false}'
req 405 "GET /predict" GET /predict
req 405 "POST /health" POST /health -d x
req 404 "unknown path" GET /nope
req 404 "path traversal" GET /../../etc/passwd
printf 'GARBAGE\r\n\r\n' | "$CLIENT" raw "$PORT" >raw.out
check "garbage request line: 400 or closed, not a hang" grep -q -E '^(HTTP/1.1 400|closed$)' raw.out
awk 'BEGIN { printf "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "; for (i = 0; i < 100000; i++) printf "a"; printf "\r\n\r\n" }' |
    "$CLIENT" raw "$PORT" >raw.out
check "100 kB header: refused (4xx)" grep -q '^HTTP/1.1 4[0-9][0-9]' raw.out
printf 'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{"in' | "$CLIENT" raw "$PORT" >raw.out
check "body shorter than announced: closed, not a hang" grep -q -E '^(HTTP/1.1 400|closed$)' raw.out
printf 'POST /predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{"inputs": "cat"\r\n1\r\n}\r\n0\r\n\r\n' |
    "$CLIENT" raw "$PORT" >raw.out
check "chunked body: answered" grep -q '^HTTP/1.1 200' raw.out
check "slowloris: 20 stalled headers cut off by the idle timeout, others answered" \
    "$CLIENT" slowloris "$PORT" 20 15
req 200 "health after the hostile requests" GET /health

# ---- 64 concurrent clients x 50 requests, all answered correctly ----
check "load: 64 clients x 50 requests checked" "$CLIENT" load "$PORT" model.safetensors texts.txt predict 64 50 1e-6
req 200 "metrics" GET /metrics
for key in 'attend_requests_total{endpoint="/predict",status="200"}' \
    'attend_requests_total{endpoint="/predict",status="422"}' 'attend_request_duration_seconds_bucket{endpoint="/predict",le="0.005"}' \
    'attend_batch_size_bucket{le="+Inf"}' attend_queue_depth attend_tokens_total 'attend_model_reloads_total{result="ok"} 0'; do
    has "metrics" body "$key"
done
batches=$(sed -n 's/^attend_batch_size_count \([0-9]*\)$/\1/p' body)
predicts=$(sed -n 's/^attend_requests_total{endpoint="\/predict",status="200"} \([0-9]*\)$/\1/p' body)
if [ "${batches:-0}" -gt 0 ] && [ "${batches:-0}" -lt "${predicts:-0}" ]; then ok; else
    bad "requests arriving together share batches ($batches batches for $predicts answered /predict requests)"; fi

# ---- SIGHUP: a new model, then corrupt files, under load ----
mv model.safetensors m1.serving
cp m2.safetensors next.tmp && mv next.tmp model.safetensors
kill -HUP $PID
waitlog main "generation 2"
req 200 "info after reload" GET /info
has "info after reload" body '"model_generation":2'
check "after SIGHUP the new model answers" "$CLIENT" load "$PORT" m2.safetensors texts.txt predict 4 25 1e-6
"$CLIENT" load "$PORT" m2.safetensors texts.txt predict 8 150 1e-6 >hup_load.out 2>&1 &
LOADPID=$!
head -c 1000 m2.safetensors >bad.tmp && mv bad.tmp model.safetensors
kill -HUP $PID
waitcount main "did not load" 1
printf 'not a model at all' >bad.tmp && mv bad.tmp model.safetensors
kill -HUP $PID
waitcount main "did not load" 2
cp m2.safetensors good.tmp && mv good.tmp model.safetensors
kill -HUP $PID
waitlog main "generation 3"
wait $LOADPID
lrc=$?
if [ $lrc -eq 0 ]; then ok; else bad "load during SIGHUPs: every answer from the model it was admitted with"; show hup_load.out; fi
req 200 "health after corrupt reloads" GET /health
req 200 "metrics after reloads" GET /metrics
has "metrics after reloads" body 'attend_model_reloads_total{result="failed"} 2'
has "metrics after reloads" body 'attend_model_reloads_total{result="ok"} 2'
stop main $PID
has "main: shutdown line" main.err "attend: stopped: "

# ---- the key, and --exact: bit for bit one text at a time ----
printf 'k3y-for-tests\n' >key.txt
chmod 600 key.txt
start auth --model m1.safetensors --api-key-file key.txt --exact
ready auth
req 200 "health needs no key" GET /health
req 401 "info without the key" GET /info
req 401 "metrics without the key" GET /metrics
post 401 "predict without the key" /predict '{"inputs": "cat"}'
post 401 "predict with a wrong key" /predict '{"inputs": "cat"}' -H 'Authorization: Bearer k3y-for-test'
post 401 "predict with a longer key" /predict '{"inputs": "cat"}' -H 'Authorization: Bearer k3y-for-tests2'
post 401 "predict with Basic" /predict '{"inputs": "cat"}' -H 'Authorization: Basic k3y-for-tests'
post 200 "predict with the key" /predict '{"inputs": "cat"}' -H 'Authorization: Bearer k3y-for-tests'
check "--exact: 16 clients x 20 requests, the same bits as attend_classify" \
    "$CLIENT" load "$PORT" m1.safetensors texts.txt predict 16 20 0 k3y-for-tests
check "--exact: embeddings, the same bits as attend_embed" \
    "$CLIENT" load "$PORT" m1.safetensors texts.txt embed 4 20 0 k3y-for-tests
stop auth $PID

# ---- overload: one worker, 8 requests admitted at most, a 1 ms timeout:
# 64 clients get answers or 503 + Retry-After (queue full or timed out) ----
start busy --model m1.safetensors --threads 1 --max-concurrent 8 --timeout-ms 1
ready busy
SERVE_CLIENT_ACCEPT_503=1 "$CLIENT" load "$PORT" m1.safetensors texts.txt predict 64 5 1e-6 >busy_load.out 2>&1
lrc=$?
if [ $lrc -eq 0 ] && ! grep -q 'refused_503 0 ' busy_load.out; then ok; else
    bad "overload: right answers and some 503 + Retry-After"; show busy_load.out; fi
req 200 "metrics under overload" GET /metrics
# every 503 the clients got is counted, as a refusal (queue full) or a
# timeout; which of the two depends on timing (one is slower under TSan)
n503=$(sed -n 's/.* refused_503 \([0-9]*\) .*/\1/p' busy_load.out)
nref=$(sed -n 's/^attend_requests_refused_total \([0-9]*\)$/\1/p' body)
nto=$(sed -n 's/^attend_request_timeouts_total \([0-9]*\)$/\1/p' body)
if [ -n "$n503" ] && [ -n "$nref" ] && [ -n "$nto" ] && [ $((nref + nto)) -eq "$n503" ]; then ok; else
    bad "overload: refusals ($nref) + timeouts ($nto) counted = the clients' 503s ($n503)"; fi
req 200 "health after the overload" GET /health
stop busy $PID

# ---- SIGTERM under load: every request received is answered ----
start term --model m1.safetensors
ready term
"$CLIENT" load "$PORT" m1.safetensors texts.txt predict 8 0 1e-6 >term_load.out 2>&1 &
LOADPID=$!
sleep 1
stop term $PID
wait $LOADPID
lrc=$?
if [ $lrc -eq 0 ]; then ok; else bad "load through SIGTERM: wrong or dropped answers"; show term_load.out; fi
got=$(sed -n 's/^ok \([0-9]*\) .* refused_503 \([0-9]*\) .*/\1 \2/p' term_load.out)
answered=$(sed -n 's/.*stopped: [0-9]* requests, \([0-9]*\) answered, \([0-9]*\) not sent.*/\1 \2/p' term.err)
set -- $got $answered
if [ -n "$4" ] && [ "$4" -eq 0 ] && [ $(($1 + $2)) -eq "$3" ] && [ "$1" -gt 0 ]; then ok; else
    bad "SIGTERM: the client got every answer the server sent (client ok $1 + 503 $2, server answered $3, not sent $4)"
    show term_load.out; show term.err; fi

test_done test_serve
