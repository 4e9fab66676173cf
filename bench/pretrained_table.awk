# The tables of bench/pretrained_bench.sh from its raw lines
#   workload <TAB> tool <TAB> threads <TAB> value <TAB> unit
# awk -F'\t' -v threads="1 2" -f bench/pretrained_table.awk RAW
function has(t, w, n) { return ((t, w, n) in V) }
function val(t, w, n) { return has(t, w, n) ? V[t, w, n] : "" }
function fmt(x) {
    if (x == "") return "—"
    x += 0
    if (x >= 100) return sprintf("%.0f", x)
    if (x >= 10) return sprintf("%.1f", x)
    return sprintf("%.2f", x)
}
function ratio(a, b) { return (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2fx", a / b) : "—" }
function pct(x) { return x == "" ? "—" : sprintf("%.1f %%", 100 * x) }
# the largest value of the listed tools (space-separated) for w at n threads
function best(tools, w, n,    k, i, b, v) {
    k = split(tools, tl, " "); b = ""
    for (i = 1; i <= k; i++) { v = val(tl[i], w, n); if (v != "" && (b == "" || v + 0 > b + 0)) b = v }
    return b
}
function lowest(tools, w, n,    k, i, b, v) {
    k = split(tools, tl, " "); b = ""
    for (i = 1; i <= k; i++) { v = val(tl[i], w, n); if (v != "" && (b == "" || v + 0 < b + 0)) b = v }
    return b
}
function gflops(t, w, n) { return (val(t, w, n) != "" && ("flops", w) in FL) ? val(t, w, n) * FL["flops", w] / 1e9 : "" }
NF >= 5 && $1 == "flops_per_text" { FL["flops", $2] = $4; next }
NF >= 5 { V[$2, $1, $3] = $4 }
END {
    nt = split(threads, th, " ")
    P32 = "sentence-transformers onnxruntime"
    PALL = "sentence-transformers sentence-transformers-bf16 onnxruntime"
    print "Embedding throughput, texts/s (batch 32, tokenization included; higher is better):"
    print ""
    print "| texts | threads | attend | attend bf16 | sentence-transformers | sentence-transformers bf16 | ONNX Runtime | attend / faster fp32 peer | attend bf16 / fastest peer | attend GFLOP/s (bf16) | sgemm GFLOP/s |"
    print "|---|---|---|---|---|---|---|---|---|---|---|"
    split("short medium long", ws, " ")
    for (i = 1; i <= 3; i++) for (j = 1; j <= nt; j++) {
        w = ws[i]; n = th[j]
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s (%s) | %s |\n", w, n,
            fmt(val("attend", w, n)), fmt(val("attend-bf16", w, n)), fmt(val("sentence-transformers", w, n)),
            fmt(val("sentence-transformers-bf16", w, n)), fmt(val("onnxruntime", w, n)),
            ratio(val("attend", w, n), best(P32, w, n)), ratio(val("attend-bf16", w, n), best(PALL, w, n)),
            fmt(gflops("attend", w, n)), fmt(gflops("attend-bf16", w, n)), fmt(val("attend", "sgemm", n))
    }
    print ""
    print "Latency of one 20-token text, ms, p50 / p99 over the calls (lower is better):"
    print ""
    print "| threads | attend | attend bf16 | sentence-transformers | sentence-transformers bf16 | ONNX Runtime | fastest peer p50 / attend p50 |"
    print "|---|---|---|---|---|---|---|"
    split("attend attend-bf16 sentence-transformers sentence-transformers-bf16 onnxruntime", ls, " ")
    for (j = 1; j <= nt; j++) {
        n = th[j]; line = "| " n
        for (k = 1; k <= 5; k++) line = line " | " fmt(val(ls[k], "latency_p50", n)) " / " fmt(val(ls[k], "latency_p99", n))
        print line " | " ratio(lowest(PALL, "latency_p50", n), val("attend", "latency_p50", n)) " |"
    }
    ft = 0
    for (j = 1; j <= nt; j++) if (has("attend", "finetune_epoch", th[j]) || has("transformers", "finetune_epoch", th[j])) ft = th[j]
    if (ft) {
        print ""
        print "One fine-tuning epoch, the same recipe on both sides (mean pooling, dropout and an N(0, 0.02) linear head, batch 32, max length 128, AdamW lr 5e-5, warmup 6 %, cosine decay, clipping 1.0; attend sorts by length within chunks of 8 batches, its --init default, the peer draws batches at random), accuracy on the held-out texts:"
        print ""
        print "| threads | attend s/epoch | transformers s/epoch | transformers / attend | attend texts/s | transformers texts/s | attend accuracy | transformers accuracy |"
        print "|---|---|---|---|---|---|---|---|"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", ft,
            fmt(val("attend", "finetune_epoch", ft)), fmt(val("transformers", "finetune_epoch", ft)),
            ratio(val("transformers", "finetune_epoch", ft), val("attend", "finetune_epoch", ft)),
            fmt(val("attend", "finetune_train_texts_per_s", ft)), fmt(val("transformers", "finetune_train_texts_per_s", ft)),
            pct(val("attend", "finetune_valid_acc", ft)), pct(val("transformers", "finetune_valid_acc", ft))
    }
    print ""
    print "GFLOP/s counts the encoder's matrix products (projections, feed-forward, attention"
    print "scores and weighted sums) from the texts' own token counts; sgemm: OpenBLAS on"
    print "1024 x 1024 x 1024 in fp32 through attend_bench, the machine's reference figure."
}
