# Shared shell helpers for the set-up scripts (sourced, not run).
#
# No `cmd | grep -q` (or `| head`) under pipefail anywhere in these scripts: grep -q exits at
# its first match, the writer dies of SIGPIPE and pipefail turns the match into a failure.
# Outputs are captured into variables first and then searched.

# as_root CMD...: run CMD as root (directly, or through password-less sudo); fails otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@";
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@";
    else return 1; fi
}

# apt_candidate PKG: print the version apt would install, or nothing when it has none.
apt_candidate() {
    local policy
    policy=$(apt-cache policy "$1" 2>/dev/null || true)
    awk '/Candidate:/ && $2 != "(none)" {print $2; exit}' <<<"$policy"
}

# apt_install_from_distribution PKG...: install the distribution's packages (apt-get update
# first when apt knows no candidate for the first one). Never downloads from anywhere else.
apt_install_from_distribution() {
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ -z "$(apt_candidate "$1")" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || return 1
    fi
    [ -n "$(apt_candidate "$1")" ] || return 1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}
