# shellcheck shell=bash
# Fetching a Debian source package for the scripts that build programs from Debian's sources
# (sourced, not run): scripts/real-apiserver (kubernetes) and scripts/textparse-peer (prometheus).

# deb_source PACKAGE DIR: downloads PACKAGE's source from the machine's own Debian mirror and
# suite and unpacks it (with Debian's patches) under DIR/src; sets $deb_tree to the unpacked tree.
# The source comes through a private deb-src list in DIR/apt; the system's apt configuration is
# left untouched and no root is needed. Unpacking needs dpkg-source (dpkg-dev).
deb_source() {
  local package=$1 dir=$2 mirror="" suite=""
  mkdir -p "$dir/apt/lists/partial" "$dir/apt/archives/partial" "$dir/src"
  # The machine's own mirror and suite (deb822 or one-line sources), as a deb-src line of our own.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    suite=$(awk '/^Suites:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    read -r mirror suite < <(awk '$1 == "deb" && $2 !~ /security/ {print $2, $3; exit}' /etc/apt/sources.list)
  fi
  : "${mirror:=http://deb.debian.org/debian}" "${suite:=bookworm}"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$dir/apt/sources.list"
  local apt_opts=(
    -o "Dir::Etc::SourceList=$dir/apt/sources.list"
    -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$dir/apt/lists"
    -o "Dir::Cache::Archives=$dir/apt/archives"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
  )
  apt-get "${apt_opts[@]}" update -qq >&2
  (cd "$dir/src" && apt-get "${apt_opts[@]}" source -qq "$package" >&2)
  deb_tree=$(find "$dir/src" -maxdepth 1 -mindepth 1 -type d -name "$package-*" | head -n 1)
  [ -n "$deb_tree" ] || { echo "error: apt-get source $package gave no source tree" >&2; return 2; }
}
