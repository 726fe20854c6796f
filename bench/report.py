#!/usr/bin/python3
"""Summarise bench/run.sh's raw.tsv: print the table and the target ratios,
write results.json and results.csv, and draw benchmarks.png with gnuplot.

Usage: /usr/bin/python3 bench/report.py RAW.tsv OUTDIR

raw.tsv has one measurement per line: tool, metric, value. A metric
measured several times (cold reads, time to first byte) is summarised by its
median; results.json keeps every value too.
"""
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

MIB = 1 << 20
TOOLS = ["curl", "mastfs", "rclone-off", "rclone-full", "s3fs"]
LABEL = {"curl": "curl (direct)", "mastfs": "mastfs", "rclone-off": "rclone vfs off",
         "rclone-full": "rclone vfs full", "s3fs": "s3fs"}
SWEEP_BS = ["128KiB", "256KiB", "1MiB", "4MiB"]
SWEEP_RA = ["1024", "4096"]


def load(path):
    meta, vals = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            tool, metric, value = parts
            if tool == "meta":
                meta[metric] = value
                continue
            try:
                v = float(value)
            except ValueError:
                continue
            vals.setdefault(tool, {}).setdefault(metric, []).append(v)
    return meta, vals


def summary(vals):
    return {t: {m: statistics.median(v) for m, v in ms.items()} for t, ms in vals.items()}


def get(s, tool, metric):
    return s.get(tool, {}).get(metric)


def fmt(v, digits=0):
    if v is None:
        return "-"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def targets(s):
    """(name, measured, target, ok) for every target of issue 4."""
    m = lambda metric: get(s, "mastfs", metric)  # noqa: E731
    rows = []

    def add(name, value, op, bound, unit=""):
        ok = None if value is None else (value >= bound if op == ">=" else value <= bound if op == "<=" else value < bound)
        rows.append({"target": name, "measured": value, "op": op, "bound": bound, "unit": unit, "ok": ok})

    add("cold seq vs rclone (vfs off)", ratio(m("cold_mbps"), get(s, "rclone-off", "cold_mbps")), ">=", 1.5, "x")
    add("cold seq vs s3fs", ratio(m("cold_mbps"), get(s, "s3fs", "cold_mbps")), ">=", 1.0, "x")
    add("cold seq vs curl direct GET", ratio(m("cold_mbps"), get(s, "curl", "cold_mbps")), ">=", 0.5, "x")
    add("warm re-read vs cold", ratio(m("warm_mbps"), m("cold_mbps")), ">=", 5.0, "x")
    add("random 64 KiB QD1 p50 vs direct 64 KiB GET p50", ratio(m("rand_qd1_p50_us"), get(s, "curl", "rand_qd1_p50_us")), "<=", 2.0, "x")
    add("bytes fetched per byte, sequential", m("cold_fetched_per_byte"), "<=", 1.1)
    add("bytes fetched per byte, random 64 KiB", m("rand_qd1_fetched_per_byte"), "<=", 16.0)
    fh = m("fitsheader_fetched_bytes")
    add("fitsheader (all HDUs) bytes fetched", None if fh is None else fh / MIB, "<=", 3.0, "MiB")
    add("peak RSS, 16 readers, --cache-size 256MiB", m("par16_peak_rss_mib"), "<=", 256 + 150, "MiB")
    h = m("head2880_fetched_bytes")
    add("2880 bytes of a 256 MiB product (design limit)", None if h is None else h / MIB, "<", 1.0, "MiB")
    return rows


TABLE = [
    ("cold sequential, MB/s", "cold_mbps", 0),
    ("warm re-read (new open), MB/s", "warm_mbps", 0),
    ("open + first byte, ms", "ttfb_ms", 2),
    ("random 64 KiB QD1, IOPS", "rand_qd1_iops", 0),
    ("random 64 KiB QD1 p50, us", "rand_qd1_p50_us", 0),
    ("random 64 KiB QD1 p99, us", "rand_qd1_p99_us", 0),
    ("random 64 KiB QD8, IOPS", "rand_qd8_iops", 0),
    ("random 64 KiB QD8 p50, us", "rand_qd8_p50_us", 0),
    ("random 64 KiB QD8 p99, us", "rand_qd8_p99_us", 0),
    ("daemon CPU s per GiB, cold sequential", "cold_cpu_s_per_gib", 2),
    ("4 parallel readers, MB/s", "par4_mbps", 0),
    ("16 parallel readers, MB/s", "par16_mbps", 0),
    ("peak RSS, 16 readers, MiB", "par16_peak_rss_mib", 0),
    ("server bytes / byte, sequential", "cold_wire_per_byte", 3),
    ("server bytes / byte, random QD1", "rand_qd1_wire_per_byte", 2),
    ("server bytes / byte, random QD8", "rand_qd8_wire_per_byte", 2),
    ("server bytes / byte, 4 readers", "par4_wire_per_byte", 3),
    ("mastfs fetched / byte, sequential", "cold_fetched_per_byte", 3),
    ("mastfs fetched / byte, random QD1", "rand_qd1_fetched_per_byte", 2),
    ("fitsheader, ms", "fitsheader_ms", 0),
    ("fitsheader, server KiB", "fitsheader_wire_bytes", -1),
    ("head -c 2880 of 256 MiB, server KiB", "head2880_wire_bytes", -1),
]


def table_rows(s):
    rows = []
    for label, metric, digits in TABLE:
        cells = []
        for t in TOOLS:
            v = get(s, t, metric)
            if digits == -1:
                cells.append(fmt(None if v is None else v / 1024, 0))
            else:
                cells.append(fmt(v, digits))
        rows.append((label, cells))
    return rows


def markdown(s):
    out = ["| | " + " | ".join(LABEL[t] for t in TOOLS) + " |", "|---|" + "---:|" * len(TOOLS)]
    for label, cells in table_rows(s):
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def sweep_rows(s):
    rows = []
    for bs in SWEEP_BS:
        t = "mastfs-bs" + bs
        if t in s:
            rows.append((f"--block-size {bs}", get(s, t, "cold_mbps"), get(s, t, "cold_fetched_per_byte"),
                         get(s, t, "rand_qd1_p50_us"), get(s, t, "rand_qd1_iops"),
                         get(s, t, "rand_qd1_fetched_per_byte"), get(s, t, "head2880_fetched_bytes"),
                         get(s, "mastfs", "fitsheader_fetched_bytes") if bs == "256KiB" else None))
    for ra in SWEEP_RA:
        t = f"mastfs-ra{ra}k"
        if t in s:
            rows.append((f"read_ahead_kb {ra} (default 128), 256KiB blocks", get(s, t, "cold_mbps"), get(s, t, "cold_fetched_per_byte"),
                         None, None, None, None, get(s, t, "fitsheader_fetched_bytes")))
    return rows


def sweep_markdown(s):
    out = ["| mastfs | cold MB/s | fetched/byte seq | QD1 p50 us (200 reads) | QD1 IOPS | fetched/byte random | 2880-byte read fetches KiB | fitsheader fetches KiB |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    kib = lambda v: fmt(None if v is None else v / 1024)  # noqa: E731
    for name, cold, fpb, p50, iops, rfpb, head, fh in sweep_rows(s):
        out.append(f"| {name} | {fmt(cold)} | {fmt(fpb, 3)} | {fmt(p50)} | {fmt(iops)} | {fmt(rfpb, 2)} | {kib(head)} | {kib(fh)} |")
    g = get(s, "mastfs-gomemlimit", "par16_peak_rss_mib")
    if g is not None:
        out.append("")
        out.append(f"Peak RSS, 16 readers, --cache-size 256MiB: {fmt(get(s, 'mastfs', 'par16_peak_rss_mib'))} MiB; "
                   f"with GOMEMLIMIT=380MiB: {fmt(g)} MiB ({fmt(get(s, 'mastfs-gomemlimit', 'par16_mbps'))} MB/s vs "
                   f"{fmt(get(s, 'mastfs', 'par16_mbps'))} MB/s).")
    return "\n".join(out)


def chart(s, png):
    tmp = tempfile.mkdtemp(prefix="mastfs-chart.")
    def dat(name, rows):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            for r in rows:
                f.write("\t".join("NaN" if v is None else (f'"{v}"' if isinstance(v, str) else str(v)) for v in r) + "\n")
        return p
    seq = dat("seq.dat", [(LABEL[t], get(s, t, "cold_mbps"), get(s, t, "warm_mbps"), get(s, t, "par4_mbps")) for t in TOOLS])
    rnd = dat("rnd.dat", [(LABEL[t], get(s, t, "rand_qd1_p50_us"), get(s, t, "rand_qd1_p99_us"), get(s, t, "rand_qd8_p50_us")) for t in TOOLS])
    amp = dat("amp.dat", [(LABEL[t], get(s, t, "cold_wire_per_byte"), get(s, t, "rand_qd1_wire_per_byte"), get(s, t, "rand_qd8_wire_per_byte")) for t in TOOLS])
    sweep = [(bs, get(s, "mastfs-bs" + bs, "cold_mbps"), get(s, "mastfs-bs" + bs, "rand_qd1_p50_us")) for bs in SWEEP_BS
             if get(s, "mastfs-bs" + bs, "cold_mbps") is not None]
    sw = dat("sweep.dat", sweep)
    gp = f"""
set terminal pngcairo size 1400,1000 font ",11"
set output "{png}"
set multiplot layout 2,2 title "mastfs vs curl, rclone and s3fs on one versitygw (loopback): 256 MiB object (sequential), 1 GiB object (random 64 KiB), 64 MiB files (parallel)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top right
set xtics rotate by -20
set logscale y
set title "Sequential read, MB/s (log)"
plot "{seq}" using 2:xtic(1) title "cold (dd bs=1M)", "" using 3 title "warm re-read", "" using 4 title "4 parallel readers (aggregate)"
set title "Random 64 KiB reads, latency in us (log; curl = direct range GET)"
set yrange [10:1000000]
plot "{rnd}" using 2:xtic(1) title "QD1 p50", "" using 3 title "QD1 p99", "" using 4 title "QD8 p50"
set title "Bytes sent by the server per byte read (log)"
set yrange [0.5:2000]
plot "{amp}" using 2:xtic(1) title "sequential", "" using 3 title "random QD1", "" using 4 title "random QD8"
""" + ("" if not sweep else f"""unset logscale y
set yrange [0:*]
set title "mastfs --block-size sweep"
set ylabel "cold sequential MB/s"
set y2label "random QD1 p50, us"
set y2tics
set y2range [0:*]
set key top left
plot "{sw}" using 2:xtic(1) title "cold MB/s" axes x1y1, "" using 0:3 with linespoints lw 2 pt 7 title "QD1 p50 (us)" axes x1y2
""") + """unset multiplot
"""
    gpf = os.path.join(tmp, "chart.gp")
    with open(gpf, "w") as f:
        f.write(gp)
    try:
        subprocess.run(["gnuplot", gpf], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report: gnuplot failed:", getattr(e, "stderr", e), file=sys.stderr)
    finally:
        for n in os.listdir(tmp):
            os.remove(os.path.join(tmp, n))
        os.rmdir(tmp)


def main():
    raw, out = sys.argv[1], sys.argv[2]
    meta, vals = load(raw)
    s = summary(vals)
    tg = targets(s)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": meta, "summary": s, "values": vals, "targets": tg}, f, indent=1, sort_keys=True)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tool", "metric", "median", "n", "values"])
        for t in sorted(vals):
            for m in sorted(vals[t]):
                v = vals[t][m]
                w.writerow([t, m, s[t][m], len(v), " ".join(f"{x:g}" for x in v)])
    chart(s, os.path.join(out, "benchmarks.png"))

    print()
    print("machine: " + ", ".join(f"{k}={meta[k]}" for k in ("cpus", "cpu_model", "mem_gib", "kernel", "virt", "loadavg", "mastfs_commit", "cloud") if k in meta))
    print()
    print(markdown(s))
    if sweep_rows(s):
        print()
        print(sweep_markdown(s))
    print()
    print("Targets (issue 4):")
    for r in tg:
        mv = "n/a" if r["measured"] is None else f"{r['measured']:.2f}{r['unit'] and ' ' + r['unit']}"
        st = "n/a" if r["ok"] is None else ("OK" if r["ok"] else "MISSED")
        print(f"  {r['target']:<52} {mv:>12}  (target {r['op']} {r['bound']:g}{r['unit'] and ' ' + r['unit']})  {st}")
    print()
    print(f"results: {out}/results.json, results.csv, benchmarks.png (total {meta.get('total_s', '?')} s)")


if __name__ == "__main__":
    main()
