# ratio.gp: one bar per row for a time ratio (hakmem / system), drawn from 1 on a log scale,
# with min-max error bars. Used for the micro benchmarks.
#   gnuplot -e "plotdir='benchmarks/plot'; data='f.dat'; out='f.png'; ttl='...'; ylab='...'"
#           benchmarks/plot/ratio.gp
# Data: lines "label ratio lo hi" (NA for a row without a ratio, e.g. a failed benchmark).
if (!exists("plotdir")) plotdir = "."
load plotdir . "/common.gp"
set title ttl
set ylabel ylab
set logscale y 2
set format y "%g"
set style fill solid 0.85 border -1
set xtics rotate by -40 left
set xrange [-0.6:*]
set key outside below center horizontal
set rmargin 6
plot data using 0:(1):($0 - 0.35):($0 + 0.35):(1):2 with boxxyerror lc rgb colours[1] \
         title "hakmem time / system time (median of runs; below 1: hakmem faster)", \
     '' using 0:2:3:4:xtic(1) with yerrorbars lc rgb "black" pt 7 ps 0.5 lw 1.2 \
         title "dot: median; whisker: min-max (fastest and slowest run pairs)", \
     1 with lines lc rgb "#555555" dt 2 title "1 = same speed"
