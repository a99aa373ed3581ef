# SPDX-License-Identifier: Apache-2.0
# Request latency CDF before and during a reconnect storm, from
# causeway-loadgen --cdf in storm mode (columns latency_us, idle phase's
# fraction, storm phase's fraction).
#   gnuplot -e "data='F'; out='F.svg'; term='svg'; sub='...'" perf/plot-storm-cdf.gp
if (!exists("term")) term = 'svg'
if (term eq 'svg') set terminal svg size 800,500 dynamic font 'sans,12'
if (term eq 'png') set terminal pngcairo size 800,500 font 'sans,10'
set output out
set title "API request latency, idle vs during a reconnect storm\n{/*0.8 ".sub."}"
set xlabel 'latency (us), open to FIN of the answer'
set ylabel 'fraction of requests at or below'
set logscale x
set yrange [0:1]
set key bottom right
set grid
plot data using 1:2 with steps lw 2 title 'before the storm', \
     data using 1:3 with steps lw 2 title 'during the storm'
