#!/bin/sh
# Writes a page from the instance's environment, then serves it with busybox httpd on $PORT.
set -e
mkdir -p /tmp/www
cat > /tmp/www/index.html <<PAGE
<h1>hello from a Procfile app</h1>
<p>instance ${INSTANCE_INDEX:-?} listening on port $PORT, app root $APP_ROOT</p>
PAGE
exec httpd -f -p "$PORT" -h /tmp/www
