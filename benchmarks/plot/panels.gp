# panels.gp: side-by-side panels, one per data block (e.g. one per VM mode), each with a bar
# per allocator and min-max error bars. Used for the VM scenario (time per cycle, faults).
#   gnuplot -e "plotdir='benchmarks/plot'; data='f.dat'; out='f.png'; ttl='...'; ylab='...';
#               npanels=2; t1='first panel'; t2='second panel'" benchmarks/plot/panels.gp
# Data: blocks separated by two blank lines, lines "allocator median min max colour-index".
if (!exists("plotdir")) plotdir = "."
load plotdir . "/common.gp"
if (!exists("logy")) logy = 0
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by -35 left
set key off
if (logy) { set logscale y 10; set format y "%g" } else { set yrange [0:*] }
set multiplot layout 1, npanels title ttl
do for [p = 1:npanels] {
    set title value(sprintf("t%d", p))
    set ylabel ylab
    set xrange [-0.6:*]
    plot data index (p - 1) using 0:2:(rgbs[int($5) % 8 + 1]):xtic(1) with boxes lc rgb variable, \
         '' index (p - 1) using 0:2:3:4 with yerrorbars lc rgb "black" pt 7 ps 0.5 lw 1.2, \
         '' index (p - 1) using 0:4:($2 >= 1000 ? sprintf("%.0f", $2) : sprintf("%.3g", $2)) with labels offset 0, 0.8 font ",9"
}
unset multiplot
