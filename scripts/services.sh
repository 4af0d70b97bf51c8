# Sourced by scripts/test: make sure PostgreSQL, Redis and Chromium are installed and running,
# and Dovecot installed (the tests start their own instances).
# Installs Debian packages when missing (needs root, as on CI), starts what is down.

_apt_updated=""
apt_install() {
  if [ -z "$_apt_updated" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "Installing PostgreSQL..."
    apt_install postgresql
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "Starting PostgreSQL..."
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  # Trust auth for local test connections as the postgres role.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    export PGPASSWORD=postgres
  fi
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Installing Redis..."
    apt_install redis-server
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "Starting Redis..."
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    echo "Installing Chromium..."
    apt_install chromium
  fi
}

ensure_dovecot() {
  # Only the package: the tests start a Dovecot of their own per test session, on a free loopback
  # port, from a config file and passwd-file in a temporary folder (tests/inbound/support.py).
  # The package's own system service is kept from starting during the install.
  if ! command -v dovecot >/dev/null 2>&1 || ! command -v doveconf >/dev/null 2>&1; then
    echo "Installing Dovecot (dovecot-imapd)..."
    local added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      added_policy=1
    fi
    apt_install dovecot-imapd
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
  fi
  return 0
}
