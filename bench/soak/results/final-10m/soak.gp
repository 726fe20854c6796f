# gnuplot script of the soak (bench/soak); regenerate with: gnuplot soak.gp
set terminal pngcairo size 1000,900 noenhanced font "sans,9"
set output "soak.png"
set datafile separator "\t"
set key autotitle columnhead outside right
set grid
set xlabel "time since the clients started (s)"
set multiplot layout 3,1 title "mastfs soak: 10m0s, 8 clients, 1.0% faults (MAST and S3) -- PASS"
set ylabel "MiB"
set yrange [0:*]
plot "samples.tsv" using 1:2 with lines lw 2 title "RSS", "" using 1:6 with lines title "Go heap in use", "" using 1:7 with lines title "block cache"
set ylabel "count"
plot "samples.tsv" using 1:3 with lines lw 2 title "goroutines", "" using 1:4 with lines title "threads", "" using 1:5 with lines title "open fds"
set ylabel "ops/s"
plot "samples.tsv" using 1:19 with lines title "list", "" using 1:20 with lines title "stat", "" using 1:21 with lines title "seq (whole file)", "" using 1:22 with lines title "rand (pread x8-32)"
unset multiplot
