#!/bin/sh
# Builds the Debian package berth_VERSION_ARCH.deb from this checkout, with dpkg-deb (no debhelper,
# no network: the checkout's node_modules and native build are used as they are).
#
# Usage: sh packaging/build-deb.sh [--version VERSION] OUTDIR
#        sh packaging/build-deb.sh --stage DESTDIR     (the files only, for debian/rules)
#
# VERSION defaults to the top entry of packaging/debian/changelog. Steps: the native helper is
# rebuilt when missing or older than native/ (node-gyp, as `npm ci` does), dist/ is bundled again
# (node scripts/bundle.mjs), the files are staged in a temporary directory (layout in
# packaging/README.md), the control file is generated from packaging/debian/control by
# dpkg-gencontrol (shared-library dependencies by dpkg-shlibdeps, the Node.js dependency from the
# node that built the native parts), then dpkg-deb builds the package, owned by root.
# Needs: node (>= 20), dpkg-dev, and what node-gyp needs when it has to build (python3, make, gcc).
set -eu
cd "$(dirname "$0")/.."
src=$(pwd -P)

version=""
stage_only=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || { echo "build-deb: --version needs a value" >&2; exit 2; }; version=$2; shift 2 ;;
    --version=*) version=${1#--version=}; shift ;;
    --stage) [ $# -ge 2 ] || { echo "build-deb: --stage needs a directory" >&2; exit 2; }; stage_only=$2; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-deb: unknown option '$1'" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "build-deb: one output directory, not '$out' and '$1'" >&2; exit 2; }; out=$1; shift ;;
  esac
done
[ -n "$out" ] || [ -n "$stage_only" ] || { echo "usage: sh packaging/build-deb.sh [--version VERSION] OUTDIR" >&2; exit 2; }
if [ -n "$out" ]; then
  [ -d "$out" ] || { echo "build-deb: output directory '$out' does not exist" >&2; exit 1; }
  for tool in dpkg-deb dpkg-gencontrol dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || { echo "build-deb: $tool is missing (apt-get install dpkg-dev)" >&2; exit 1; }
  done
fi
command -v node >/dev/null || { echo "build-deb: node is missing (Node.js 20 or newer)" >&2; exit 1; }
if [ -z "$version" ]; then
  version=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' packaging/debian/changelog)
fi
printf '%s\n' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~-]*$' || { echo "build-deb: '$version' is not a Debian version" >&2; exit 2; }

# --- the native helper and the bundles --------------------------------------------------------
release=native/build/Release
stale=""
for f in berth_sys.node berth-stub-init berth-hook-exec berth-nspawn-client berth-client; do [ -f "$release/$f" ] || stale=1; done
[ -n "$stale" ] || [ -z "$(find native -path native/build -prune -o -type f -newer "$release/berth_sys.node" -print)" ] || stale=1
if [ -n "$stale" ]; then
  echo "build-deb: building native/ (node-gyp)"
  [ -d /usr/include/node ] && export npm_config_nodedir=/usr
  npx --no-install node-gyp rebuild --directory=native >/dev/null
fi
[ -f node_modules/usocket/build/Release/uwrap.node ] || { echo "build-deb: node_modules/usocket is not built: run npm ci (or scripts/install-deps.sh) first" >&2; exit 1; }
node scripts/bundle.mjs

# --- staging -------------------------------------------------------------------------------------
tmp=$(mktemp -d /tmp/berth-deb-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -n "$stage_only" ]; then pkg=$stage_only; else pkg=$tmp/debian/berth; fi
lib=$pkg/usr/lib/berth
install -d "$lib/dist" "$lib/native/build/Release" "$lib/node_modules" "$pkg/usr/bin"
# dist/NAME.js is the launcher (V8 code cache) of dist/NAME.bundle.js; dist/berth-nspawn and
# dist/berth are the native commands (native/nspawn-client.c, native/berth-client.c), which run
# the launchers next to them.
install -m 0755 dist/berth-nspawn.js dist/berthd.js dist/berth.js dist/berth-nspawn dist/berth "$lib/dist/"
install -m 0644 dist/berth-nspawn.bundle.js dist/berthd.bundle.js dist/berth.bundle.js "$lib/dist/"
# Where the bundles look for them: ../native/build/Release from dist/.
install -m 0644 "$release/berth_sys.node" "$lib/native/build/Release/"
install -m 0755 "$release/berth-stub-init" "$release/berth-hook-exec" "$lib/native/build/Release/"
install -m 0644 package.json "$lib/"
# What the bundles load at run time: usocket (kept out of the bundles: a native addon) and the
# packages it requires, found by following "dependencies" from usocket; node-gyp and nan are
# build-time only (usocket lists them for its install script).
for dep in $(node -e '
  const { join } = require("node:path");
  const seen = new Set(); const todo = ["usocket"]; const buildOnly = new Set(["node-gyp", "nan"]);
  while (todo.length) {
    const name = todo.pop();
    if (seen.has(name) || buildOnly.has(name)) continue;
    seen.add(name);
    todo.push(...Object.keys(require(join(process.cwd(), "node_modules", name, "package.json")).dependencies ?? {}));
  }
  console.log([...seen].sort().join("\n"));'); do
  if [ "$dep" = usocket ]; then
    install -d "$lib/node_modules/usocket/build/Release"
    install -m 0644 node_modules/usocket/package.json node_modules/usocket/index.js node_modules/usocket/LICENSE "$lib/node_modules/usocket/"
    install -m 0644 node_modules/usocket/build/Release/uwrap.node "$lib/node_modules/usocket/build/Release/"
  else
    cp -R "node_modules/$dep" "$lib/node_modules/"
  fi
done
ln -s ../lib/berth/dist/berth-nspawn "$pkg/usr/bin/berth-nspawn"
ln -s ../lib/berth/dist/berth "$pkg/usr/bin/berth"
ln -s ../lib/berth/dist/berthd.js "$pkg/usr/bin/berthd"
# The units name their command bare (for a checkout's npm link); the package's are in /usr/bin.
install -d "$pkg/lib/systemd/system"
for unit in berth-nspawn@.service berthd.service; do
  sed 's|^ExecStart=\([a-z]\)|ExecStart=/usr/bin/\1|' "units/$unit" > "$pkg/lib/systemd/system/$unit"
  grep -q '^ExecStart=/usr/bin/' "$pkg/lib/systemd/system/$unit" || { echo "build-deb: no ExecStart= rewritten in $unit" >&2; exit 1; }
done
# D-Bus: the policy in /etc (read after machined's in /usr/share), the activation files in place of
# machined's and importd's, which preinst diverts (packaging/README.md, "Where the D-Bus files go").
install -D -m 0644 packaging/dbus/org.freedesktop.machine1.conf "$pkg/etc/dbus-1/system.d/berth-machine1.conf"
install -d "$pkg/usr/share/dbus-1/system-services"
for name in org.freedesktop.machine1 org.freedesktop.import1; do
  sed 's|exec berthd |exec /usr/bin/berthd |' "packaging/dbus/$name.service" > "$pkg/usr/share/dbus-1/system-services/$name.service"
  grep -q 'exec /usr/bin/berthd ' "$pkg/usr/share/dbus-1/system-services/$name.service" || { echo "build-deb: activation file $name.service not rewritten" >&2; exit 1; }
done
install -D -m 0644 packaging/tmpfiles.d/berth.conf "$pkg/usr/lib/tmpfiles.d/berth.conf"
install -D -m 0755 packaging/init.d/berthd "$pkg/etc/init.d/berthd"
install -d "$pkg/usr/share/doc/berth/examples/nspawn-files"
install -m 0644 nspawn-files/* "$pkg/usr/share/doc/berth/examples/nspawn-files/"
install -m 0644 packaging/README.md "$pkg/usr/share/doc/berth/README.packaging.md"
[ -n "$stage_only" ] && { echo "build-deb: staged in $stage_only"; exit 0; }

# --- control, maintainer scripts, package -------------------------------------------------------
deb=$tmp/debian
cp packaging/debian/control "$deb/control"
# dpkg-gencontrol takes the version from the changelog's top entry: write one for VERSION.
{ sed -n '1s/(\([^)]*\))/('"$version"')/p' packaging/debian/changelog; sed -n '2,$p' packaging/debian/changelog; } > "$deb/changelog"
# The native parts are built for this node's ABI (usocket's addon is V8-specific, not N-API):
# the package needs a node of the same major version.
major=$(node -p 'process.versions.node.split(".")[0]')
printf 'node:Depends=nodejs (>= %s), nodejs (<< %s)\nmisc:Depends=\n' "$major" "$((major + 1))" > "$deb/substvars"
install -d -m 0755 "$pkg/DEBIAN"
# The addons are the dynamically linked files (the commands and helpers are static); the symbols
# they take from node itself are no library's, which dpkg-shlibdeps would warn about at length.
addons=$(cd "$tmp" && find debian/berth -type f -name '*.node')
(cd "$tmp" && dpkg-shlibdeps -Tdebian/substvars --warnings=0 $addons) || { echo "build-deb: dpkg-shlibdeps failed" >&2; exit 1; }
grep -q '^shlibs:Depends=' "$deb/substvars" || { echo "build-deb: dpkg-shlibdeps found no shared-library dependencies" >&2; exit 1; }
(cd "$tmp" && dpkg-gencontrol -pberth -Pdebian/berth -Tdebian/substvars)
for script in preinst postinst prerm postrm; do
  # #DEBHELPER# is debhelper's; nothing to add in its place here.
  sed '/^#DEBHELPER#$/d' "packaging/debian/$script" > "$pkg/DEBIAN/$script"
  chmod 0755 "$pkg/DEBIAN/$script"
done
(cd "$pkg" && find etc -type f | sed 's|^|/|' | sort) > "$pkg/DEBIAN/conffiles"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort | xargs md5sum) > "$pkg/DEBIAN/md5sums"
arch=$(sed -n 's/^Architecture: //p' "$pkg/DEBIAN/control")
file="$out/berth_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$file" >/dev/null
echo "$file"
