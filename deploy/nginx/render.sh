#!/bin/sh
# Render the OpsConductor gateway configuration for nginx (docs/deploy.md, "The gateway").
#
#   OC_SERVER_NAME=ops.example.com OC_TLS_CERT=/etc/ssl/ops.crt OC_TLS_KEY=/etc/ssl/ops.key \
#   OC_WEB_SERVERS="10.0.0.11:8000 10.0.0.12:8000" OC_STREAM_SERVERS="10.0.0.11:8001" \
#   deploy/nginx/render.sh /etc/nginx/conf.d
#
# writes opsconductor.conf (include it in nginx's http {} block; conf.d/ is included already),
# opsconductor-upstreams.list, opsconductor-streams.list and opsconductor-cors.map into the
# directory given. OC_STREAM_SERVERS are the streams processes (entrypoint.sh streams), which
# serve the live streams of runs; without them the web processes do, a thread per open stream.
# OC_LEGACY_BACKEND (http://host:port, the bridge's LEGACY_BACKEND_URL as the gateway reaches it)
# lets the gateway carry WebSockets in the legacy URL space to the legacy backend (the bridge,
# a WSGI application, cannot); without it those regions of the template (BEGIN/END
# legacy-websocket) are left out and the bridge answers such a request 501. Only the
# ${OC_*} placeholders are replaced; nginx's own $variables are left alone. The two lists are
# pieces of blocks (server lines of an upstream {}, entries of a map {}) that opsconductor.conf
# includes; their names must not end in .conf, or the stock nginx.conf's
# "include conf.d/*.conf;" would read them at http level and nginx would refuse to start.
set -eu

out=${1:?usage: render.sh OUTPUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

: "${OC_SERVER_NAME:?set OC_SERVER_NAME (the public host name)}"
: "${OC_TLS_CERT:?set OC_TLS_CERT (certificate chain, PEM)}"
: "${OC_TLS_KEY:?set OC_TLS_KEY (private key, PEM)}"
: "${OC_WEB_SERVERS:?set OC_WEB_SERVERS (web processes, host:port separated by spaces or commas)}"
OC_HTTP_PORT=${OC_HTTP_PORT:-80}
OC_HTTPS_PORT=${OC_HTTPS_PORT:-443}
if [ "$OC_HTTPS_PORT" = 443 ]; then
  OC_PUBLIC_ORIGIN=${OC_PUBLIC_ORIGIN:-https://$OC_SERVER_NAME}
else
  OC_PUBLIC_ORIGIN=${OC_PUBLIC_ORIGIN:-https://$OC_SERVER_NAME:$OC_HTTPS_PORT}
fi
OC_STATIC_ROOT=${OC_STATIC_ROOT:-/srv/opsconductor/static}
OC_ACME_ROOT=${OC_ACME_ROOT:-/var/www/acme}
OC_ACCESS_LOG=${OC_ACCESS_LOG:-/var/log/nginx/opsconductor.access.log}
OC_CLIENT_MAX_BODY=${OC_CLIENT_MAX_BODY:-10m}
OC_LEGACY_MAX_BODY=${OC_LEGACY_MAX_BODY:-1g}
# A web process that fails this often within the window is left out for the window.
OC_UPSTREAM_MAX_FAILS=${OC_UPSTREAM_MAX_FAILS:-2}
OC_UPSTREAM_FAIL_TIMEOUT=${OC_UPSTREAM_FAIL_TIMEOUT:-10s}
OC_CORS_ORIGINS=${OC_CORS_ORIGINS:-}
OC_LEGACY_BACKEND=${OC_LEGACY_BACKEND:-}
OC_LEGACY_BACKEND=${OC_LEGACY_BACKEND%/}
# the authorities an https legacy backend's certificate is verified against (PEM)
OC_LEGACY_CA=${OC_LEGACY_CA:-/etc/ssl/certs/ca-certificates.crt}
OC_CONF_DIR=$out
export OC_SERVER_NAME OC_TLS_CERT OC_TLS_KEY OC_HTTP_PORT OC_HTTPS_PORT OC_PUBLIC_ORIGIN \
  OC_STATIC_ROOT OC_ACME_ROOT OC_ACCESS_LOG OC_CLIENT_MAX_BODY OC_LEGACY_MAX_BODY OC_CONF_DIR \
  OC_LEGACY_BACKEND OC_LEGACY_CA

# the legacy backend's WebSockets: an origin (nginx's proxy_pass takes no path in a named
# location), or nothing
websocket_regions=keep
if [ -n "$OC_LEGACY_BACKEND" ]; then
  case "$OC_LEGACY_BACKEND" in
    http://?*|https://?*) ;;
    *) echo "OC_LEGACY_BACKEND: '$OC_LEGACY_BACKEND' is not an http(s) URL (http://host:port)" >&2; exit 2 ;;
  esac
  case "$OC_LEGACY_BACKEND" in
    *[!A-Za-z0-9.:/_-]*|*/*/*/*) echo "OC_LEGACY_BACKEND: '$OC_LEGACY_BACKEND' is not an origin (http://host:port, no path)" >&2; exit 2 ;;
  esac
  case "$OC_LEGACY_BACKEND" in
    https://*) [ -r "$OC_LEGACY_CA" ] || { echo "OC_LEGACY_CA: '$OC_LEGACY_CA' is not a readable file of certificate authorities (PEM): the legacy backend's certificate is verified against it" >&2; exit 2; } ;;
  esac
else
  websocket_regions=drop
  echo "OC_LEGACY_BACKEND is not set: WebSockets in the legacy URL space are not carried (the bridge answers them 501)" >&2
fi

# server lines of an upstream {} block, one per host:port of $1, into the file $2
upstream_list() {
  : > "$2"
  for server in $(printf '%s' "$1" | tr ',' ' '); do
    printf 'server %s max_fails=%s fail_timeout=%s;\n' \
      "$server" "$OC_UPSTREAM_MAX_FAILS" "$OC_UPSTREAM_FAIL_TIMEOUT" >> "$2"
  done
}
servers=$(printf '%s' "$OC_WEB_SERVERS" | tr ',' ' ')
upstream_list "$OC_WEB_SERVERS" "$out/opsconductor-upstreams.list.tmp"
OC_STREAM_SERVERS=${OC_STREAM_SERVERS:-}
if [ -z "$OC_STREAM_SERVERS" ]; then
  echo "OC_STREAM_SERVERS is not set: the web processes serve live streams, a thread each" >&2
fi
upstream_list "${OC_STREAM_SERVERS:-$OC_WEB_SERVERS}" "$out/opsconductor-streams.list.tmp"

: > "$out/opsconductor-cors.map.tmp"
for origin in $(printf '%s' "$OC_CORS_ORIGINS" | tr ',' ' '); do
  case "$origin" in
    http://*|https://*) ;;
    *) echo "OC_CORS_ORIGINS: '$origin' is not an origin (scheme://host[:port])" >&2; exit 2 ;;
  esac
  case "$origin" in
    *[!A-Za-z0-9.:/_-]*|*/*/*/*) echo "OC_CORS_ORIGINS: '$origin' is not an origin (scheme://host[:port], no path)" >&2; exit 2 ;;
  esac
  printf '"%s" $http_origin;\n' "$origin" >> "$out/opsconductor-cors.map.tmp"
done

# the template, without its legacy-websocket regions when there is no legacy backend to carry
# WebSockets to
template() {
  if [ "$websocket_regions" = drop ]; then
    sed '/# BEGIN legacy-websocket/,/# END legacy-websocket/d' "$here/opsconductor.conf.template"
  else
    cat "$here/opsconductor.conf.template"
  fi
}
# shellcheck disable=SC2016  # the list of placeholders envsubst may replace, literally
template | envsubst '${OC_SERVER_NAME} ${OC_TLS_CERT} ${OC_TLS_KEY} ${OC_HTTP_PORT} ${OC_HTTPS_PORT}
${OC_PUBLIC_ORIGIN} ${OC_STATIC_ROOT} ${OC_ACME_ROOT} ${OC_ACCESS_LOG} ${OC_CLIENT_MAX_BODY} ${OC_LEGACY_MAX_BODY}
${OC_CONF_DIR} ${OC_LEGACY_BACKEND} ${OC_LEGACY_CA}' > "$out/opsconductor.conf.tmp"

for name in opsconductor-upstreams.list opsconductor-streams.list opsconductor-cors.map opsconductor.conf; do
  mv "$out/$name.tmp" "$out/$name"
done
# the upstream list's name before it stopped ending in .conf: left in conf.d/, nginx would
# still read it at http level and refuse to start
rm -f "$out/opsconductor-upstreams.conf"
streams=$(printf '%s' "$OC_STREAM_SERVERS" | tr ',' ' ')
if [ -n "$OC_LEGACY_BACKEND" ]; then legacy="legacy WebSockets to $OC_LEGACY_BACKEND"; else legacy="no legacy WebSockets"; fi
echo "rendered $out/opsconductor.conf for https://$OC_SERVER_NAME ($(echo $servers | wc -w) web processes, $(echo $streams | wc -w) streams processes, $legacy)"
