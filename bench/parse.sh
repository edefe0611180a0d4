#!/bin/bash
# Parse benchmark (issue #2 item 9): libtinmoi's parser beside a minimal
# libxml2 SAX2 walk over the same bytes, in the same run.
#
#   bench/parse.sh [--feeds N] [--big-items N] [--seconds S] [--massif]
#
# Builds the benchmarks in Release (build-bench/), generates the corpus into a
# temporary folder (N feeds of 20 items, half RSS 2.0 and half Atom 1.0, and
# one big RSS feed of --big-items items, ~52 MB for the default 20000), then:
#   1. throughput over the N feeds (interleaved passes, S seconds each way);
#   2. throughput over the big feed;
#   3. peak heap while parsing a 1000-item feed and the big feed, from
#      mallinfo2() sampled after every 16 KiB chunk (bench_parse --heap), and
#      the process's peak RSS: flat in document size means the two agree;
#   4. with --massif, valgrind's massif on the big feed as a second opinion
#      on the heap peak (slow: a few minutes).
# Target: tinmoi MB/s >= 0.6 x raw; heap within 10 MB beyond the chunk buffer.
set -euo pipefail
cd "$(dirname "$0")/.."

feeds=200
big_items=20000
seconds=2
massif=false
while [ $# -gt 0 ]; do
    case $1 in
    --feeds) feeds=$2; shift 2 ;;
    --big-items) big_items=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --massif) massif=true; shift ;;
    *) echo "usage: bench/parse.sh [--feeds N] [--big-items N] [--seconds S] [--massif]" >&2; exit 2 ;;
    esac
done

build=${TINMOI_BENCH_BUILD:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTINMOI_BENCH=ON >/dev/null
cmake --build "$build" --target bench_parse gen_corpus -j"$(nproc)" >/dev/null
bin=$build/bench

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/gen_corpus" --feeds "$feeds" --out "$tmp/feeds"
"$bin/gen_corpus" --items "$big_items" --out "$tmp/big.xml"
"$bin/gen_corpus" --items 1000 --out "$tmp/mid.xml"

val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

"$bin/bench_parse" --seconds "$seconds" "$tmp"/feeds/*.xml >"$tmp/small.txt"
"$bin/bench_parse" --seconds "$seconds" "$tmp/big.xml" >"$tmp/big.txt"
/usr/bin/time -f 'maxrss_kb %M' -o "$tmp/rss.txt" "$bin/bench_parse" --heap "$tmp/big.xml" >"$tmp/heap.txt"
"$bin/bench_parse" --heap "$tmp/mid.xml" >"$tmp/mid.txt"

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "libxml2 $(xml2-config --version 2>/dev/null || pkg-config --modversion libxml-2.0), chunk $(val chunk_bytes "$tmp/small.txt") bytes"
echo
printf '| %-34s | %10s | %11s | %9s | %6s |\n' corpus "raw MB/s" "tinmoi MB/s" ratio passes
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" "$(printf -- '-%.0s' {1..12})" \
    "$(printf -- '-%.0s' {1..13})" "$(printf -- '-%.0s' {1..11})" "$(printf -- '-%.0s' {1..8})"
for f in small big; do
    if [ $f = small ]; then name="$feeds feeds x 20 items ($(mb "$(val bytes "$tmp/small.txt")"))"
    else name="1 feed x $big_items items ($(mb "$(val bytes "$tmp/big.txt")"))"; fi
    printf '| %-34s | %10s | %11s | %9s | %6s |\n' "$name" "$(val raw_mb_s "$tmp/$f.txt")" \
        "$(val tinmoi_mb_s "$tmp/$f.txt")" "$(val ratio "$tmp/$f.txt")" "$(val passes "$tmp/$f.txt")"
done
echo
echo "peak heap (mallinfo2 after each 16 KiB chunk, above the baseline taken with the document"
echo "already in memory):"
for f in mid heap; do
    echo "  $(mb "$(val heap_doc_bytes "$tmp/$f.txt")") feed: raw SAX walk $(mb "$(val heap_raw_bytes "$tmp/$f.txt")"), libtinmoi $(mb "$(val heap_tinmoi_bytes "$tmp/$f.txt")") ($(val heap_entries "$tmp/$f.txt") entries kept)"
done
echo "  process peak RSS (document in memory included): $(( $(val maxrss_kb "$tmp/rss.txt") / 1024 )) MiB"

if $massif; then
    valgrind --tool=massif --massif-out-file="$tmp/massif.out" \
        "$bin/bench_parse" --heap "$tmp/big.xml" >/dev/null 2>&1
    peak=$(grep -E '^mem_heap_B=' "$tmp/massif.out" | cut -d= -f2 | sort -n | tail -1)
    doc=$(val heap_doc_bytes "$tmp/heap.txt")
    echo "  massif: whole-process heap peak $(mb "$peak"), of which the document $(mb "$doc"): $(mb $((peak - doc))) beyond it"
fi
