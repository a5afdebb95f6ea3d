#!/usr/bin/env bash
# Push one blob with curl, in the way both regd and docker-registry 2.8 accept:
# POST /v2/<repo>/blobs/uploads/ opens a session, then
#
#   push.sh BASE_URL REPO DIGEST FILE          PUT ?digest= with the whole FILE (monolithic)
#   push.sh BASE_URL REPO DIGEST CHUNK...      PATCH each CHUNK file in order with its
#                                              Content-Range, then an empty PUT ?digest=
#
# BENCH_TOKEN=jwt sends it as a Bearer token, else BENCH_AUTH=user:password sends Basic
# credentials. Exits non-zero unless the registry answered 201 Created. Used by
# bench/compare.py; handy by hand too.
set -euo pipefail

if (($# < 4)); then
	sed -n '2,11p' "$0" >&2
	exit 2
fi
base=${1%/} repo=$2 digest=$3
shift 3

curl_=(curl -sS --fail-with-body -o /dev/null -H 'Expect:')
if [[ -n ${BENCH_TOKEN:-} ]]; then
	curl_+=(-H "Authorization: Bearer $BENCH_TOKEN")
elif [[ -n ${BENCH_AUTH:-} ]]; then
	curl_+=(-u "$BENCH_AUTH")
fi

# regd answers with a path, docker-registry with an absolute URL (with a ?_state= query).
absolute() {
	if [[ $1 == /* ]]; then printf '%s%s' "$base" "$1"; else printf '%s' "$1"; fi
}
with_digest() {
	if [[ $1 == *\?* ]]; then printf '%s&digest=%s' "$1" "$digest"; else printf '%s?digest=%s' "$1" "$digest"; fi
}

location=$(absolute "$("${curl_[@]}" -X POST -w '%header{location}' "$base/v2/$repo/blobs/uploads/")")

if (($# == 1)); then
	code=$("${curl_[@]}" -X PUT -w '%{http_code}' -H 'Content-Type: application/octet-stream' \
		-T "$1" "$(with_digest "$location")")
else
	offset=0
	for chunk in "$@"; do
		size=$(stat -c %s "$chunk")
		location=$(absolute "$("${curl_[@]}" -X PATCH -w '%header{location}' \
			-H 'Content-Type: application/octet-stream' \
			-H "Content-Range: $offset-$((offset + size - 1))" \
			-T "$chunk" "$location")")
		offset=$((offset + size))
	done
	code=$("${curl_[@]}" -X PUT -w '%{http_code}' -H 'Content-Length: 0' "$(with_digest "$location")")
fi

if [[ $code != 201 ]]; then
	echo "push.sh: $repo $digest: HTTP $code, expected 201" >&2
	exit 1
fi
