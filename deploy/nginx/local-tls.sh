#!/usr/bin/env bash
# Runs deploy/nginx/local-tls.conf in the foreground: https://localhost:8443 -> the broker on
# http://127.0.0.1:5080 (start it with ./broker.sh demo). Creates a self-signed certificate in
# deploy/nginx/certs/ on first use; state goes to .demo/nginx/. Ctrl-C stops it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
prefix="${NGINX_PREFIX:-$root/.demo/nginx}"

command -v nginx >/dev/null || { echo "local-tls.sh: nginx is not installed (Debian: apt-get install nginx)" >&2; exit 1; }
if [[ ! -f $here/certs/local.crt ]]; then
  echo "local-tls.sh: creating a self-signed certificate for localhost in $here/certs/" >&2
  ( umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
      -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
      -keyout "$here/certs/local.key" -out "$here/certs/local.crt" 2>/dev/null )
fi
mkdir -p "$prefix/logs"
nginx -p "$prefix" -e stderr -c "$here/local-tls.conf" -t
echo "local-tls.sh: https://localhost:8443 -> http://127.0.0.1:5080 (logs in $prefix/logs); Ctrl-C stops" >&2
exec nginx -p "$prefix" -e stderr -c "$here/local-tls.conf" -g 'daemon off;'
