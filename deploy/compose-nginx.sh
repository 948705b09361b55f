#!/bin/sh
# compose.yaml's nginx: the shipped deploy/nginx.conf with the compose file's upstream servers
# (NGINX_UPSTREAMS: host:port, space separated) and, where the machine needs it, other listen
# ports (NGINX_HTTP_PORT, NGINX_HTTPS_PORT, NGINX_REDIRECT_PORT). TLS: mount the certificate
# chain and key at /etc/ssl/myproject/{fullchain,privkey}.pem; without them a self-signed
# certificate is made (development only: browsers warn).
set -eu
prefix=/tmp/nginx
mkdir -p "$prefix/logs" "$prefix/tls"
cert=/etc/ssl/myproject/fullchain.pem
key=/etc/ssl/myproject/privkey.pem
if [ ! -r "$cert" ] || [ ! -r "$key" ]; then
  cert=$prefix/tls/fullchain.pem
  key=$prefix/tls/privkey.pem
  echo "compose-nginx: no certificate in /etc/ssl/myproject: a self-signed one for development"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=${NGINX_SERVER_NAME:-localhost}" \
    -keyout "$key" -out "$cert" 2>/dev/null
fi
servers=""
for upstream in ${NGINX_UPSTREAMS:-web1:8000 web2:8000}; do
  servers="$servers server $upstream max_fails=3 fail_timeout=5s;"
done
sed -e "s|server 127.0.0.1:8000 max_fails=3 fail_timeout=5s;|$servers|" \
    -e "s|listen 8080 default_server;|listen ${NGINX_HTTP_PORT:-8080} default_server;|" \
    -e "s|listen 443 ssl default_server;|listen ${NGINX_HTTPS_PORT:-443} ssl default_server;|" \
    -e "s|listen 80;|listen ${NGINX_REDIRECT_PORT:-80};|" \
    -e "s|/etc/ssl/myproject/fullchain.pem|$cert|" \
    -e "s|/etc/ssl/myproject/privkey.pem|$key|" \
    /etc/myproject/nginx.conf > "$prefix/nginx.conf"
exec nginx -p "$prefix/" -c "$prefix/nginx.conf"
