# SPDX-License-Identifier: BSD-3-Clause
# Copyright The p11tls authors
# bench/plot.gp: the plots of doc/performance.md, drawn by bench/report.py:
#   gnuplot -e "dir='DATA'; out='DOCDIR'" bench/plot.gp
# DATA/threads.dat: per key (gnuplot index 0..2) lines "threads raw gnutls p11tls p11tls-gnutls"
# DATA/lookup.dat:  lines "objects raw first again" (ms per open)
set terminal pngcairo size 1200,420 font ",10" noenhanced
set output out.'/perf-threads.png'
set multiplot layout 1,3 title "Signatures/s, threads sharing one key (SoftHSM)"
set xlabel "threads"
set ylabel "signatures/s"
set xtics (1, 2, 4)
set xrange [0.8:4.2]
set yrange [0:*]
set key bottom right
set grid
titles = "RSA-2048 ECDSA-P-256 Ed25519"
do for [i=0:2] {
    set title word(titles, i+1)
    plot dir.'/threads.dat' index i using 1:2 with linespoints lw 2 title "raw PKCS#11", \
         '' index i using 1:3 with linespoints lw 2 title "GnuTLS built-in", \
         '' index i using 1:4 with linespoints lw 2 title "p11tls", \
         '' index i using 1:5 with linespoints lw 2 dt 2 title "p11tls via gnutls_privkey_t"
}
unset multiplot

set terminal pngcairo size 700,450 font ",10" noenhanced
set output out.'/perf-lookup.png'
set title "Opening one of 20 keys among N other token objects (SoftHSM file store)"
set xlabel "N other objects on the token (besides 20 key pairs)"
set ylabel "ms per open (median)"
set logscale xy
set xrange [*:*]
set yrange [*:*]
set xtics auto
set key top left
plot dir.'/lookup.dat' using 1:2 with linespoints lw 2 title "raw search", \
     '' using 1:3 with linespoints lw 2 title "p11tls first open (index read included)", \
     '' using 1:4 with linespoints lw 2 title "p11tls open again"
