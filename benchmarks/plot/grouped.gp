# grouped.gp: a clustered bar chart with min-max error bars, one cluster per data row and
# one bar per series (allocator). Used for larson (ops/s, peak RSS) and the micro benchmarks.
#   gnuplot -e "plotdir='benchmarks/plot'; data='f.dat'; out='f.png'; ttl='...'; ylab='...';
#               n=5; cols='0 3 4 5 6'; logy=0; rot=0" benchmarks/plot/grouped.gp
# cols: the colour index (common.gp) of each series. Data: a header line
# "label s1 s1_lo s1_hi s2 s2_lo s2_hi ..." (series names come from it), then one line per
# cluster: its label, then median, min and max of each series (NA when there is none).
if (!exists("plotdir")) plotdir = "."
load plotdir . "/common.gp"
if (!exists("logy")) logy = 0
if (!exists("rot")) rot = 0
if (!exists("xlab")) xlab = ""
if (!exists("cols")) cols = "0 1 2 3 4 5 6 7"
if (!exists("keyttl")) keyttl = "allocator"
set title ttl
set ylabel ylab
set xlabel xlab
set key outside right top vertical title keyttl . "\n(whiskers: min-max)" noautotitle
set style data histogram
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set bars front
if (logy) { set logscale y 10; set format y "%g" } else { set yrange [0:*] }
if (rot) { set xtics rotate by -40 left } else { set xtics norotate }
plot for [i = 0:n - 1] data using (column(2 + 3 * i)):(column(3 + 3 * i)):(column(4 + 3 * i)):xtic(1) \
     title columnhead(2 + 3 * i) lc rgb colours[int(word(cols, i + 1)) % 8 + 1]
