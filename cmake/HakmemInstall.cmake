# Installation: libraries, public headers, CMake package and pkg-config file.
# (filled in by the packaging step)
