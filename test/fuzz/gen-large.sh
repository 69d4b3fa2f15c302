#!/bin/sh
# Writes the seeds at and just over FM_VECTOR_MAX_DIM (16000) into DIR.
# They are 32-64 kB each, so they are generated rather than committed.
#
#   gen-large.sh DIR
set -eu
dir=$1
mkdir -p "$dir"

# text_dims N: '[1,0.5,-2,1,0.5,...]' with N elements
text_dims() {
	printf '['
	yes '1,0.5,-2' | head -n $(($1 / 3 + 1)) | paste -sd, - | cut -d, -f1-"$1" | tr -d '\n'
	printf ']'
}

# be32 N: N as a big-endian int32, the dimension header
be32() {
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
		$(($1 >> 8 & 255)) $(($1 & 255)))"
}

# bin_dims N DATA_BYTES: header N, then DATA_BYTES of the floats 1.0 and -0
# alternating (doubled up from 8 bytes; -0 must come back as +0).
bin_dims() {
	printf '\077\200\000\000\200\000\000\000' >"$dir/.unit"
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13; do
		cat "$dir/.unit" "$dir/.unit" >"$dir/.unit2"
		mv "$dir/.unit2" "$dir/.unit"
	done
	be32 "$1"
	head -c "$2" "$dir/.unit"
	rm -f "$dir/.unit"
}

text_dims 16000 >"$dir/text-16000-dims-valid"
text_dims 16001 >"$dir/text-16001-dims-too-many"
bin_dims 16000 64000 >"$dir/bin-16000-dims-valid"
bin_dims 16001 64004 >"$dir/bin-16001-dims-too-many"
