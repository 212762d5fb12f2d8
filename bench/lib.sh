# bench/lib.sh: helpers shared by the bench/*/run.sh scripts (sourced, not run).

# free_port -> an unused TCP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# serve_fixtures PORT DIR LOG: serve DIR's files on 127.0.0.1:PORT in the background (Python's
# threading server with a high listen backlog and no access log; output to LOG). Call it
# in the script's own shell: `$!` is then the server's pid.
serve_fixtures() {
    python3 - "$1" "$2" >"$3" 2>&1 <<'EOF' &
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 4096
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), functools.partial(H, directory=sys.argv[2])).serve_forever()
EOF
}

# nginx_conf DIR PORT ROOT SERVER_LINES: write DIR/nginx.conf for the reference nginx of a
# benchmark: foreground, one worker per core, no access log, sendfile, long keep-alive,
# listening on 127.0.0.1:PORT and serving ROOT. SERVER_LINES go inside the server block
# (the response headers the compared lineup route sends, so both do the same header work).
# Start it with: nginx -p DIR -c DIR/nginx.conf -e DIR/logs/error.log
nginx_conf() {
    local dir=$1 port=$2 root=$3 server_lines=$4 user=""
    if ((EUID == 0)); then user="user root;"; fi
    mkdir -p "$dir/tmp" "$dir/logs"
    cat >"$dir/nginx.conf" <<NGINX_CONF
$user
worker_processes auto;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; text/plain txt; }
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    keepalive_timeout 65;
    keepalive_requests 100000000;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $root;
$server_lines
    }
}
NGINX_CONF
}
