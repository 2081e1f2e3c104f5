# common.gp: the PNG terminal and the look every chart shares; loaded by the other scripts.
# Variables (gnuplot -e): out (the PNG), width and height (pixels).
if (!exists("width")) width = 1100
if (!exists("height")) height = 600
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size width, height font "DejaVu Sans,11" noenhanced
} else {
    set terminal png size width, height font "DejaVu Sans,11" noenhanced
}
set output out
set border 3 lw 1
set tics nomirror
set grid ytics lt 1 lc rgb "#dddddd"
set datafile separator whitespace
set datafile missing "NA"
set pointintervalbox 0
# One colour per allocator, the same in every chart. Index: 0 hakmem, 1 hakmem-malloc,
# 2 hakmem-mmap, 3 system, 4 mimalloc, 5 jemalloc, 6 tcmalloc, 7 anything else.
array colours[8] = ["#c0392b", "#e67e22", "#d4ac0d", "#5d6d7e", "#2980b9", "#27ae60", "#8e44ad", "#7f8c8d"]
array rgbs[8] = [0xc0392b, 0xe67e22, 0xd4ac0d, 0x5d6d7e, 0x2980b9, 0x27ae60, 0x8e44ad, 0x7f8c8d]
