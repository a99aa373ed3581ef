# SPDX-License-Identifier: Apache-2.0
# Requests/s against sessions, both backends (perf/plots.sh writes the
# data: columns sessions, dpdk requests/s, socket requests/s).
#   gnuplot -e "data='F'; out='F.svg'; term='svg'; sub='...'" perf/plot-requests.gp
if (!exists("term")) term = 'svg'
if (term eq 'svg') set terminal svg size 800,500 dynamic font 'sans,12'
if (term eq 'png') set terminal pngcairo size 800,500 font 'sans,10'
set output out
set title "causewayd, one worker lcore: API requests/s against sessions\n{/*0.8 ".sub."}"
set xlabel 'sessions (edge agents)'
set ylabel 'requests/s (answered, closed loop)'
set logscale x
set format y '%.0s%c'
set yrange [0:*]
set key top right
set grid
plot data using 1:2 with linespoints lw 2 pt 7 title 'DPDK backend (vhost-user)', \
     data using 1:3 with linespoints lw 2 pt 5 title 'socket backend (veth)'
