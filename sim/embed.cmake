# embed.cmake — turns a text file into a C array (sim_profiles_csv) at build time, so the
# binary carries its profile data. Usage: cmake -DIN=file -DOUT=file.c -P embed.cmake
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from sim/profiles/perf_model.csv by sim/embed.cmake; do not edit. */\n#include <stddef.h>\nconst char sim_profiles_csv[] = {\n${body}0x00};\nconst size_t sim_profiles_csv_len = ${len};\n")
